/**
 * Ignition module: the whole system with a fresh TrustToken (local and test chains), and
 * the ECVRF verifier from contracts/vrf when that source is present (else the
 * `vrfVerifier` parameter, zero = VRF disputes disabled until governance sets one).
 *
 *   npx hardhat ignition deploy deploy/ignition/modules/TrustMesh.ts --network localhost
 *   TRUSTMESH_RPC_URL=... TRUSTMESH_DEPLOYER_KEY=... npx hardhat ignition deploy deploy/ignition/modules/TrustMesh.ts --network remote
 *
 * Parameters (all optional): see deploy/params.ts, e.g. --parameters '{"TrustMesh":{"quorum":5}}'.
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { buildTrustMesh, vrfVerifierSourcePresent } from "../../buildTrustMesh";

export const trustMeshModule = buildModule("TrustMesh", (m) =>
  buildTrustMesh(m, { deployToken: true, deployVerifier: vrfVerifierSourcePresent() }),
);
export default trustMeshModule;
