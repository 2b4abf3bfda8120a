/**
 * ABIs and creation bytecode of the TrustMesh contracts, read from Hardhat's artifacts/
 * (run `npx hardhat compile` first). JSON imports keep this usable in the browser bundle
 * (no node: imports); the literal ABI types come from the .d.ts files hardhat-viem writes
 * next to each artifact, so viem infers function names, arguments and results.
 */
import type { Hex } from "viem";
import TrustTokenJson from "../../artifacts/contracts/token/TrustToken.sol/TrustToken.json" with { type: "json" };
import NodeRegistryJson from "../../artifacts/contracts/NodeRegistry.sol/NodeRegistry.json" with { type: "json" };
import EpochClockJson from "../../artifacts/contracts/EpochClock.sol/EpochClock.json" with { type: "json" };
import ReputationJson from "../../artifacts/contracts/Reputation.sol/Reputation.json" with { type: "json" };
import ScoringPolicyJson from "../../artifacts/contracts/ScoringPolicy.sol/ScoringPolicy.json" with { type: "json" };
import ImageRegistryJson from "../../artifacts/contracts/ImageRegistry.sol/ImageRegistry.json" with { type: "json" };
import TrustBoardJson from "../../artifacts/contracts/TrustBoard.sol/TrustBoard.json" with { type: "json" };
import DisputesJson from "../../artifacts/contracts/Disputes.sol/Disputes.json" with { type: "json" };
import TaskMarketJson from "../../artifacts/contracts/TaskMarket.sol/TaskMarket.json" with { type: "json" };
import TimelockJson from "../../artifacts/contracts/governance/TrustMeshTimelock.sol/TrustMeshTimelock.json" with { type: "json" };
import type { TrustToken$Type } from "../../artifacts/contracts/token/TrustToken.sol/TrustToken.js";
import type { NodeRegistry$Type } from "../../artifacts/contracts/NodeRegistry.sol/NodeRegistry.js";
import type { EpochClock$Type } from "../../artifacts/contracts/EpochClock.sol/EpochClock.js";
import type { Reputation$Type } from "../../artifacts/contracts/Reputation.sol/Reputation.js";
import type { ScoringPolicy$Type } from "../../artifacts/contracts/ScoringPolicy.sol/ScoringPolicy.js";
import type { ImageRegistry$Type } from "../../artifacts/contracts/ImageRegistry.sol/ImageRegistry.js";
import type { TrustBoard$Type } from "../../artifacts/contracts/TrustBoard.sol/TrustBoard.js";
import type { Disputes$Type } from "../../artifacts/contracts/Disputes.sol/Disputes.js";
import type { TaskMarket$Type } from "../../artifacts/contracts/TaskMarket.sol/TaskMarket.js";
import type { TrustMeshTimelock$Type } from "../../artifacts/contracts/governance/TrustMeshTimelock.sol/TrustMeshTimelock.js";

/** A contract's ABI (literally typed) and creation bytecode. */
export interface ContractArtifact<A> {
  contractName: string;
  abi: A;
  bytecode: Hex;
}

// JSON imports widen string literals; the generated .d.ts holds the same ABI literally.
function typed<T extends { abi: readonly unknown[] }>(json: { contractName: string; abi: unknown[]; bytecode: string }) {
  return { contractName: json.contractName, abi: json.abi as unknown as T["abi"], bytecode: json.bytecode as Hex };
}

export const trustTokenArtifact = typed<TrustToken$Type>(TrustTokenJson);
export const nodeRegistryArtifact = typed<NodeRegistry$Type>(NodeRegistryJson);
export const epochClockArtifact = typed<EpochClock$Type>(EpochClockJson);
export const reputationArtifact = typed<Reputation$Type>(ReputationJson);
export const scoringPolicyArtifact = typed<ScoringPolicy$Type>(ScoringPolicyJson);
export const imageRegistryArtifact = typed<ImageRegistry$Type>(ImageRegistryJson);
export const trustBoardArtifact = typed<TrustBoard$Type>(TrustBoardJson);
export const disputesArtifact = typed<Disputes$Type>(DisputesJson);
export const taskMarketArtifact = typed<TaskMarket$Type>(TaskMarketJson);
export const timelockArtifact = typed<TrustMeshTimelock$Type>(TimelockJson);

export const trustTokenAbi = trustTokenArtifact.abi;
export const nodeRegistryAbi = nodeRegistryArtifact.abi;
export const epochClockAbi = epochClockArtifact.abi;
export const reputationAbi = reputationArtifact.abi;
export const scoringPolicyAbi = scoringPolicyArtifact.abi;
export const imageRegistryAbi = imageRegistryArtifact.abi;
export const trustBoardAbi = trustBoardArtifact.abi;
export const disputesAbi = disputesArtifact.abi;
export const taskMarketAbi = taskMarketArtifact.abi;
export const timelockAbi = timelockArtifact.abi;
