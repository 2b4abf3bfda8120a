/**
 * The gateway's side of the bridge: connect to the HPC agent, handshake as Noise
 * initiator pinning the agent's key, and ask for evidence with a fresh nonce per request.
 * Every evidence reply is checked for the channel binding before it is returned: the
 * quote's extraData must equal quoteNonce(gatewayNonce, this channel's handshake hash).
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { parseTpmsAttest } from "../tpm/attest.js";
import { SecureChannel, type RekeyPolicy } from "./channel.js";
import { BridgeError } from "./errors.js";
import type { StaticKeyPair } from "./noise.js";
import {
  BRIDGE_VERSION,
  parseResponse,
  quoteNonce,
  type AgentResponse,
  type EvidencePart,
  type SelectionJson,
  type TaskRunRequest,
} from "./messages.js";

export interface AgentClientOptions extends RekeyPolicy {
  host?: string;
  port: number;
  staticKey: StaticKeyPair;
  /** The agent's static public key (pinned). */
  agentKey: Uint8Array;
  requestTimeoutMs?: number;
  /** Gateway clock, injectable. */
  now?: () => number;
}

export type Evidence = Extract<AgentResponse, { type: "evidence" }>;

export interface QuoteRequest {
  selection: SelectionJson;
  include?: EvidencePart[];
  /** Override the fresh nonce (tests of replay handling). */
  nonce?: Uint8Array;
  issuedAt?: number;
}

export interface QuoteReply {
  evidence: Evidence;
  gatewayNonce: Buffer;
  /** The nonce the quote carries: what verifyQuote's expectedNonce must be. */
  quoteNonce: Buffer;
  /** Handshake hash of the channel the quote is bound to. */
  channelBinding: Buffer;
}

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: AgentResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(
    readonly channel: SecureChannel,
    private readonly opts: AgentClientOptions,
  ) {
    channel.onMessage((frame) => {
      let r: AgentResponse;
      try {
        r = parseResponse(frame);
      } catch {
        return; // An unparseable reply cannot be matched; its request times out.
      }
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      p.resolve(r);
    });
    channel.onClose((e) => {
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new BridgeError("CLOSED", "connection to agent closed", { cause: e }));
      }
      this.pending.clear();
    });
  }

  static async connect(opts: AgentClientOptions): Promise<AgentClient> {
    const socket = connect(opts.port, opts.host ?? "127.0.0.1");
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", (cause) => reject(new BridgeError("CLOSED", `cannot connect to agent at ${opts.host ?? "127.0.0.1"}:${opts.port}`, { cause })));
    });
    const ch = await SecureChannel.establish(socket, true, {
      staticKey: opts.staticKey,
      pinned: [opts.agentKey],
      rekeyIntervalMs: opts.rekeyIntervalMs,
      rekeyAfterMessages: opts.rekeyAfterMessages,
    });
    return new AgentClient(ch, opts);
  }

  get channelBinding(): Buffer {
    return this.channel.handshakeHash;
  }

  /** Sends any JSON value as a request frame and waits for the reply with its id. */
  request(body: Record<string, unknown>, timeoutMs?: number): Promise<AgentResponse> {
    const id = typeof body.id === "number" ? body.id : this.nextId++;
    const msg = { v: BRIDGE_VERSION, ...body, id };
    return this.send(id, Buffer.from(JSON.stringify(msg), "utf8"), timeoutMs);
  }

  /** Sends raw bytes as one request frame (malformed-input handling). `id` is what the reply will echo. */
  sendRaw(bytes: Uint8Array, id = -1): Promise<AgentResponse> {
    return this.send(id, bytes);
  }

  private send(id: number, bytes: Uint8Array, timeoutMs?: number): Promise<AgentResponse> {
    return new Promise((resolve, reject) => {
      const ms = timeoutMs ?? this.opts.requestTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BridgeError("TIMEOUT", `agent did not answer request ${id} within ${ms} ms`));
      }, ms);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.channel.send(bytes);
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  private static unwrap<T extends AgentResponse["type"]>(r: AgentResponse, type: T): Extract<AgentResponse, { type: T }> {
    if (r.type === "error") {
      const err = new BridgeError("AGENT_ERROR", `agent: ${r.message}`, { metaMessages: [`code: ${r.code}`], details: r.code });
      // A task run's failure carries the sandbox's own reason (TIMEOUT, MEMORY, THROW, ...).
      throw r.reason === undefined ? err : Object.assign(err, { reason: r.reason });
    }
    if (r.type !== type) throw new BridgeError("MESSAGE_INVALID", `expected a ${type} reply, got ${r.type}`);
    return r as Extract<AgentResponse, { type: T }>;
  }

  async hello(): Promise<Extract<AgentResponse, { type: "hello" }>> {
    return AgentClient.unwrap(await this.request({ type: "hello" }), "hello");
  }

  async enrolmentInfo(): Promise<Extract<AgentResponse, { type: "enrolment-info" }>> {
    return AgentClient.unwrap(await this.request({ type: "enrolment-info" }), "enrolment-info");
  }

  async activateCredential(blob: Uint8Array): Promise<Buffer> {
    const r = AgentClient.unwrap(await this.request({ type: "activate-credential", blob: Buffer.from(blob).toString("base64") }), "credential");
    return Buffer.from(r.secret, "hex");
  }

  /** A fresh ephemeral public key (X25519) of the HPC for one task's key claim. */
  async prepareTask(taskId: bigint): Promise<Uint8Array> {
    const r = AgentClient.unwrap(await this.request({ type: "task-prepare", taskId: taskId.toString() }), "task-ready");
    if (!/^[0-9a-f]{64}$/.test(r.ephemeralKey)) throw new BridgeError("MESSAGE_INVALID", "task-ready carries no 32-byte key");
    return Buffer.from(r.ephemeralKey, "hex");
  }

  /**
   * Runs a task on the HPC. Waits for the task's time limit plus `graceMs` (the HPC opens
   * and seals around the run). An agent-side failure is a BridgeError AGENT_ERROR whose
   * `details` is the agent's code (TASK_RUN, TASK_INPUT, ...) and `reason` the sandbox's.
   */
  async runTask(req: TaskRunRequest, graceMs = 10_000): Promise<Extract<AgentResponse, { type: "task-result" }>> {
    return AgentClient.unwrap(await this.request({ type: "task-run", ...req }, req.limits.timeMs + graceMs), "task-result");
  }

  async wipeScratch(): Promise<Extract<AgentResponse, { type: "scratch-wiped" }>> {
    return AgentClient.unwrap(await this.request({ type: "scratch-wipe" }), "scratch-wiped");
  }

  /**
   * Asks for a quote with a fresh gateway nonce and checks the binding. Throws
   * BINDING_MISMATCH when the quote was made for another nonce or another channel.
   */
  async quote(q: QuoteRequest): Promise<QuoteReply> {
    const gatewayNonce = Buffer.from(q.nonce ?? randomBytes(32));
    const issuedAt = q.issuedAt ?? (this.opts.now ?? Date.now)();
    const r = await this.request({
      type: "quote",
      nonce: gatewayNonce.toString("hex"),
      issuedAt,
      selection: q.selection,
      ...(q.include ? { include: q.include } : {}),
    });
    const evidence = AgentClient.unwrap(r, "evidence");
    const binding = this.channel.handshakeHash;
    const expected = quoteNonce(gatewayNonce, binding);
    checkBinding(evidence, expected);
    return { evidence, gatewayNonce, quoteNonce: expected, channelBinding: binding };
  }

  close(): void {
    this.channel.destroy();
  }
}

/** Throws BINDING_MISMATCH unless the evidence's quote carries `expected` as its nonce. */
export function checkBinding(evidence: Evidence, expected: Uint8Array): void {
  let extra: Buffer;
  try {
    extra = parseTpmsAttest(Buffer.from(evidence.quote, "hex")).extraData;
  } catch (cause) {
    throw new BridgeError("BINDING_MISMATCH", "evidence quote does not parse", { cause });
  }
  if (!extra.equals(Buffer.from(expected))) {
    throw new BridgeError("BINDING_MISMATCH", "quote nonce does not commit to our nonce and this channel", {
      metaMessages: ["evidence may have been relayed from another session or machine"],
    });
  }
}
