/**
 * TaskMarket and the reads the task flow needs, over viem. One instance per party (a
 * creator's wallet, a gateway's key, or read-only). Task specs live in the TaskCreated /
 * TaskInputs events; they are read once per task, checked against the stored specHash
 * (TaskMarket.hashSpec) and cached, since a spec never changes.
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  createWalletClient,
  http,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { chainFor, withGasHeadroom } from "../chain/client.js";
import { epochClockAbi, nodeRegistryAbi, taskMarketAbi, trustBoardAbi, trustTokenAbi } from "../chain/artifacts.js";
import { permitTypedData, permitVrs } from "../chain/permit.js";
import { hexToBytes } from "../core/vrf/index.js";
import { decodeRoundId, parseTaskRoundSequence } from "../core/protocol.js";
import { TaskError } from "./errors.js";
import { TASK_SUBMITTED, type ExecutorChainView, type NodeFacts, type ResultSubmission, type SubmittedTx, type TaskRecord, type TaskSpec, type VerdictFacts } from "./types.js";

export interface TaskMarketAddresses {
  TaskMarket: Address;
  NodeRegistry: Address;
  EpochClock: Address;
  TrustBoard: Address;
  TrustToken: Address;
}

export interface TaskMarketChainOptions {
  publicClient: PublicClient;
  rpcUrl: string;
  chainId: number;
  contracts: TaskMarketAddresses;
  /** First block to search for task events (the deployment's start block). */
  fromBlock: bigint;
  /** The key that sends transactions (creator, executor gateway, settler); none = read-only. */
  account?: LocalAccount;
}

export interface SubmittedResult {
  node: bigint;
  resultCid: Hex;
  resultCommitment: Hex;
  vrfOutput: Hex;
}

/** The round that settles a task: its executor's post-run task round, as TaskMarket.settle checks it. */
export interface PostRunRound {
  round: bigint;
  /** 1 Trusted (the operator is paid), 2 Untrusted (slash and refund). */
  verdict: number;
  recordedAt: bigint;
}

/** settle() found no round that TaskMarket.settle would accept (yet): see docs/task-protocol.md section 7. */
export class NoPostRunRoundError extends TaskError {
  override name = "NoPostRunRoundError";
  constructor(
    readonly taskId: bigint,
    readonly executor: bigint,
  ) {
    super("TASK_CHAIN", `task ${taskId} has no settle-able post-run round of its executor (node ${executor})`, {
      metaMessages: ["Only a post-run task round of the executor for this task, recorded after the result and not voided, settles it; scheduled rounds do not."],
    });
  }
}

/**
 * Whether `round` is `node`'s post-run task round for `taskId` (attempt 0..3): the only kind
 * TaskMarket.settle accepts, because only its verifiers judged the scratch cleanup.
 */
export function isPostRunRoundOf(round: bigint, taskId: bigint, node: bigint): boolean {
  if (round < 0n || round >> 192n !== 0n) return false;
  const parts = decodeRoundId(round);
  const task = parseTaskRoundSequence(parts.sequence);
  return parts.node === node && task !== null && task.phase === "post-run" && task.taskId === taskId;
}

/**
 * Where `node`'s latest result for the task was recorded (its last ResultSubmitted), or
 * null when it submitted none. The post-run round is judged from it: settle's search
 * starts at its block, and the post-run boot nonce derives from its block hash.
 */
export async function latestSubmission(
  client: PublicClient,
  taskMarket: Address,
  q: { taskId: bigint; node: bigint; fromBlock: bigint },
): Promise<{ blockNumber: bigint; blockHash: Hex } | null> {
  const logs = await client.getContractEvents({ address: taskMarket, abi: taskMarketAbi, eventName: "ResultSubmitted", args: { taskId: q.taskId, node: q.node }, fromBlock: q.fromBlock, strict: true });
  const last = logs.at(-1);
  return last?.blockNumber != null && last.blockHash != null ? { blockNumber: last.blockNumber, blockHash: last.blockHash } : null;
}

const FLAG_VOIDED = 1;

export class TaskMarketChain implements ExecutorChainView {
  private readonly specs = new Map<bigint, Promise<TaskSpec>>();
  private readonly seeds = new Map<bigint, Uint8Array>();

  constructor(readonly o: TaskMarketChainOptions) {}

  get address(): Address {
    return this.o.contracts.TaskMarket;
  }

  get chainId(): number {
    return this.o.chainId;
  }

  async nextTaskId(): Promise<bigint> {
    return this.read(this.address, taskMarketAbi, "nextTaskId", []);
  }

  async task(taskId: bigint): Promise<TaskRecord | null> {
    const t = await this.read(this.address, taskMarketAbi, "getTask", [taskId]);
    if (Number(t.status) === 0) return null;
    const spec = await this.spec(taskId, t.specHash);
    return { taskId, creator: t.creator, spec, seedEpoch: BigInt(t.seedEpoch), createdAt: BigInt(t.createdAt), threshold: t.threshold, status: Number(t.status) };
  }

  async epochSeed(epoch: bigint): Promise<Uint8Array> {
    const hit = this.seeds.get(epoch);
    if (hit) return hit;
    const seed = hexToBytes(await this.read(this.o.contracts.EpochClock, epochClockAbi, "epochSeed", [epoch]));
    this.seeds.set(epoch, seed);
    return seed;
  }

  async node(nodeId: bigint, atTimestamp: bigint): Promise<NodeFacts | null> {
    const r = this.o.contracts.NodeRegistry;
    const n = await this.read(r, nodeRegistryAbi, "getNode", [nodeId]);
    if (Number(n.status) === 0) return null;
    const key = await this.read(r, nodeRegistryAbi, "vrfPublicKeyAt", [nodeId, atTimestamp]);
    return { gateway: n.gateway, status: Number(n.status), tier: Number(n.tier), vrfPublicKey: [key[0], key[1]] };
  }

  async latestVerdict(nodeId: bigint): Promise<VerdictFacts | null> {
    const b = this.o.contracts.TrustBoard;
    const [count, lastRound] = await this.read(b, trustBoardAbi, "nodeHistory", [nodeId]);
    if (count === 0n) return null;
    const v = await this.read(b, trustBoardAbi, "verdict", [lastRound]);
    return { verdict: Number(v.verdict), recordedAt: BigInt(v.recordedAt), voided: (Number(v.flags) & FLAG_VOIDED) !== 0 };
  }

  /** The settlement-relevant part of a stored task: status, current executor, its history snapshot and the result's block time. */
  async resultState(taskId: bigint): Promise<{ status: number; executor: bigint; historyCount: bigint; submittedAt: bigint }> {
    const t = await this.read(this.address, taskMarketAbi, "getTask", [taskId]);
    return { status: Number(t.status), executor: BigInt(t.executor), historyCount: BigInt(t.historyCount), submittedAt: BigInt(t.submittedAt) };
  }

  /** True once a round exists that settles the task (see {@link postRunRound}). */
  async hasPostRunVerdict(taskId: bigint): Promise<boolean> {
    return (await this.postRunRound(taskId)) !== null;
  }

  /**
   * The round TaskMarket.settle would accept for the task's current result, or null: among
   * the executor's VerdictRecorded events since its result's block, the latest post-run
   * task round of this task that is not voided and was recorded at or after the result.
   * The board cannot list a node's rounds, so the events are the index.
   */
  async postRunRound(taskId: bigint): Promise<PostRunRound | null> {
    const s = await this.resultState(taskId);
    if (s.executor === 0n) return null;
    const submitted = await latestSubmission(this.o.publicClient, this.address, { taskId, node: s.executor, fromBlock: this.o.fromBlock });
    if (!submitted) return null;
    const fromBlock = submitted.blockNumber;
    const board = this.o.contracts.TrustBoard;
    const recorded = await this.o.publicClient.getContractEvents({ address: board, abi: trustBoardAbi, eventName: "VerdictRecorded", args: { node: s.executor }, fromBlock, strict: true });
    for (const log of [...recorded].reverse()) {
      const round = log.args.round;
      if (!isPostRunRoundOf(round, taskId, s.executor)) continue;
      const v = await this.read(board, trustBoardAbi, "verdict", [round]);
      const recordedAt = BigInt(v.recordedAt);
      if ((Number(v.flags) & FLAG_VOIDED) !== 0 || recordedAt < s.submittedAt) continue;
      return { round, verdict: Number(v.verdict), recordedAt };
    }
    return null;
  }

  /** TrustBoard history count of a node (grows with every verdict). */
  async historyCount(nodeId: bigint): Promise<bigint> {
    const [count] = await this.read(this.o.contracts.TrustBoard, trustBoardAbi, "nodeHistory", [nodeId]);
    return BigInt(count);
  }

  /** Creates a task, paying by EIP-2612 permit (one transaction). Returns the task id. */
  async createTask(spec: TaskSpec): Promise<{ taskId: bigint; txHash: Hex }> {
    const account = this.requireAccount();
    const token = this.o.contracts.TrustToken;
    const [domain, nonce, block] = await Promise.all([
      this.read(token, trustTokenAbi, "eip712Domain", []),
      this.read(token, trustTokenAbi, "nonces", [account.address]),
      this.o.publicClient.getBlock(),
    ]);
    const permitDeadline = block.timestamp + 3600n;
    const signature = await account.signTypedData(permitTypedData({ domain, owner: account.address, spender: this.address, value: spec.payment, nonce, deadline: permitDeadline }));
    const { v, r, s } = permitVrs(signature);
    const { result, txHash } = await this.write("createTaskWithPermit", [toChainSpec(spec), permitDeadline, v, r, s]);
    return { taskId: result as bigint, txHash };
  }

  async submitResult(x: ResultSubmission): Promise<SubmittedTx> {
    const { txHash, blockHash } = await this.write("submitResult", [x.taskId, x.nodeId, [...x.proof], [...x.uPoint], [...x.vComponents], x.resultCid, x.resultCommitment]);
    return { txHash, blockHash };
  }

  /**
   * Settles the task on its executor's post-run task round, found by {@link postRunRound}.
   * Throws NoPostRunRoundError when there is none yet (a scheduled verdict never settles).
   */
  async settle(taskId: bigint): Promise<Hex> {
    const s = await this.resultState(taskId);
    if (s.status !== TASK_SUBMITTED) throw new TaskError("TASK_CHAIN", `task ${taskId} cannot be settled: its status is ${s.status}, not Submitted (${TASK_SUBMITTED})`);
    const found = await this.postRunRound(taskId);
    if (!found) throw new NoPostRunRoundError(taskId, s.executor);
    return (await this.write("settle", [taskId, found.round])).txHash;
  }

  async refund(taskId: bigint): Promise<Hex> {
    return (await this.write("refund", [taskId])).txHash;
  }

  /** The result the chain currently holds for a task (latest ResultSubmitted), or null. */
  async result(taskId: bigint): Promise<SubmittedResult | null> {
    const logs = await this.o.publicClient.getContractEvents({ address: this.address, abi: taskMarketAbi, eventName: "ResultSubmitted", args: { taskId }, fromBlock: this.o.fromBlock, strict: true });
    const last = logs.at(-1);
    if (!last) return null;
    const a = last.args;
    return { node: BigInt(a.node), resultCid: a.resultCid, resultCommitment: a.resultCommitment, vrfOutput: a.vrfOutput };
  }

  async escrowed(): Promise<bigint> {
    return this.read(this.address, taskMarketAbi, "escrowed", []);
  }

  async balanceOf(who: Address): Promise<bigint> {
    return this.read(this.o.contracts.TrustToken, trustTokenAbi, "balanceOf", [who]);
  }

  /** Calls `onTask` for every TaskCreated from now on; returns the unsubscribe function. */
  watchTasks(onTask: (taskId: bigint) => void, pollingInterval = 200): () => void {
    return this.o.publicClient.watchContractEvent({
      address: this.address,
      abi: taskMarketAbi,
      eventName: "TaskCreated",
      pollingInterval,
      onLogs: (logs) => {
        for (const l of logs) if (l.args.taskId !== undefined) onTask(l.args.taskId);
      },
    });
  }

  private spec(taskId: bigint, specHash: Hex): Promise<TaskSpec> {
    let p = this.specs.get(taskId);
    if (!p) {
      p = this.readSpec(taskId, specHash);
      p.catch(() => this.specs.delete(taskId));
      this.specs.set(taskId, p);
    }
    return p;
  }

  private async readSpec(taskId: bigint, specHash: Hex): Promise<TaskSpec> {
    const q = { address: this.address, abi: taskMarketAbi, args: { taskId }, fromBlock: this.o.fromBlock, strict: true } as const;
    const [created, inputs] = await Promise.all([
      this.o.publicClient.getContractEvents({ ...q, eventName: "TaskCreated" }),
      this.o.publicClient.getContractEvents({ ...q, eventName: "TaskInputs" }),
    ]);
    const c = created.at(-1)?.args;
    const i = inputs.at(-1)?.args;
    if (!c || !i) throw new TaskError("TASK_CHAIN", `the creation events of task ${taskId} were not found`);
    const spec: TaskSpec = {
      functionCid: c.functionCid,
      inputCids: [...i.inputCids],
      inputCommitments: [...i.inputCommitments],
      taskKey: c.taskKey,
      recipientKeys: [...i.recipientKeys],
      timeLimitMs: Number(c.timeLimitMs),
      memoryLimitMb: Number(c.memoryLimitMb),
      minTier: Number(c.minTier),
      payment: c.payment,
      deadline: BigInt(c.deadline),
    };
    const hash = await this.read(this.address, taskMarketAbi, "hashSpec", [toChainSpec(spec)]);
    if (hash !== specHash) throw new TaskError("TASK_CHAIN", `the events of task ${taskId} do not match its specHash`);
    return spec;
  }

  private requireAccount(): LocalAccount {
    if (!this.o.account) throw new TaskError("TASK_CHAIN", "this TaskMarket client has no account to send transactions");
    return this.o.account;
  }

  // viem's inference over the full artifact ABIs is exact but heavy; these two helpers keep
  // the call sites small and turn reverts into TaskError with the custom error's name.
  private async read<R = any>(address: Address, abi: unknown, functionName: string, args: readonly unknown[]): Promise<R> {
    try {
      return (await this.o.publicClient.readContract({ address, abi: abi as never, functionName, args } as never)) as R;
    } catch (cause) {
      throw new TaskError("TASK_CHAIN", `reading ${functionName} failed: ${revertName(cause)}`, { cause });
    }
  }

  private async write(functionName: string, args: readonly unknown[]): Promise<{ result: unknown; txHash: Hex; blockHash: Hex }> {
    const account = this.requireAccount();
    try {
      const { request, result } = await this.o.publicClient.simulateContract({ account, address: this.address, abi: taskMarketAbi as never, functionName, args } as never);
      // settle slashes inside try/catch (a failed slash still refunds): see withGasHeadroom.
      // Without it, settle ran out of gas once in CI while gateways were recording verdicts.
      const gas = await this.o.publicClient.estimateContractGas({ account, address: this.address, abi: taskMarketAbi as never, functionName, args } as never);
      const wallet = createWalletClient({ chain: chainFor(this.o.chainId, this.o.rpcUrl), transport: http(this.o.rpcUrl), account });
      const txHash = await wallet.writeContract({ ...(request as object), gas: withGasHeadroom(gas) } as never);
      const receipt = await this.o.publicClient.waitForTransactionReceipt({ hash: txHash, pollingInterval: 50 });
      if (receipt.status !== "success") throw new TaskError("TASK_CHAIN", `${functionName} reverted (tx ${txHash})`);
      return { result, txHash, blockHash: receipt.blockHash };
    } catch (cause) {
      if (cause instanceof TaskError) throw cause;
      throw new TaskError("TASK_CHAIN", `${functionName} failed: ${revertName(cause)}`, { cause });
    }
  }
}

/** The custom error's name (TaskMarketDeadlinePassed, ...) or viem's short message. */
export function revertName(e: unknown): string {
  if (e instanceof BaseError) {
    const revert = e.walk((x) => x instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError && revert.data?.errorName) return revert.data.errorName;
    return e.shortMessage;
  }
  return e instanceof Error ? e.message : String(e);
}

function toChainSpec(s: TaskSpec) {
  return {
    functionCid: s.functionCid,
    inputCids: s.inputCids,
    inputCommitments: s.inputCommitments,
    taskKey: s.taskKey,
    recipientKeys: s.recipientKeys,
    timeLimitMs: s.timeLimitMs,
    memoryLimitMb: s.memoryLimitMb,
    minTier: s.minTier,
    payment: s.payment,
    deadline: s.deadline,
  };
}
