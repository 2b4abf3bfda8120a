/**
 * The gateway's view of the chain: typed reads with short-lived caches, the writes a
 * gateway makes (certificates, disputes), and a log follower that survives RPC restarts
 * (it polls from the last block it processed and backs off on errors).
 */
import {
  createPublicClient,
  createWalletClient,
  decodeEventLog,
  hexToBytes,
  http,
  toEventSelector,
  type Abi,
  type Account,
  type Address,
  type Hex,
  type Log,
  type PublicClient,
  type WalletClient,
  type Chain,
  type Transport,
} from "viem";
import { TrustmeshError } from "../core/errors.js";
import { postRunBootNonce } from "../core/boot-nonce.js";
import { TASK_SUBMITTED } from "../task/types.js";
import { latestSubmission } from "../task/chain.js";
import { chainFor, withGasHeadroom } from "../chain/client.js";
import {
  disputesAbi,
  epochClockAbi,
  imageRegistryAbi,
  nodeRegistryAbi,
  reputationAbi,
  scoringPolicyAbi,
  taskMarketAbi,
  trustBoardAbi,
} from "../chain/artifacts.js";
import type { DeploymentFile } from "../chain/deployment-file.js";
import type { Vote } from "../chain/eip712.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { rememberBounded } from "../core/bounded-map.js";

/**
 * How old a cached node record the round's checks accept. Every registry event naming a
 * node evicts its record when the follower sees it (dispatch), so the cache lags the chain
 * by the follower's delay whatever the bound; the bound only limits how long a record can
 * outlive an event the follower missed. With 1-2 s bounds each devnet gateway re-read every
 * node's record once a second: 4 getNode calls per verdict at 10 rounds/s.
 */
export const NODE_RECORD_MAX_AGE_MS = 10_000;

/** The same bound for the approved-image list (ImageRegistry events drop it; see approvedImages). */
export const APPROVED_IMAGES_MAX_AGE_MS = 10_000;

export class GatewayChainError extends TrustmeshError {
  override name = "GatewayChainError";
}

export interface EpochInfo {
  epoch: bigint;
  seed: Uint8Array;
  /** Epoch start, chain time in seconds. */
  start: bigint;
  threshold: bigint;
}

export interface ScoringContext {
  reputation: bigint;
  /** Oldest first, at most the last 32 verdicts. */
  history: ("trusted" | "untrusted")[];
  /** The block the values were read at: the one that opened the round's epoch. */
  atBlock: bigint;
}

export interface NodeInfo {
  nodeId: bigint;
  operator: Address;
  gateway: Address;
  status: number;
  tier: number;
  until: bigint;
  stake: bigint;
  vrfPublicKey: readonly [bigint, bigint];
  identityDigest: Hex;
}

export interface ChainEvent {
  address: Address;
  eventName: string;
  args: Record<string, unknown>;
  blockNumber: bigint;
  transactionHash: Hex;
}

/** A certificate write that waited longer than this in the queue checks the board again first. */
const QUEUED_WRITE_RECHECK_MS = 250;

/** The ABI of each followed contract, by its key in GatewayChain.addresses. */
const FOLLOWED_ABIS = {
  registry: nodeRegistryAbi as Abi,
  epochs: epochClockAbi as Abi,
  board: trustBoardAbi as Abi,
  policy: scoringPolicyAbi as Abi,
  images: imageRegistryAbi as Abi,
  disputes: disputesAbi as Abi,
  reputation: reputationAbi as Abi,
} as const;

/**
 * A contract's events by selector (topics[0]), each as a one-item ABI. viem's
 * decodeEventLog finds the event by hashing the signature of every event in the ABI it is
 * given, and throws when none matches; trying the contracts' ABIs in turn on every log cost
 * dozens of hashes and several exceptions per log, for every log of every gateway.
 */
function eventsBySelector(abi: Abi): Map<Hex, Abi> {
  const events = new Map<Hex, Abi>();
  for (const item of abi) if (item.type === "event" && !item.anonymous) events.set(toEventSelector(item), [item]);
  return events;
}

const FOLLOWED_EVENTS = Object.fromEntries(Object.entries(FOLLOWED_ABIS).map(([k, abi]) => [k, eventsBySelector(abi)])) as Record<keyof typeof FOLLOWED_ABIS, Map<Hex, Abi>>;

function required<T>(v: T | undefined, name: string): T {
  if (v === undefined) throw new GatewayChainError("DEPLOYMENT_INCOMPLETE", `the deployment file has no ${name} address`);
  return v;
}

export class GatewayChain {
  readonly publicClient: PublicClient;
  readonly walletClient: WalletClient<Transport, Chain, Account>;
  readonly addresses: {
    registry: Address;
    epochs: Address;
    board: Address;
    policy: Address;
    images: Address;
    disputes: Address;
    reputation: Address;
    /** Absent in deployments without the task market: task rounds are then refused. */
    taskMarket?: Address;
  };
  private readonly epochCache = new Map<bigint, EpochInfo>();
  private readonly nodeCache = new Map<bigint, { at: number; node: NodeInfo }>();
  /** Evictions per node so far: a read started before an eviction is not cached (see node). */
  private readonly nodeGenerations = new Map<bigint, number>();
  private readonly nodeReads = new Map<bigint, { generation: number; read: Promise<NodeInfo> }>();
  private readonly policyCache = new Map<bigint, Hex>();
  private approvedImagesCache: { at: number; list: Promise<Hex[]> } | undefined;
  private followTimer: NodeJS.Timeout | undefined;
  private lastBlock: bigint;
  private readonly listeners = new Set<(e: ChainEvent) => void>();
  private writes: Promise<void> = Promise.resolve();

  constructor(
    rpcUrl: string,
    readonly chainId: number,
    deployment: DeploymentFile,
    account: Account,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly pollingIntervalMs = 500,
  ) {
    const chain = chainFor(chainId, rpcUrl);
    const transport = http(rpcUrl, { retryCount: 2, timeout: 10_000 });
    this.publicClient = createPublicClient({ chain, transport, pollingInterval: pollingIntervalMs }) as PublicClient;
    this.walletClient = createWalletClient({ chain, transport, account });
    const c = deployment.contracts;
    this.addresses = {
      registry: c.NodeRegistry,
      epochs: required(c.EpochClock, "EpochClock"),
      board: c.TrustBoard,
      policy: c.ScoringPolicy,
      images: required(c.ImageRegistry, "ImageRegistry"),
      disputes: required(c.Disputes, "Disputes"),
      reputation: c.Reputation,
      ...(c.TaskMarket ? { taskMarket: c.TaskMarket } : {}),
    };
    this.lastBlock = BigInt(deployment.startBlock) - 1n;
    this.startBlock = BigInt(deployment.startBlock);
    this.followed = new Map(
      (Object.keys(FOLLOWED_EVENTS) as (keyof typeof FOLLOWED_EVENTS)[]).map((contract) => [this.addresses[contract].toLowerCase(), { contract, events: FOLLOWED_EVENTS[contract] }]),
    );
  }

  /** Each followed contract, by its address (lower case): which one it is, and its events by selector. */
  private readonly followed: Map<string, { contract: keyof typeof FOLLOWED_EVENTS; events: Map<Hex, Abi> }>;

  private readonly startBlock: bigint;
  private readonly epochBlocks = new Map<bigint, Promise<bigint | null>>();
  private readonly scoringContexts = new Map<string, Promise<ScoringContext>>();

  /** The block that opened an epoch (its EpochOpened event), or null before it is open. */
  private epochOpenedAt(epoch: bigint): Promise<bigint | null> {
    let hit = this.epochBlocks.get(epoch);
    if (!hit) {
      hit = this.publicClient
        .getContractEvents({ address: this.addresses.epochs, abi: epochClockAbi, eventName: "EpochOpened", args: { epoch }, fromBlock: this.startBlock })
        .then((logs) => logs[0]?.blockNumber ?? null);
      // Only a found block is final; a miss (epoch not open yet, RPC error) is asked again.
      hit.then((b) => (b === null ? this.epochBlocks.delete(epoch) : undefined)).catch(() => this.epochBlocks.delete(epoch));
      rememberBounded(this.epochBlocks, epoch, hit, 256);
    }
    return hit;
  }

  /**
   * A node's reputation at a block. The first epochs open while the deployment is still
   * going on, before the Reputation contract exists; every score starts at 0 there, so
   * that is what a block before its deployment reads as.
   */
  private async reputationAt(nodeId: bigint, blockNumber: bigint): Promise<bigint> {
    const code = await this.publicClient.getCode({ address: this.addresses.reputation, blockNumber });
    if (code === undefined || code === "0x") return 0n;
    return BigInt(await this.publicClient.readContract({ address: this.addresses.reputation, abi: reputationAbi, functionName: "score", args: [nodeId], blockNumber }));
  }

  /**
   * The target's reputation and verdict history as the chain held them when the round's
   * epoch opened. Every verifier of a round must score the same input, or their votes
   * differ and the round fails; the latest state (or each gateway's own event log) differs
   * between verifiers by whatever landed in between, a fixed block does not.
   */
  scoringContext(nodeId: bigint, epoch: bigint): Promise<ScoringContext> {
    const key = `${nodeId}:${epoch}`;
    let hit = this.scoringContexts.get(key);
    if (!hit) {
      hit = (async (): Promise<ScoringContext> => {
        const at = await this.epochOpenedAt(epoch);
        if (at === null) throw new GatewayChainError("EPOCH_NOT_OPEN", `epoch ${epoch} has no EpochOpened event yet`);
        const [reputation, logs] = await Promise.all([
          this.reputationAt(nodeId, at),
          this.publicClient.getContractEvents({ address: this.addresses.board, abi: trustBoardAbi, eventName: "VerdictRecorded", args: { node: nodeId }, fromBlock: this.startBlock, toBlock: at }),
        ]);
        const history = logs.slice(-32).map((l) => (Number((l.args as { verdict?: number }).verdict) === 1 ? "trusted" : "untrusted") as "trusted" | "untrusted");
        return { reputation: BigInt(reputation), history, atBlock: at };
      })();
      hit.catch(() => this.scoringContexts.delete(key));
      rememberBounded(this.scoringContexts, key, hit, 1024);
    }
    return hit;
  }

  get account(): Address {
    return this.walletClient.account.address;
  }

  async currentEpoch(): Promise<bigint> {
    return BigInt(await this.publicClient.readContract({ address: this.addresses.epochs, abi: epochClockAbi, functionName: "currentEpoch" }));
  }

  /** Epoch data never changes once the epoch is open, so it is cached for good. */
  async epoch(epoch: bigint): Promise<EpochInfo> {
    const hit = this.epochCache.get(epoch);
    if (hit) return hit;
    const address = this.addresses.epochs;
    const [seed, threshold, start] = await Promise.all([
      this.publicClient.readContract({ address, abi: epochClockAbi, functionName: "epochSeed", args: [epoch] }),
      this.publicClient.readContract({ address, abi: epochClockAbi, functionName: "epochThreshold", args: [epoch] }),
      this.publicClient.readContract({ address, abi: epochClockAbi, functionName: "epochStart", args: [epoch] }),
    ]);
    const info: EpochInfo = { epoch, seed: hexToBytes(seed), threshold: BigInt(threshold), start: BigInt(start) };
    if (info.start > 0n) this.epochCache.set(epoch, info);
    return info;
  }

  /**
   * A node's record, from the cache when the copy there is younger than `maxAgeMs` (see
   * NODE_RECORD_MAX_AGE_MS). Callers that accept a cached copy share a read already in
   * flight. A read that an eviction overtook (its event arrived while the read was out)
   * answers its callers but is not cached: it may predate the event.
   */
  async node(nodeId: bigint, maxAgeMs = 1000): Promise<NodeInfo> {
    const hit = this.nodeCache.get(nodeId);
    if (hit && Date.now() - hit.at < maxAgeMs) return hit.node;
    const generation = this.nodeGenerations.get(nodeId) ?? 0;
    const inFlight = this.nodeReads.get(nodeId);
    if (maxAgeMs > 0 && inFlight && inFlight.generation === generation) return inFlight.read;
    const startedAt = Date.now();
    const read = this.readNode(nodeId).then((node) => {
      if ((this.nodeGenerations.get(nodeId) ?? 0) === generation) this.nodeCache.set(nodeId, { at: startedAt, node });
      return node;
    });
    this.nodeReads.set(nodeId, { generation, read });
    const forget = () => {
      if (this.nodeReads.get(nodeId)?.read === read) this.nodeReads.delete(nodeId);
    };
    read.then(forget, forget);
    return read;
  }

  private async readNode(nodeId: bigint): Promise<NodeInfo> {
    const n = await this.publicClient.readContract({ address: this.addresses.registry, abi: nodeRegistryAbi, functionName: "getNode", args: [nodeId] });
    return {
      nodeId,
      operator: n.operator,
      gateway: n.gateway,
      status: Number(n.status),
      tier: Number(n.tier),
      until: BigInt(n.until),
      stake: n.stake,
      vrfPublicKey: [n.vrfPublicKey[0], n.vrfPublicKey[1]],
      identityDigest: n.identityDigest,
    };
  }

  /** Drops the cached record, and keeps any read already out from being cached. */
  forgetNode(nodeId: bigint): void {
    this.nodeCache.delete(nodeId);
    this.nodeGenerations.set(nodeId, (this.nodeGenerations.get(nodeId) ?? 0) + 1);
  }

  private nodeCountCache: { at: number; count: bigint } | undefined;

  /** Nodes ever registered; a cached count younger than `maxAgeMs` serves (a registration evicts it). */
  async nodeCount(maxAgeMs = 0): Promise<bigint> {
    if (this.nodeCountCache !== undefined && Date.now() - this.nodeCountCache.at < maxAgeMs) return this.nodeCountCache.count;
    const count = BigInt(await this.publicClient.readContract({ address: this.addresses.registry, abi: nodeRegistryAbi, functionName: "nodeCount" }));
    this.nodeCountCache = { at: Date.now(), count };
    return count;
  }

  async nodeIdOf(gateway: Address): Promise<bigint> {
    return BigInt(await this.publicClient.readContract({ address: this.addresses.registry, abi: nodeRegistryAbi, functionName: "nodeOfGateway", args: [gateway] }));
  }

  async isEligibleVerifier(gateway: Address): Promise<boolean> {
    return this.publicClient.readContract({ address: this.addresses.registry, abi: nodeRegistryAbi, functionName: "isEligibleVerifier", args: [gateway] });
  }

  private eligibleCache: { at: number; count: bigint } | undefined;

  /**
   * Would TrustBoard count this node's signature? Trusted; or Registered while fewer
   * verifiers than the quorum are eligible (the registry's bootstrap rule).
   */
  async canSign(node: NodeInfo, quorum: number): Promise<boolean> {
    if (node.status === 2 /* Trusted */) return true;
    if (node.status !== 1 /* Registered */) return false;
    return this.bootstrapOpen(quorum);
  }

  /** The registry's bootstrap rule is in force: fewer verifiers than the quorum are eligible. */
  async bootstrapOpen(quorum: number): Promise<boolean> {
    if (!this.eligibleCache || Date.now() - this.eligibleCache.at > 2_000) {
      const count = await this.publicClient.readContract({ address: this.addresses.registry, abi: nodeRegistryAbi, functionName: "eligibleVerifierCount" });
      this.eligibleCache = { at: Date.now(), count: BigInt(count) };
    }
    return this.eligibleCache.count < BigInt(quorum);
  }

  /**
   * A task's status and executor (TaskMarket.getTask), or null when there is no task
   * market or no such task. Task rounds are served only while the task needs them.
   */
  async taskState(taskId: bigint): Promise<{ status: number; executor: bigint; submittedAt: bigint } | null> {
    const address = this.addresses.taskMarket;
    if (!address) return null;
    const t = await this.publicClient.readContract({ address, abi: taskMarketAbi, functionName: "getTask", args: [taskId] });
    const status = Number(t.status);
    return status === 0 ? null : { status, executor: BigInt(t.executor), submittedAt: BigInt(t.submittedAt) };
  }

  /**
   * The boot nonce a post-run round of `node` for this task must show (core/boot-nonce.ts):
   * derived from the block of the node's latest ResultSubmitted for the task. Null when the
   * task is not awaiting that node's post-run attestation (no market, not Submitted, another
   * executor, or no submission event).
   */
  async postRunBootNonce(taskId: bigint, node: bigint): Promise<Uint8Array | null> {
    const address = this.addresses.taskMarket;
    const state = await this.taskState(taskId);
    if (!address || !state || state.status !== TASK_SUBMITTED || state.executor !== node) return null;
    const submitted = await latestSubmission(this.publicClient, address, { taskId, node, fromBlock: this.startBlock });
    return submitted && postRunBootNonce({ chainId: this.chainId, taskMarket: address, taskId, submitBlockHash: submitted.blockHash });
  }

  /** How many epochs back TrustBoard still records a round's certificate (its maxRoundAge). */
  async maxRoundAge(): Promise<bigint> {
    const [, , maxRoundAge] = await this.publicClient.readContract({ address: this.addresses.board, abi: trustBoardAbi, functionName: "params" });
    return BigInt(maxRoundAge);
  }

  /** The scoring-policy CID in force for an epoch (fixed once the epoch is open). */
  async policyCid(epoch: bigint): Promise<Hex> {
    const hit = this.policyCache.get(epoch);
    if (hit) return hit;
    const cid = await this.publicClient.readContract({ address: this.addresses.policy, abi: scoringPolicyAbi, functionName: "activeCid", args: [epoch] });
    if ((await this.currentEpoch()) >= epoch) this.policyCache.set(epoch, cid);
    return cid;
  }

  /**
   * The approved image digests, from a copy at most `maxAgeMs` old. The copy is event
   * coherent like the node records: every ImageRegistry event the follower sees drops it.
   * Concurrent callers share one read (imageCount, then imageAt and isApproved per image).
   */
  approvedImages(maxAgeMs = APPROVED_IMAGES_MAX_AGE_MS): Promise<Hex[]> {
    const hit = this.approvedImagesCache;
    if (hit && Date.now() - hit.at < maxAgeMs) return hit.list;
    const entry = { at: Date.now(), list: this.readApprovedImages() };
    this.approvedImagesCache = entry;
    entry.list.catch(() => {
      if (this.approvedImagesCache === entry) this.approvedImagesCache = undefined;
    });
    return entry.list;
  }

  private async readApprovedImages(): Promise<Hex[]> {
    const count = await this.publicClient.readContract({ address: this.addresses.images, abi: imageRegistryAbi, functionName: "imageCount" });
    const out: Hex[] = [];
    for (let i = 0n; i < count; i++) {
      const digest = await this.publicClient.readContract({ address: this.addresses.images, abi: imageRegistryAbi, functionName: "imageAt", args: [i] });
      if (await this.publicClient.readContract({ address: this.addresses.images, abi: imageRegistryAbi, functionName: "isApproved", args: [digest] })) {
        out.push(digest);
      }
    }
    return out;
  }

  async isRecorded(round: bigint): Promise<boolean> {
    const rec = await this.publicClient.readContract({ address: this.addresses.board, abi: trustBoardAbi, functionName: "verdict", args: [round] });
    return Number(rec.verdict) !== 0;
  }

  /**
   * Submits a certificate; resolves to null, without sending anything, when by the time the
   * write's turn comes the round is recorded (`recordedMeanwhile`, the follower's word, or,
   * after a wait in this gateway's write queue, a read of the board). A backup submitter's
   * write often waits behind the gateway's own rounds' transactions, and by its turn another
   * member's certificate is usually on chain: the gas estimate would only revert, after
   * the nonce and fee reads, at the cost of an EVM run of the whole certificate check.
   */
  async submitCertificate(vote: Vote, signatures: Hex[], vrfOutputs: Hex[], recordedMeanwhile?: () => boolean): Promise<Hex | null> {
    const queuedAt = Date.now();
    return this.serially(async () => {
      if (recordedMeanwhile?.()) return null;
      if (Date.now() - queuedAt > QUEUED_WRITE_RECHECK_MS && (await this.isRecorded(vote.round))) return null;
      // No separate simulation: the gas estimate runs the call anyway, and a revert there
      // comes back decoded against the ABI (TrustBoard's custom error) just the same. On the
      // round's critical path, that is one EVM run of four signature recoveries saved.
      const hash = await this.walletClient.writeContract({
        address: this.addresses.board,
        abi: trustBoardAbi,
        functionName: "submitCertificate",
        args: [vote, signatures, vrfOutputs],
      } as Parameters<WalletClient<Transport, Chain, Account>["writeContract"]>[0]);
      return this.mined(hash, "certificate");
    });
  }

  async disputeEquivocation(a: Vote, sigA: Hex, b: Vote, sigB: Hex, opening: { signers: Address[]; vrfOutputs: Hex[] }): Promise<Hex> {
    return this.serially(async () => {
      const { request } = await this.publicClient.simulateContract({
        account: this.walletClient.account,
        address: this.addresses.disputes,
        abi: disputesAbi,
        functionName: "disputeEquivocation",
        args: [a, sigA, b, sigB, opening],
      });
      return this.sendDispute(request);
    });
  }

  async disputeVrfFraud(
    claim: { round: bigint; role: number; proof: Hex },
    signature: Hex,
    helpers: { uPoint: readonly [bigint, bigint]; vComponents: readonly [bigint, bigint, bigint, bigint] },
    opening: { signers: Address[]; vrfOutputs: Hex[] },
  ): Promise<Hex> {
    return this.serially(async () => {
      const { request } = await this.publicClient.simulateContract({
        account: this.walletClient.account,
        address: this.addresses.disputes,
        abi: disputesAbi,
        functionName: "disputeVrfFraud",
        args: [claim, signature, helpers, opening],
      });
      return this.sendDispute(request);
    });
  }

  /** Opens the next epoch (anyone may, once it is due); see Gateway.armEpochOpener. */
  async openEpoch(gas: bigint): Promise<Hex> {
    return this.serially(async () => {
      // Not simulated: a call is judged at the latest block's timestamp, which on a quiet
      // dev chain lags the wall clock; mined, the transaction gets the current time.
      return this.mined(await this.walletClient.writeContract({ address: this.addresses.epochs, abi: epochClockAbi, functionName: "openEpoch", gas }), "openEpoch");
    });
  }

  /** A dispute's proof checks run inside try/catch with a starvation guard (Disputes.sol): see withGasHeadroom. */
  private async sendDispute(request: Parameters<WalletClient<Transport, Chain, Account>["writeContract"]>[0]): Promise<Hex> {
    const gas = await this.publicClient.estimateContractGas({ ...request, account: this.walletClient.account } as Parameters<PublicClient["estimateContractGas"]>[0]);
    const hash = await this.walletClient.writeContract({ ...request, gas: withGasHeadroom(gas) } as Parameters<WalletClient<Transport, Chain, Account>["writeContract"]>[0]);
    return this.mined(hash, "dispute");
  }

  /** Waits for the receipt: a transaction mined as a revert is an error, never a success its caller counts. */
  private async mined(hash: Hex, what: string): Promise<Hex> {
    // A chain that mines on send (hardhat's automine) has the receipt already: ask once
    // before polling, which cost up to a polling interval on every round.
    const receipt =
      (await this.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)) ??
      (await this.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 }));
    if (receipt.status !== "success") throw new GatewayChainError("TX_REVERTED", `${what} transaction ${hash} was mined but reverted`);
    return hash;
  }

  /**
   * This gateway's transactions one at a time: each takes its nonce from the chain when it
   * is sent, so two in flight at once (two rounds ending together, an epoch to open) would
   * take the same one and the second would be refused.
   */
  private serially<T>(write: () => Promise<T>): Promise<T> {
    const run = this.writes.then(write, write);
    this.writes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Subscribe to every decoded event of the system's contracts. */
  onEvent(listener: (e: ChainEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts polling logs from the deployment's start block (or `fromBlock`). */
  follow(fromBlock?: bigint): void {
    if (fromBlock !== undefined) this.lastBlock = fromBlock - 1n;
    let backoff = this.pollingIntervalMs;
    const tick = async (): Promise<void> => {
      try {
        const head = await this.publicClient.getBlockNumber({ cacheTime: 0 });
        if (head > this.lastBlock) {
          const to = head - this.lastBlock > 2000n ? this.lastBlock + 2000n : head;
          const logs = await this.publicClient.getLogs({
            address: Object.values(this.addresses),
            fromBlock: this.lastBlock + 1n,
            toBlock: to,
          });
          for (const l of logs) this.dispatch(l);
          this.lastBlock = to;
        }
        backoff = this.pollingIntervalMs;
      } catch (e) {
        this.metrics.inc("chain_rpc_errors");
        backoff = Math.min(backoff * 2, 10_000);
        this.log.warn({ err: e, retryInMs: backoff }, "chain RPC failed; retrying");
      }
      if (this.followTimer !== undefined) this.followTimer = setTimeout(() => void tick(), backoff);
    };
    this.followTimer = setTimeout(() => void tick(), 0);
  }

  stopFollowing(): void {
    if (this.followTimer) clearTimeout(this.followTimer);
    this.followTimer = undefined;
  }

  private dispatch(l: Log): void {
    const followed = this.followed.get(l.address.toLowerCase());
    const abi = followed?.events.get(l.topics[0] ?? "0x");
    // A log of a contract this gateway does not follow (the task market's), or of an event
    // its ABI lacks: nothing listens for it.
    if (!followed || !abi) return;
    let decoded: { eventName?: string; args?: unknown };
    try {
      decoded = decodeEventLog({ abi, data: l.data, topics: l.topics });
    } catch (e) {
      this.log.warn({ err: e, address: l.address, tx: l.transactionHash }, "undecodable chain event skipped");
      return;
    }
    const event: ChainEvent = {
      address: l.address,
      eventName: decoded.eventName ?? "",
      args: (decoded.args ?? {}) as Record<string, unknown>,
      blockNumber: l.blockNumber ?? 0n,
      transactionHash: l.transactionHash ?? "0x",
    };
    if (followed.contract === "registry" && typeof event.args.nodeId === "bigint") {
      // Every registry event that names a node may have changed its record (status,
      // stake, gateway or VRF key): the cached copy goes. That keeps the cache coherent
      // with the chain up to the follower's lag, so readers can afford long age bounds.
      this.forgetNode(event.args.nodeId);
      // The eligible count moves with statuses: the bootstrap rule must see it at once.
      this.eligibleCache = undefined;
    }
    if (event.eventName === "NodeRegistered") this.nodeCountCache = undefined;
    if (followed.contract === "images") this.approvedImagesCache = undefined;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (e) {
        this.log.error({ err: e, event: event.eventName }, "chain event listener failed");
      }
    }
  }
}
