/**
 * In-memory chain facts for the unit tests of the broker and the executor: the same
 * shapes TaskMarketChain reads from the real contracts (the Devnet flow test uses those).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex, LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { Verdict, NodeStatus } from "../../offchain/core/protocol.js";
import { MAX_UINT256 } from "../../offchain/core/sortition.js";
import { derivePublicKey, pointToArray } from "../../offchain/core/vrf/index.js";
import { EmbeddedStore } from "../../ipfs/adapter/embedded.js";
import type { ExecutorChainView, NodeFacts, ResultSubmission, SubmittedTx, TaskRecord, TaskSpec, VerdictFacts } from "../../offchain/task/types.js";

export const CHAIN_ID = 31337;
export const MARKET = "0x00000000000000000000000000000000000000aa" as const;
export const DOMAIN = { chainId: CHAIN_ID, taskMarket: MARKET };

export interface TestNode {
  nodeId: bigint;
  account: LocalAccount;
  vrfSecret: Uint8Array;
  facts: NodeFacts;
}

export function makeNode(nodeId: bigint, over: Partial<NodeFacts> = {}): TestNode {
  const account = privateKeyToAccount(generatePrivateKey());
  const vrfSecret = secp256k1.utils.randomSecretKey();
  const key = pointToArray(derivePublicKey(vrfSecret));
  return { nodeId, account, vrfSecret, facts: { gateway: account.address, status: NodeStatus.Trusted, tier: 1, vrfPublicKey: [key[0], key[1]], ...over } };
}

export const SEED = new Uint8Array(32).fill(7);

export class MemoryChain implements ExecutorChainView {
  readonly chainId = CHAIN_ID;
  readonly address = MARKET;
  readonly tasks = new Map<bigint, TaskRecord>();
  readonly nodes = new Map<bigint, NodeFacts>();
  readonly verdicts = new Map<bigint, VerdictFacts>();
  readonly submitted: ResultSubmission[] = [];

  addTask(taskId: bigint, spec: TaskSpec, over: Partial<TaskRecord> = {}): TaskRecord {
    const t: TaskRecord = { taskId, creator: "0x00000000000000000000000000000000000000c1", spec, seedEpoch: 3n, createdAt: 1_000n, threshold: MAX_UINT256, status: 1, ...over };
    this.tasks.set(taskId, t);
    return t;
  }

  addNode(n: TestNode, verdict: VerdictFacts | null = { verdict: Verdict.Trusted, recordedAt: 1_005n, voided: false }): void {
    this.nodes.set(n.nodeId, n.facts);
    if (verdict) this.verdicts.set(n.nodeId, verdict);
  }

  async task(taskId: bigint) {
    return this.tasks.get(taskId) ?? null;
  }
  async epochSeed() {
    return SEED;
  }
  async node(nodeId: bigint) {
    return this.nodes.get(nodeId) ?? null;
  }
  async latestVerdict(nodeId: bigint) {
    return this.verdicts.get(nodeId) ?? null;
  }
  async submitResult(r: ResultSubmission): Promise<SubmittedTx> {
    this.submitted.push(r);
    return { txHash: `0x${"ab".repeat(32)}`, blockHash: `0x${"cd".repeat(32)}` };
  }
}

export async function tempStore(): Promise<{ store: EmbeddedStore; dir: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "task-test-"));
  const store = await EmbeddedStore.open({ directory: join(dir, "ipfs") });
  return { store, dir, close: async () => { await store.close(); await rm(dir, { recursive: true, force: true }); } };
}

export function specFor(partial: Partial<TaskSpec> = {}): TaskSpec {
  return {
    functionCid: "0x01551220" + "00".repeat(32) as Hex,
    inputCids: [],
    inputCommitments: [],
    taskKey: `0x${"11".repeat(32)}`,
    recipientKeys: [`0x${"22".repeat(32)}`],
    timeLimitMs: 2000,
    memoryLimitMb: 32,
    minTier: 1,
    payment: 10n,
    deadline: 2_000n,
    ...partial,
  };
}
