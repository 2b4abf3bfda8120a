/**
 * The task as the chain holds it (docs/task-protocol.md section 1), and the narrow chain
 * views each party needs. The viem implementation is chain.ts; tests and the broker's
 * rules depend only on these shapes.
 */
import type { Address, Hex } from "viem";

/** ITaskMarket.TaskStatus values the off-chain flow branches on. */
export const TASK_OPEN = 1;
export const TASK_SUBMITTED = 2;
export const TASK_SETTLED = 3;

export interface TaskSpec {
  functionCid: Hex;
  inputCids: Hex[];
  inputCommitments: Hex[];
  taskKey: Hex;
  recipientKeys: Hex[];
  timeLimitMs: number;
  memoryLimitMb: number;
  minTier: number;
  payment: bigint;
  deadline: bigint;
}

export interface TaskRecord {
  taskId: bigint;
  creator: Address;
  spec: TaskSpec;
  /** EpochClock epoch whose seed the executor's VRF input uses. */
  seedEpoch: bigint;
  /** Block time of creation (seconds): fresh verdicts are recorded at or after it. */
  createdAt: bigint;
  /** Executor threshold fixed at creation (Task.threshold). */
  threshold: bigint;
  /** TaskMarket status (ITaskMarket.TaskStatus: 1 Open, 2 Submitted, 3 Settled, 4 Failed, 5 Refunded). */
  status: number;
}

export interface NodeFacts {
  gateway: Address;
  status: number;
  tier: number;
  /** NodeRegistry.vrfPublicKeyAt(node, task.createdAt). */
  vrfPublicKey: readonly [bigint, bigint];
}

export interface VerdictFacts {
  verdict: number;
  /** Block time (seconds) TrustBoard recorded it. */
  recordedAt: bigint;
  voided: boolean;
}

/** What the key broker reads from the chain. */
export interface BrokerChainView {
  task(taskId: bigint): Promise<TaskRecord | null>;
  epochSeed(epoch: bigint): Promise<Uint8Array>;
  node(nodeId: bigint, atTimestamp: bigint): Promise<NodeFacts | null>;
  /** The node's most recent TrustBoard verdict, or null when it has none. */
  latestVerdict(nodeId: bigint): Promise<VerdictFacts | null>;
}

export interface ResultSubmission {
  taskId: bigint;
  nodeId: bigint;
  proof: readonly [bigint, bigint, bigint, bigint];
  uPoint: readonly [bigint, bigint];
  vComponents: readonly [bigint, bigint, bigint, bigint];
  resultCid: Hex;
  resultCommitment: Hex;
}

/** A mined submission: the post-run boot nonce derives from its block (core/boot-nonce.ts). */
export interface SubmittedTx {
  txHash: Hex;
  blockHash: Hex;
}

/** What an executor reads and writes. */
export interface ExecutorChainView extends BrokerChainView {
  /** The chain's id and the TaskMarket's address: the post-run boot nonce names them. */
  readonly chainId: number;
  readonly address: Address;
  submitResult(r: ResultSubmission): Promise<SubmittedTx>;
}
