/**
 * Ignition module for chains with an existing stake token (ERC-20 with EIP-2612 permit):
 * parameter `token` (required) and `vrfVerifier` (an already deployed ECVRF verifier).
 *
 *   npx hardhat ignition deploy deploy/ignition/modules/TrustMeshExistingToken.ts --network remote \
 *     --parameters '{"TrustMeshExistingToken":{"token":"0x…","vrfVerifier":"0x…"}}'
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { buildTrustMesh } from "../../buildTrustMesh";

export const trustMeshExistingTokenModule = buildModule("TrustMeshExistingToken", (m) =>
  buildTrustMesh(m, { deployToken: false, deployVerifier: false }),
);
export default trustMeshExistingTokenModule;
