/**
 * Task execution on the HPC (docs/task-protocol.md section 5). The gateway relays only
 * public or sealed material; everything in the clear exists here, on the attested machine:
 *
 *   task-prepare: a fresh ephemeral X25519 key per task; the public half goes into the
 *                 gateway's key claim, the private half stays in this process, used once.
 *   task-run:     open the broker's grant with it (the task private key, checked against the
 *                 public key the chain names), open each input capsule (commitment checked
 *                 against the chain's), write the plaintext to the scratch area, run the
 *                 function in the sandbox with the task's limits, seal the result to the
 *                 recipients, wipe the scratch area. Returns the sealed result only.
 *
 * Counted for cleanup evidence: runs started and finished (a post-run quote reports them,
 * so a verifier sees whether anything of the task is still running).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScratchState, TaskProcessState, TaskRunRequest } from "../../offchain/attest/bridge/messages.js";
import { capsulePublicKey, generateCapsuleKeyPair, keyFromHex, keyToHex, type CapsuleKeyPair } from "../../offchain/core/capsule/keys.js";
import { openCapsule, sealCapsule } from "../../offchain/core/capsule/seal.js";
import type { SandboxResult, SandboxRunParameters } from "../../offchain/core/sandbox-types.js";
import { decodeJsonPayload, encodeJsonPayload } from "../../offchain/core/capsule/payload.js";
import { AgentError, TaskRunFailure } from "./errors.js";
import { INPUT_ROLE, RESULT_ROLE, TASK_KEY_ROLE } from "../../offchain/core/capsule/roles.js";
import { wipeScratch } from "./scratch.js";

export interface TaskRunnerOptions {
  scratchDir: string;
  /** The deterministic sandbox (a SandboxPool's run in a daemon). */
  sandbox: (p: SandboxRunParameters) => Promise<SandboxResult<unknown>>;
  /** How long an unused ephemeral key is kept (ms, default 10 min). */
  keyTtlMs?: number;
  /** Most ephemeral keys held at once (default 64): oldest dropped first. */
  maxKeys?: number;
  now?: () => number;
}

export interface TaskRunOutput {
  capsule: Uint8Array;
  commitment: Uint8Array;
  runMs: number;
  scratch: { before: ScratchState; after: ScratchState };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export class TaskRunner {
  private readonly keys = new Map<string, { pair: CapsuleKeyPair; at: number }>();
  private running = 0;
  private finished = 0;

  constructor(private readonly o: TaskRunnerOptions) {}

  /** A fresh ephemeral key for `taskId` (replacing any earlier one); returns its public half. */
  prepare(taskId: bigint): Uint8Array {
    const now = (this.o.now ?? Date.now)();
    for (const [id, k] of this.keys) {
      if (now - k.at > (this.o.keyTtlMs ?? 600_000)) this.forget(id);
    }
    while (this.keys.size >= (this.o.maxKeys ?? 64)) this.forget(this.keys.keys().next().value as string);
    this.forget(taskId.toString());
    const pair = generateCapsuleKeyPair();
    this.keys.set(taskId.toString(), { pair, at: now });
    return pair.publicKey;
  }

  state(): TaskProcessState {
    return { running: this.running, finished: this.finished };
  }

  /** Runs one task; throws AgentError (TASK_NO_KEY, TASK_INPUT, TASK_RUN, TASK_RESULT). The scratch area is wiped either way. */
  async run(req: TaskRunRequest): Promise<TaskRunOutput> {
    const taskId = BigInt(req.taskId);
    const held = this.keys.get(req.taskId);
    // Used once (zeroed below): a second run of the same task needs a new claim and grant.
    this.keys.delete(req.taskId);
    if (!held) throw new AgentError("TASK_NO_KEY", `no ephemeral key was prepared for task ${req.taskId} (or it expired)`);
    this.running++;
    let taskKey: Uint8Array | undefined;
    try {
      try {
        taskKey = (await openCapsule(Buffer.from(req.grant, "base64"), held.pair.privateKey, { taskId, role: TASK_KEY_ROLE })).payload;
      } catch (cause) {
        throw new AgentError("TASK_NO_KEY", "the task key grant does not open with this HPC's ephemeral key", { cause });
      } finally {
        held.pair.privateKey.fill(0);
      }
      if (taskKey.length !== 32 || keyToHex(capsulePublicKey(taskKey)) !== keyToHex(keyFromHex(req.taskKey))) {
        throw new AgentError("TASK_NO_KEY", "the released key is not the task key named on chain");
      }
      const dir = join(this.o.scratchDir, `task-${req.taskId}`);
      await mkdir(dir, { recursive: true });
      const inputs = await Promise.all(req.inputs.map((input, i) => this.openInput(taskId, taskKey as Uint8Array, input, i, dir)));
      const run = await this.o.sandbox({
        source: req.source,
        entry: req.entry,
        input: inputs,
        limits: { timeMs: req.limits.timeMs, memoryBytes: req.limits.memoryBytes, maxOutputBytes: req.limits.maxOutputBytes },
        nowMs: req.nowMs,
      });
      if (!run.ok) throw new TaskRunFailure(run.code, run.message);
      let payload: Uint8Array;
      try {
        payload = encodeJsonPayload(run.value);
      } catch (cause) {
        throw new AgentError("TASK_RESULT", "the function's result is not JSON data", { cause });
      }
      await writeFile(join(dir, "result.json"), payload);
      let sealed;
      try {
        sealed = await sealCapsule({ payload, recipients: req.recipients.map((r) => keyFromHex(r)), taskId, role: RESULT_ROLE });
      } catch (cause) {
        throw new AgentError("TASK_RESULT", "the result cannot be sealed to the task's recipients", { cause });
      }
      const scratch = await wipeScratch(this.o.scratchDir);
      return { capsule: sealed.bytes, commitment: sealed.commitment, runMs: Math.round(run.stats.runMs), scratch };
    } catch (e) {
      await wipeScratch(this.o.scratchDir).catch(() => undefined);
      throw e;
    } finally {
      taskKey?.fill(0);
      this.running--;
      this.finished++;
    }
  }

  private async openInput(taskId: bigint, taskKey: Uint8Array, input: TaskRunRequest["inputs"][number], i: number, dir: string): Promise<unknown> {
    let payload: Uint8Array;
    try {
      const opened = await openCapsule(Buffer.from(input.capsule, "base64"), taskKey, { taskId, role: INPUT_ROLE });
      if (hex(opened.commitment) !== input.commitment.replace(/^0x/, "").toLowerCase()) {
        throw new AgentError("TASK_INPUT", `input ${i}'s commitment differs from the one on chain`);
      }
      payload = opened.payload;
    } catch (cause) {
      if (cause instanceof AgentError) throw cause;
      throw new AgentError("TASK_INPUT", `input capsule ${i} does not open with the task key`, { cause });
    }
    await writeFile(join(dir, `input-${i}.json`), payload);
    try {
      return decodeJsonPayload(payload);
    } catch (cause) {
      throw new AgentError("TASK_INPUT", `input capsule ${i} does not hold JSON`, { cause });
    }
  }

  private forget(taskId: string): void {
    const k = this.keys.get(taskId);
    if (!k) return;
    k.pair.privateKey.fill(0);
    this.keys.delete(taskId);
  }
}
