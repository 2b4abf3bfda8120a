/**
 * Task attestation rounds, on demand (ARCHITECTURE: the executor is attested before and
 * after the run). The scheduled rounds come at VRF-drawn times, seconds apart; a task
 * should not wait for them. The executor's gateway publishes a signed request on the task
 * topic whose round id names the task and the phase (offchain/core/protocol.ts,
 * taskRoundSequence) and whose envelope timestamp is the round's start. Every gateway that
 * accepts it runs the round exactly as a scheduled one: VRF sortition on the round id,
 * reveal, evidence, scoring, PBFT, certificate. A post-run round also judges the cleanup
 * (offchain/relayer/assess.ts, cleanupFindings).
 *
 * A request is served only while the task needs it (pre-run: the task is Open, asked by the
 * node itself; post-run: the task is Submitted with the round's node as its executor,
 * asked by the executor, or by any node once POST_RUN_REBOOT_GRACE_S has passed since the
 * submission), for the current epoch, with a
 * start close to the verifier's clock, at most MAX_TASK_ROUND_ATTEMPTS times per task and
 * phase (the attempt is part of the id), and once per id.
 */
import { decodeRoundId, encodeRoundId, NodeStatus, parseTaskRoundSequence, taskRoundSequence, type TaskRoundParts, type TaskRoundPhase } from "../core/protocol.js";
import type { ReceivedMessage, TrustmeshHost } from "../p2p/host.js";
import { MessageType } from "../p2p/topics.js";
import { NODE_RECORD_MAX_AGE_MS, type EpochInfo, type GatewayChain } from "./chain-context.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { decodeRoundPayload, encodeRoundPayload } from "./round-messages.js";
import { TASK_OPEN, TASK_SUBMITTED } from "../task/types.js";

/** How often this node's status is checked for its task topic membership. */
const TOPIC_CHECK_MS = 1_000;
/** How far a request's start may be from this gateway's clock. */
export const TASK_ROUND_SKEW_MS = 2_000;
/**
 * How long after a submission only the executor may ask for its post-run round. The
 * executor reboots its HPC first (docs/task-protocol.md 5.1); a round asked for by someone
 * else before the reboot would find no fresh boot and slash an honest executor. A PXE boot
 * of real hardware takes a minute or two; after this, anyone may ask, so an executor that
 * never asks still cannot dodge the round.
 */
export const POST_RUN_REBOOT_GRACE_S = 180;

export interface TaskRoundFacts {
  /** The envelope's round id, sender and timestamp (ms). */
  round: bigint;
  sender: bigint;
  startMs: number;
  self: bigint;
  nowMs: number;
  currentEpoch: bigint;
  /** The task as the chain holds it now (submittedAt: block time of the result, s), null when unknown. */
  task: { status: number; executor: bigint; submittedAt: bigint } | null;
}

export type TaskRoundJudgement = { ok: true; parts: TaskRoundParts; epoch: bigint } | { ok: false; reason: string };

/** Whether a task round request is to be served. Pure: the caller reads the chain. */
export function judgeTaskRoundRequest(f: TaskRoundFacts): TaskRoundJudgement {
  let id;
  try {
    id = decodeRoundId(f.round);
  } catch {
    return { ok: false, reason: "malformed round id" };
  }
  const parts = parseTaskRoundSequence(id.sequence);
  if (!parts) return { ok: false, reason: "not a task round" };
  // A pre-run round helps only its node (it unlocks the task key), so only that node asks.
  // A post-run round may be asked for by anyone: it settles the task, and an executor that
  // left its scratch dirty must not escape its slash by never asking.
  if (parts.phase === "pre-run" && id.node !== f.sender) return { ok: false, reason: "a node may only ask for pre-run rounds of itself" };
  if (id.node === f.self) return { ok: false, reason: "own round" };
  if (id.epoch !== f.currentEpoch) return { ok: false, reason: `round of epoch ${id.epoch}, current is ${f.currentEpoch}` };
  if (Math.abs(f.startMs - f.nowMs) > TASK_ROUND_SKEW_MS) return { ok: false, reason: `start ${f.startMs - f.nowMs} ms away from this clock` };
  if (!f.task) return { ok: false, reason: `no task ${parts.taskId}` };
  if (parts.phase === "pre-run" && f.task.status !== TASK_OPEN) return { ok: false, reason: `task ${parts.taskId} is not open` };
  if (parts.phase === "post-run" && (f.task.status !== TASK_SUBMITTED || f.task.executor !== id.node)) {
    return { ok: false, reason: `task ${parts.taskId} has no result of node ${id.node} awaiting its post-run attestation` };
  }
  if (parts.phase === "post-run" && f.sender !== id.node) {
    const openToAllMs = Number(f.task.submittedAt + BigInt(POST_RUN_REBOOT_GRACE_S)) * 1000;
    if (f.nowMs < openToAllMs) return { ok: false, reason: `only the executor may ask for its post-run round until ${Math.ceil((openToAllMs - f.nowMs) / 1000)} s from now (its HPC reboots first)` };
  }
  return { ok: true, parts, epoch: id.epoch };
}

export interface TaskRoundServiceOptions {
  nodeId: bigint;
  host: TrustmeshHost;
  chain: GatewayChain;
  log: Logger;
  metrics: Metrics;
  /** Runs an accepted round from this gateway's seat (the verifier role). */
  run: (round: bigint, startMs: number, epoch: EpochInfo) => void;
  /** False while the gateway does not attest (deferred start, stopping). */
  attesting: () => boolean;
}

export class TaskRoundService {
  private readonly seen = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly o: TaskRoundServiceOptions) {}

  /**
   * The task topic is for Trusted nodes only: peers evict a node of narrower scope that
   * sits on it (offchain/p2p/host.ts enforceScope). So this node joins it while it is
   * Trusted and leaves as soon as it is not, checked every second (well inside the grace
   * peers give a node whose status fell).
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = async (): Promise<void> => {
      await this.sync().catch((e: unknown) => this.o.log.debug({ err: e }, "task topic membership not checked"));
      if (this.running) this.timer = setTimeout(() => void tick(), TOPIC_CHECK_MS);
    };
    void tick();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private async sync(): Promise<void> {
    // The record is event coherent (a StatusChanged evicts it), so a status change reaches
    // this check within the follower's lag; re-reading it every second cost each gateway a
    // getNode call per second.
    const trusted = (await this.o.chain.node(this.o.nodeId, NODE_RECORD_MAX_AGE_MS)).status === NodeStatus.Trusted;
    if (!this.running) return;
    if (trusted && !this.unsubscribe) {
      this.unsubscribe = this.o.host.subscribe("task", (m) => void this.onRequest(m));
    } else if (!trusted && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  /**
   * Asks the network for a task round now (of this node, or for a post-run round of any
   * executor); returns its id. The caller watches the chain for the verdict and asks again
   * with the next attempt if none comes.
   */
  async request(taskId: bigint, phase: TaskRoundPhase, attempt = 0, node = this.o.nodeId): Promise<bigint> {
    const epoch = await this.o.chain.currentEpoch();
    const round = encodeRoundId({ epoch, node, sequence: taskRoundSequence({ taskId, phase, attempt }) });
    await this.o.host.publish({ type: MessageType.TaskAnnounce, round, payload: encodeRoundPayload({ kind: "task-round", target: node.toString() }) });
    this.o.metrics.inc("task_rounds_requested");
    this.o.log.info({ round: round.toString(), taskId: taskId.toString(), phase, attempt }, "task attestation round requested");
    return round;
  }

  private async onRequest(m: ReceivedMessage): Promise<void> {
    const env = m.envelope;
    if (env.type !== MessageType.TaskAnnounce || !this.o.attesting()) return;
    const key = env.round.toString();
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.seen.size > 4096) this.seen.delete(this.seen.values().next().value as string);
    const log = this.o.log.child({ round: key, from: env.sender.toString() });
    try {
      const payload = decodeRoundPayload(env.payload);
      const id = decodeRoundId(env.round);
      if (payload.kind !== "task-round" || payload.target !== id.node.toString()) throw new Error("not a task-round payload for the round's node");
      const parts = parseTaskRoundSequence(id.sequence);
      const [currentEpoch, task] = await Promise.all([this.o.chain.currentEpoch(), parts ? this.o.chain.taskState(parts.taskId) : Promise.resolve(null)]);
      const judged = judgeTaskRoundRequest({ round: env.round, sender: env.sender, startMs: Number(env.timestamp), self: this.o.nodeId, nowMs: Date.now(), currentEpoch, task });
      if (!judged.ok) {
        this.o.metrics.inc("task_rounds_refused");
        log.info({ reason: judged.reason }, "task round request refused");
        return;
      }
      this.o.metrics.inc("task_rounds_served");
      this.o.run(env.round, Number(env.timestamp), await this.o.chain.epoch(judged.epoch));
    } catch (e) {
      // One bad request costs its sender nothing here and this gateway nothing either.
      this.o.metrics.inc("task_rounds_refused");
      log.warn({ err: e }, "task round request not served");
    }
  }
}
