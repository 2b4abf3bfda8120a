/**
 * The HPC agent: owns one driver (TPM or software), the Measurer and its event log, and
 * answers the gateway's requests. `handle` is the whole request surface and never throws:
 * any failure becomes an error reply, so one bad message cannot stop the daemon.
 *
 * Boot: on start the agent compares the TPM resetCount with the one it journaled. Same
 * count = same boot (the agent process restarted): the journaled event log is reloaded and
 * nothing is re-measured (the PCRs already hold it). New count = new boot: fresh log,
 * boot measurements taken again.
 */
import { mkdir, readFile, writeFile, appendFile } from "node:fs/promises";
import { uptime } from "node:os";
import { join } from "node:path";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { BridgeError } from "../../offchain/attest/bridge/errors.js";
import {
  parseRequest,
  peekId,
  quoteNonce,
  type AgentRequest,
  type AgentResponse,
  type EvidencePart,
} from "../../offchain/attest/bridge/messages.js";
import { NonceCache } from "../../offchain/attest/bridge/nonce-cache.js";
import { parseTpmsAttest } from "../../offchain/attest/tpm/attest.js";
import { collectFingerprint, type CollectOptions } from "../../offchain/attest/fingerprint/collect.js";
import { FINGERPRINT_KEYS, type FingerprintItems } from "../../offchain/attest/fingerprint/items.js";
import { AgentError } from "./errors.js";
import { EventLogWriter } from "./eventlog-writer.js";
import { Measurer, measureBoot, PCR, type BootInputs } from "./measure.js";
import { scratchState, wipeScratch } from "./scratch.js";
import { TaskRunner } from "./tasks.js";
import type { SandboxResult, SandboxRunParameters } from "../../offchain/core/sandbox-types.js";
import type { AgentDriver } from "./drivers/types.js";

export interface AgentOptions {
  driver: AgentDriver;
  /** Journal of the event log and boot state. */
  stateDir: string;
  /** What this boot measures (taken only on a new TPM boot). */
  boot?: BootInputs;
  scratchDir?: string;
  /** Fingerprint collection (default: this machine's /sys and /proc). */
  fingerprint?: CollectOptions;
  /** How long one fingerprint reading is reused (ms, default 30 s; 0 = every request). */
  fingerprintTtlMs?: number;
  /** Window for gateway nonce issue times and replay memory (default 60 s). */
  nonceTtlMs?: number;
  /**
   * The deterministic sandbox tasks run in (task-prepare / task-run). Without it, or
   * without a scratch directory, the agent refuses task requests.
   */
  sandbox?: (p: SandboxRunParameters) => Promise<SandboxResult<unknown>>;
  now?: () => number;
}

interface BootJournal {
  resetCount: number;
  banks: string[];
}

export class Agent {
  private constructor(
    readonly driver: AgentDriver,
    private readonly measurer: Measurer,
    private readonly opts: AgentOptions,
    private readonly nonces: NonceCache,
    /** True when this start measured a new boot, false when it resumed a journaled one. */
    readonly freshBoot: boolean,
  ) {
    this.tasks = opts.sandbox && opts.scratchDir ? new TaskRunner({ scratchDir: opts.scratchDir, sandbox: opts.sandbox, now: opts.now }) : undefined;
  }

  private readonly tasks: TaskRunner | undefined;

  static async start(opts: AgentOptions): Promise<Agent> {
    await mkdir(opts.stateDir, { recursive: true });
    if (opts.scratchDir) await mkdir(opts.scratchDir, { recursive: true });
    const d = opts.driver;
    await d.init();
    const banks = await d.banks();
    const { resetCount } = await d.clock();
    const journalPath = join(opts.stateDir, "boot.json");
    const logPath = join(opts.stateDir, "eventlog.bin");
    let journal: BootJournal | undefined;
    try {
      journal = JSON.parse(await readFile(journalPath, "utf8")) as BootJournal;
    } catch {
      journal = undefined;
    }
    const nonces = new NonceCache(opts.nonceTtlMs ?? 60_000, opts.now);
    const journalRecord = (rec: Buffer): Promise<void> => appendFile(logPath, rec);
    if (journal && journal.resetCount === resetCount && journal.banks.join() === banks.join()) {
      const log = EventLogWriter.restore(banks, await readFile(logPath));
      return new Agent(d, new Measurer(d, log, journalRecord), opts, nonces, false);
    }
    const measurer = await Measurer.create(d, journalRecord);
    await writeFile(logPath, measurer.log.bytes());
    await writeFile(journalPath, JSON.stringify({ resetCount, banks: [...banks] } satisfies BootJournal));
    if (opts.boot) await measureBoot(measurer, opts.boot);
    return new Agent(d, measurer, opts, nonces, true);
  }

  /** Measures a container image before it runs (PCR 10). */
  async loadContainer(label: string, content: Uint8Array): Promise<void> {
    await this.measurer.measure(PCR.containers, "container", label, content);
  }

  eventLog(): Buffer {
    return this.measurer.log.bytes();
  }

  /**
   * Hardware fingerprint items. Walking /sys costs hundreds of milliseconds, and the
   * items are the agent's own report either way (the TPM does not vouch for them), so a
   * reading is reused for `fingerprintTtlMs` (default 30 s).
   */
  async fingerprint(): Promise<FingerprintItems> {
    const now = (this.opts.now ?? Date.now)();
    if (this.fingerprintCache && now - this.fingerprintCache.at < (this.opts.fingerprintTtlMs ?? 30_000)) return this.fingerprintCache.items;
    const items = await collectFingerprint(this.opts.fingerprint);
    this.fingerprintCache = { at: now, items };
    return items;
  }

  private fingerprintCache: { at: number; items: FingerprintItems } | undefined;

  /** One request frame in, one response out; `binding` is the channel's handshake hash. */
  async handle(frame: Uint8Array, binding: Uint8Array): Promise<AgentResponse> {
    const parsed = this.parse(frame);
    return "reply" in parsed ? parsed.reply : this.respond(parsed.request, binding);
  }

  /** One request frame checked against the schema, or the error reply it gets (never throws). */
  parse(frame: Uint8Array): { request: AgentRequest } | { reply: AgentResponse } {
    try {
      return { request: parseRequest(frame) };
    } catch (e) {
      return { reply: errorReply(peekId(frame), e) };
    }
  }

  /** The reply to a parsed request (never throws: failures are error replies). */
  async respond(req: AgentRequest, binding: Uint8Array): Promise<AgentResponse> {
    try {
      return await this.dispatch(req, binding);
    } catch (e) {
      return errorReply(req.id, e);
    }
  }

  private async dispatch(req: AgentRequest, binding: Uint8Array): Promise<AgentResponse> {
    const d = this.driver;
    switch (req.type) {
      case "hello":
        return { v: 1, id: req.id, type: "hello", driver: d.driver, tier: d.tier, akPublic: (await d.akPublic()).toString("hex"), banks: [...(await d.banks())] };
      case "enrolment-info": {
        if (!d.activator) throw new AgentError("BAD_REQUEST", `driver "${d.driver}" (tier ${d.tier}) cannot be enrolled: no EK`);
        const cert = await d.activator.ekCertificate();
        return {
          v: 1, id: req.id, type: "enrolment-info",
          ekCertificate: cert?.toString("base64"),
          ekPublic: (await d.activator.ekPublic()).toString("hex"),
          akPublic: (await d.akPublic()).toString("hex"),
        };
      }
      case "activate-credential": {
        if (!d.activator) throw new AgentError("BAD_REQUEST", `driver "${d.driver}" cannot activate credentials`);
        const secret = await d.activator.activateCredential(Buffer.from(req.blob, "base64"));
        return { v: 1, id: req.id, type: "credential", secret: secret.toString("hex") };
      }
      case "scratch-wipe": {
        if (!this.opts.scratchDir) throw new AgentError("BAD_REQUEST", "agent has no scratch directory");
        return { v: 1, id: req.id, type: "scratch-wiped", ...(await wipeScratch(this.opts.scratchDir)) };
      }
      case "quote":
        return this.quote(req, binding);
      case "task-prepare":
        return { v: 1, id: req.id, type: "task-ready", ephemeralKey: Buffer.from(this.taskRunner().prepare(BigInt(req.taskId))).toString("hex") };
      case "task-run": {
        const { id, v: _v, type: _t, ...run } = req;
        const out = await this.taskRunner().run(run);
        return { v: 1, id, type: "task-result", capsule: Buffer.from(out.capsule).toString("base64"), commitment: Buffer.from(out.commitment).toString("hex"), runMs: out.runMs, scratch: out.scratch };
      }
    }
  }

  private taskRunner(): TaskRunner {
    if (!this.tasks) throw new AgentError("BAD_REQUEST", "this agent runs no tasks (no sandbox or no scratch directory)");
    return this.tasks;
  }

  private async quote(req: Extract<AgentRequest, { type: "quote" }>, binding: Uint8Array): Promise<AgentResponse> {
    this.nonces.check(req.nonce, req.issuedAt);
    const qn = quoteNonce(Buffer.from(req.nonce, "hex"), binding);
    const q = await this.driver.quote(req.selection, qn);
    const include = new Set<EvidencePart>(req.include ?? ["eventlog", "counters"]);
    const out: Extract<AgentResponse, { type: "evidence" }> = {
      v: 1, id: req.id, type: "evidence",
      driver: this.driver.driver, tier: this.driver.tier,
      quote: q.attest.toString("hex"), signature: q.signature.toString("hex"), pcrs: q.pcrs.toString("hex"),
      selection: req.selection,
    };
    if (include.has("eventlog")) out.eventLog = this.eventLog().toString("base64");
    if (include.has("fingerprint")) {
      const items = await this.fingerprint();
      out.fingerprint = FINGERPRINT_KEYS.filter((k) => typeof items[k] === "string").map((k) => ({ key: k, value: items[k] as string }));
    }
    if (include.has("scratch") && this.opts.scratchDir) out.scratch = await scratchState(this.opts.scratchDir);
    if (include.has("tasks") && this.tasks) out.tasks = this.tasks.state();
    if (include.has("counters")) {
      // The quote carries the TPM's clockInfo already; reading it again would cost a TPM call.
      const c = parseTpmsAttest(q.attest).clockInfo;
      out.counters = { uptimeMs: Math.round(uptime() * 1000), clock: c.clock.toString(), resetCount: c.resetCount, restartCount: c.restartCount, safe: c.safe };
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.driver.close();
  }
}

function errorReply(id: number, e: unknown): AgentResponse {
  if (isTrustmeshError(e)) {
    // A task function's failure keeps the sandbox's own reason (TIMEOUT, MEMORY, THROW, ...).
    const reason = (e as { reason?: unknown }).reason;
    return { v: 1, id, type: "error", code: e.code, message: e.shortMessage, ...(typeof reason === "string" ? { reason } : {}) };
  }
  // Not one of ours: report without internals; the daemon logs the details.
  const err = new BridgeError("MESSAGE_INVALID", "internal error while handling the request", { cause: e });
  return { v: 1, id, type: "error", code: "INTERNAL", message: err.shortMessage };
}
