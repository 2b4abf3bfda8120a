/**
 * Deployment knobs shared by the Ignition modules (deploy/ignition/modules/) and the viem-only
 * deployer (offchain/chain/deploy.ts), so both wire the same system from the same values.
 * No imports: this file is loaded both by Hardhat (CommonJS) and by ESM code.
 */

/** All values in token base units, seconds, epochs or basis points as named. */
export interface TrustMeshParams {
  /** Existing stake token; when absent a TrustToken is deployed and `mintTo` funded. */
  token?: `0x${string}`;
  tokenName: string;
  tokenSymbol: string;
  minStake: bigint;
  unbondingDelay: bigint;
  epochDuration: bigint;
  expectedCommitteeSize: bigint;
  /** EIP-712 binary CID of the initial scoring function (hex). */
  initialPolicyCid: `0x${string}`;
  maxScore: bigint;
  trustedGain: bigint;
  untrustedLossBps: number;
  quorum: number;
  challengeWindow: bigint;
  maxRoundAge: bigint;
  slashBps: number;
  rewardBps: number;
  banPeriod: bigint;
  disputeWindowEpochs: bigint;
  /** TimelockController delay (seconds) for governance (policy upgrades, parameters). */
  timelockDelay: bigint;
  /** ECVRF verifier; zero address = deploy contracts/vrf/VRFVerifier.sol. */
  vrfVerifier: `0x${string}`;
}

export const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000" as const;

/** CIDv1 raw sha256 of the bytes "trustmesh-default-policy" (placeholder until ipfs/ publishes one). */
export const DEFAULT_POLICY_CID =
  "0x01551220e2402f816de8be3b7b638f3198410faa1b5bc8cfeaeddd2ca9e0f0f82ebe7e5c" as const;

export const DEFAULT_PARAMS: TrustMeshParams = {
  tokenName: "TrustMesh Stake",
  tokenSymbol: "TRUST",
  minStake: 100n * 10n ** 18n,
  unbondingDelay: 14n * 24n * 3600n,
  epochDuration: 3600n,
  expectedCommitteeSize: 7n,
  initialPolicyCid: DEFAULT_POLICY_CID,
  maxScore: 1_000_000n,
  trustedGain: 10_000n,
  untrustedLossBps: 5_000,
  quorum: 5,
  challengeWindow: 24n * 3600n,
  maxRoundAge: 2n,
  slashBps: 5_000,
  rewardBps: 2_000,
  banPeriod: 30n * 24n * 3600n,
  disputeWindowEpochs: 24n * 7n,
  timelockDelay: 2n * 24n * 3600n,
  vrfVerifier: ZERO_ADDRESS,
};
