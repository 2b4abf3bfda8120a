/**
 * The executor side of a task (docs/task-protocol.md sections 3-6), for one node: on a
 * new task, decide candidacy (standing + private VRF draw), wait for the pre-run Trusted
 * verdict, claim the task key for the HPC's fresh ephemeral key, fetch the function and the
 * sealed inputs (CIDs checked), have the HPC run it (inputs opened and commitments checked
 * there, the task's limits, result sealed to the recipients, scratch wiped), pin the
 * result and submit it with the VRF proof. `execute` never throws: every failure is an outcome with a
 * typed TaskError and one log line, so a daemon survives any task.
 *
 * Where it runs: on a TaskHost (hpc-host.ts): the node's HPC over the agent bridge, which
 * makes the ephemeral key, opens the grant and inputs, runs the sandbox, seals the result
 * and wipes its scratch area. The gateway side holds only public and sealed material.
 */
import type { Hex, LocalAccount } from "viem";
import { keyToHex } from "../core/capsule/keys.js";
import { isTrustmeshError } from "../core/errors.js";
import { postRunBootNonce } from "../core/boot-nonce.js";
import { MAX_TASK_ROUND_ATTEMPTS, Verdict, type TaskRoundPhase } from "../core/protocol.js";
import { bytesToHex, computeFastVerifyParams, proofToArray } from "../core/vrf/index.js";
import type { ScratchState, TaskRunRequest } from "../attest/bridge/messages.js";
import type { ContentStore } from "../../ipfs/adapter/content-store.js";
import { cidToHex, hexToCid } from "../../ipfs/adapter/cid.js";
import type { KeyGrant } from "./broker.js";
import { loadFunction } from "./bundle.js";
import { signKeyClaim, type ClaimDomain, type KeyClaim } from "./claim.js";
import { ClaimRejectedError, TaskError } from "./errors.js";
import { drawExecutorTicket, executorAlpha, standingProblem } from "./selection.js";
import { TASK_OPEN, type ExecutorChainView, type TaskRecord } from "./types.js";

export { INPUT_ROLE, RESULT_ROLE } from "../core/capsule/roles.js";
/**
 * Result capsules may be large (a list of names); the sandbox's 1 MiB default is too tight,
 * and the result travels back in one bridge frame (1 MiB, with base64 and sealing around it).
 */
export const MAX_RESULT_BYTES = 640 * 1024;

export interface ScratchReport {
  before: ScratchState;
  after: ScratchState;
}

/**
 * Where a task runs: the executor's HPC, over the agent bridge in a daemon (hpc-host.ts),
 * or the same agent code in process (tests). The executor hands it only public or sealed
 * material and gets back a sealed result: the plaintext exists only inside the host.
 */
export interface TaskHost {
  /** A fresh ephemeral X25519 public key for the key claim; its private half stays in the host. */
  prepare(taskId: bigint): Promise<Uint8Array>;
  /** Opens the grant and inputs, runs, seals the result, wipes the scratch area. Throws TaskError. */
  run(req: TaskRunRequest): Promise<{ capsule: Uint8Array; commitment: Uint8Array; runMs: number; scratch: ScratchReport }>;
  /** Wipes the scratch area (after a failure), reporting before and after. */
  wipe(): Promise<ScratchReport>;
}

export interface ExecutorOptions {
  nodeId: bigint;
  vrfSecret: Uint8Array;
  /** The node's gateway key: signs claims and sends submitResult. */
  account: LocalAccount;
  domain: ClaimDomain;
  chain: ExecutorChainView;
  store: ContentStore;
  /** Hands a claim to the key broker; resolves with the grant or rejects (ClaimRejectedError). */
  claimKey: (claim: KeyClaim) => Promise<KeyGrant>;
  /** Where the function runs (the HPC over the bridge in a daemon). */
  host: TaskHost;
  /**
   * On-demand task attestation rounds (offchain/relayer/task-rounds.ts): asked for before
   * claiming the key and after submitting the result, so neither waits for the node's next
   * scheduled round. Without it the executor waits for scheduled rounds.
   */
  attestation?: {
    request: (taskId: bigint, phase: TaskRoundPhase, attempt: number) => Promise<unknown>;
    postRunRecorded: (taskId: bigint) => Promise<boolean>;
    /**
     * Power-cycles the HPC (the gateway's PXE boot) with this boot nonce, resolving once
     * the agent answers again. Called after the result is on chain and before the post-run
     * round, whose verifiers require PCR 11 to start with it (core/boot-nonce.ts).
     */
    rebootHpc: (bootNonce: Uint8Array) => Promise<void>;
    /** How long one attempt may take before the next is asked for (ms); default 6 s. */
    attemptMs?: number;
  };
  /** How long to wait for the pre-run Trusted verdict (ms); default 60 s. */
  freshVerdictTimeoutMs?: number;
  pollMs?: number;
  log?: (line: string, fields?: Record<string, unknown>) => void;
}

export type ExecutionOutcome =
  | { kind: "not-candidate"; reason: string }
  | { kind: "not-chosen"; reason: string }
  | { kind: "failed"; error: TaskError; scratch?: ScratchReport }
  | {
      kind: "submitted";
      resultCid: Hex;
      resultCommitment: Hex;
      txHash: Hex;
      vrfOutput: Hex;
      scratch: ScratchReport;
      timings: Record<string, number>;
    };

export class TaskExecutor {
  private stopped = false;

  constructor(private readonly o: ExecutorOptions) {}

  /** Ends the follow-up requests for task rounds (a stopping gateway). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Asks for this node's post-run round, and again under the next attempt id while no
   * post-run verdict is recorded, up to MAX_TASK_ROUND_ATTEMPTS. True once one is.
   */
  private async askPostRun(taskId: bigint, rounds: NonNullable<ExecutorOptions["attestation"]>): Promise<boolean> {
    const pollMs = this.o.pollMs ?? 250;
    const done = () => rounds.postRunRecorded(taskId).catch(() => false);
    for (let attempt = 0; attempt < MAX_TASK_ROUND_ATTEMPTS && !this.stopped; attempt++) {
      // Already there (another request's round landed): no round is asked for, none is wasted.
      if (await done()) return true;
      await rounds.request(taskId, "post-run", attempt).catch((e: unknown) => this.o.log?.("task round request failed", { taskId: taskId.toString(), phase: "post-run", attempt, err: String(e) }));
      const until = Date.now() + (rounds.attemptMs ?? 6_000);
      while (Date.now() < until && !this.stopped) {
        if (await done()) return true;
        await new Promise((r) => setTimeout(r, pollMs));
      }
    }
    return false;
  }

  async execute(taskId: bigint): Promise<ExecutionOutcome> {
    const log = this.o.log ?? (() => undefined);
    try {
      const out = await this.attempt(taskId);
      if (out.kind === "submitted") log("task result submitted", { taskId: taskId.toString(), node: this.o.nodeId.toString(), cid: out.resultCid });
      return out;
    } catch (e) {
      const error = e instanceof TaskError ? e : new TaskError("TASK_EXECUTOR", `task ${taskId} failed: ${isTrustmeshError(e) ? e.shortMessage : String((e as Error)?.message ?? e)}`, { cause: e });
      let scratch: ScratchReport | undefined;
      try {
        scratch = await this.o.host.wipe();
      } catch {
        // the failure being reported matters more than a second one in the cleanup
      }
      log("task failed", { taskId: taskId.toString(), node: this.o.nodeId.toString(), code: error.code, reason: (error as { reason?: string }).reason, message: error.shortMessage });
      return { kind: "failed", error, ...(scratch ? { scratch } : {}) };
    }
  }

  private async attempt(taskId: bigint): Promise<ExecutionOutcome> {
    const { chain, nodeId } = this.o;
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    const mark = (k: string) => (timings[k] = Math.round(performance.now() - t0));

    const task = await chain.task(taskId);
    if (!task) throw new TaskError("TASK_CHAIN", `task ${taskId} is not on chain`);
    const node = await chain.node(nodeId, task.createdAt);
    if (!node) return { kind: "not-candidate", reason: "node not registered" };
    const standing = standingProblem(node, task.spec.minTier);
    if (standing) return { kind: "not-candidate", reason: standing };
    const seed = await chain.epochSeed(task.seedEpoch);
    const ticket = drawExecutorTicket(this.o.vrfSecret, { seed, taskId, threshold: task.threshold });
    if (!ticket.selected || !ticket.proof) return { kind: "not-candidate", reason: "VRF output above the executor threshold" };
    mark("candidate");

    if (!(await this.waitFreshVerdict(task))) return { kind: "not-chosen", reason: "the task got a result while this node waited for its pre-run verdict" };
    mark("preRunVerdict");

    // The claim names the HPC's ephemeral key: the grant opens only on the HPC.
    const ephemeralKey = await this.o.host.prepare(taskId);
    const claim = await signKeyClaim(this.o.account, this.o.domain, { taskId, node: nodeId, proof: bytesToHex(ticket.proof) as Hex, ephemeralKey: keyToHex(ephemeralKey) });
    let grant: KeyGrant;
    try {
      grant = await this.o.claimKey(claim);
    } catch (e) {
      // A claim arriving after the release lost to an earlier, lower one just the same.
      if (e instanceof ClaimRejectedError && (e.reason === "not-chosen" || e.reason === "window-closed")) {
        return { kind: "not-chosen", reason: e.metaMessages[0] ?? e.reason };
      }
      throw new TaskError("TASK_NO_KEY", "the key broker released no task key", { cause: e, metaMessages: e instanceof ClaimRejectedError ? [`reason: ${e.reason}`] : [] });
    }
    mark("key");

    const fn = await loadFunction(this.o.store, hexToCid(task.spec.functionCid));
    const inputs = await Promise.all(
      task.spec.inputCids.map(async (cidHex, i) => {
        try {
          return { capsule: Buffer.from(await this.o.store.get(hexToCid(cidHex))).toString("base64"), commitment: task.spec.inputCommitments[i] ?? "" };
        } catch (cause) {
          throw new TaskError("TASK_FETCH", `cannot fetch input capsule ${i}`, { cause });
        }
      }),
    );
    mark("inputs");
    const ran = await this.o.host.run({
      taskId: taskId.toString(),
      taskKey: task.spec.taskKey,
      grant: Buffer.from(grant.sealedKey).toString("base64"),
      source: fn.source,
      entry: fn.entry,
      inputs,
      recipients: [...task.spec.recipientKeys],
      limits: { timeMs: task.spec.timeLimitMs, memoryBytes: task.spec.memoryLimitMb * 2 ** 20, maxOutputBytes: MAX_RESULT_BYTES },
      // Deterministic and the same for any executor: the chain's creation time.
      nowMs: Number(task.createdAt) * 1000,
    });
    mark("run");
    timings.sandboxRunMs = ran.runMs;
    const cid = await this.o.store.put(ran.capsule);
    await this.o.store.pin(cid);
    const result = { cid: cidToHex(cid), commitment: bytesToHex(ran.commitment) as Hex };
    const scratch = ran.scratch;
    mark("sealed");

    const key = node.vrfPublicKey;
    const help = computeFastVerifyParams([key[0], key[1]], ticket.proof, executorAlpha(seed, taskId));
    const { txHash, blockHash } = await chain.submitResult({
      taskId,
      nodeId,
      proof: proofToArray(ticket.proof),
      uPoint: help.uPoint,
      vComponents: help.vComponents,
      resultCid: result.cid,
      resultCommitment: result.commitment,
    });
    mark("submitted");
    // The post-run round: the verdict that settles the task, with the cleanup judged. It
    // needs a fresh boot first, with the nonce bound to the submission's block.
    if (this.o.attestation) void this.attestAfterRun(taskId, blockHash, this.o.attestation);
    return { kind: "submitted", resultCid: result.cid, resultCommitment: result.commitment, txHash, vrfOutput: bytesToHex(ticket.output) as Hex, scratch, timings };
  }

  /**
   * Reboots the HPC with the post-run boot nonce, then asks for the post-run round. A
   * reboot that fails asks for no round: without the fresh boot the verdict could only be
   * Untrusted, and the task is refunded after its deadline instead (after the reboot grace
   * any node may still ask: offchain/relayer/task-rounds.ts).
   */
  private async attestAfterRun(taskId: bigint, submitBlockHash: Hex, post: NonNullable<ExecutorOptions["attestation"]>): Promise<void> {
    const log = this.o.log ?? (() => undefined);
    const fields = { taskId: taskId.toString(), node: this.o.nodeId.toString() };
    try {
      const t0 = performance.now();
      await post.rebootHpc(postRunBootNonce({ chainId: this.o.chain.chainId, taskMarket: this.o.chain.address, taskId, submitBlockHash }));
      log("HPC rebooted for the post-run round", { ...fields, ms: Math.round(performance.now() - t0) });
    } catch (e) {
      log("HPC reboot after the task failed: no post-run round asked for", { ...fields, err: String((e as Error)?.message ?? e) });
      return;
    }
    if (this.stopped) return;
    const ok = await this.askPostRun(taskId, post);
    if (!ok && !this.stopped) log("no post-run verdict after every task round attempt: the task can only be refunded after its deadline", fields);
  }

  /**
   * Polls the node's latest TrustBoard verdict until a Trusted one recorded at/after
   * creation (true). False when the task stopped being Open meanwhile (another node won).
   * The same poll drives the pre-run task rounds: none is asked for when a fresh verdict
   * is already on record (a scheduled round landed first), and the next attempt is asked
   * for each time one attempt's time passes without one.
   */
  private async waitFreshVerdict(task: TaskRecord): Promise<boolean> {
    const deadline = Date.now() + (this.o.freshVerdictTimeoutMs ?? 60_000);
    const rounds = this.o.attestation;
    let attempt = 0;
    let nextRequestAt = Date.now();
    for (;;) {
      const v = await this.o.chain.latestVerdict(this.o.nodeId);
      if (v && !v.voided && v.verdict === Verdict.Trusted && v.recordedAt >= task.createdAt) return true;
      if (v && !v.voided && v.verdict === Verdict.Untrusted && v.recordedAt >= task.createdAt) {
        throw new TaskError("TASK_NO_KEY", "this node's pre-run attestation was Untrusted");
      }
      if (((await this.o.chain.task(task.taskId))?.status ?? TASK_OPEN) !== TASK_OPEN) return false;
      if (Date.now() > deadline) throw new TaskError("TASK_NO_KEY", "no fresh Trusted verdict on this node before the wait ran out");
      if (rounds && attempt < MAX_TASK_ROUND_ATTEMPTS && Date.now() >= nextRequestAt && !this.stopped) {
        const at = attempt++;
        nextRequestAt = Date.now() + (rounds.attemptMs ?? 6_000);
        void rounds.request(task.taskId, "pre-run", at).catch((e: unknown) => this.o.log?.("task round request failed", { taskId: task.taskId.toString(), phase: "pre-run", attempt: at, err: String(e) }));
      }
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 250));
    }
  }
}
