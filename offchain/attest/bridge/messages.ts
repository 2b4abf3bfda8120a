/**
 * The bridge's message schema (JSON, UTF-8, one message per Noise transport frame) and the
 * attestation binding. Every request carries an `id` the reply echoes.
 *
 * Binding (attested-TLS style): the agent quotes with
 *     quoteNonce = SHA-256("trustmesh-bridge-quote/1" || gatewayNonce || handshakeHash)
 * where handshakeHash is the Noise channel's final `h`. A quote taken for one channel
 * (one gateway, one session) carries a nonce no other channel will accept, so evidence
 * cannot be relayed from another machine even by someone who sees the gateway nonce.
 */
import { createHash } from "node:crypto";
import { BridgeError } from "./errors.js";

export const BRIDGE_VERSION = 1;
export const QUOTE_BINDING_TAG = Buffer.from("trustmesh-bridge-quote/1", "latin1");

export type BankName = "sha1" | "sha256" | "sha384" | "sha512";
export type SelectionJson = Array<{ bank: BankName; pcrs: number[] }>;
export type EvidencePart = "eventlog" | "fingerprint" | "scratch" | "counters" | "tasks";

export type AgentRequest =
  | { v: 1; id: number; type: "hello" }
  | {
      v: 1;
      id: number;
      type: "quote";
      /** Fresh gateway nonce, hex, 16..32 bytes. */
      nonce: string;
      /** Gateway clock (ms since epoch) when the nonce was made. */
      issuedAt: number;
      selection: SelectionJson;
      include?: EvidencePart[];
    }
  | { v: 1; id: number; type: "enrolment-info" }
  | { v: 1; id: number; type: "activate-credential"; blob: string }
  | { v: 1; id: number; type: "scratch-wipe" }
  /** A fresh ephemeral X25519 key for one task's key claim; its private half never leaves the HPC. */
  | { v: 1; id: number; type: "task-prepare"; taskId: string }
  | ({ v: 1; id: number; type: "task-run" } & TaskRunRequest);

/**
 * Everything the HPC needs to run a task, all of it public or sealed: the gateway relays
 * ciphertext and never sees an input, the task key or the result in the clear.
 */
export interface TaskRunRequest {
  /** Decimal task id (the capsules' associated data binds it). */
  taskId: string;
  /** The task's public key as named on chain (hex, 32 bytes): the released key must match it. */
  taskKey: string;
  /** The key broker's grant: the task private key sealed to this HPC's ephemeral key (base64). */
  grant: string;
  source: string;
  entry: string;
  /** Input capsules (base64) with the commitments the chain records for them (hex, 32 bytes). */
  inputs: Array<{ capsule: string; commitment: string }>;
  /** Result recipients' X25519 public keys (hex, 32 bytes each). */
  recipients: string[];
  limits: { timeMs: number; memoryBytes: number; maxOutputBytes: number };
  /** The sandbox's fixed clock (the task's creation time). */
  nowMs: number;
}

/** Task processes the agent has started and not yet seen end: cleanup evidence after a run. */
export interface TaskProcessState {
  running: number;
  finished: number;
}

export interface Counters {
  uptimeMs: number;
  clock: string;
  resetCount: number;
  restartCount: number;
  safe: boolean;
}

export interface ScratchState {
  /** sha256 over the directory listing (see firmware/agent/scratch.ts), hex. */
  digest: string;
  files: number;
  bytes: number;
  empty: boolean;
}

export interface FingerprintItemJson {
  key: string;
  value: string;
}

export type AgentResponse =
  | { v: 1; id: number; type: "hello"; driver: string; tier: string; akPublic: string; banks: BankName[] }
  | {
      v: 1;
      id: number;
      type: "evidence";
      driver: string;
      tier: string;
      /** hex: TPMS_ATTEST, TPMT_SIGNATURE, PCR values in tpm2_pcrread -o layout. */
      quote: string;
      signature: string;
      pcrs: string;
      selection: SelectionJson;
      eventLog?: string;
      fingerprint?: FingerprintItemJson[];
      scratch?: ScratchState;
      counters?: Counters;
      tasks?: TaskProcessState;
    }
  | { v: 1; id: number; type: "enrolment-info"; ekCertificate?: string; ekPublic: string; akPublic: string }
  | { v: 1; id: number; type: "credential"; secret: string }
  | { v: 1; id: number; type: "scratch-wiped"; before: ScratchState; after: ScratchState }
  | { v: 1; id: number; type: "task-ready"; ephemeralKey: string }
  | {
      v: 1;
      id: number;
      type: "task-result";
      /** The result capsule, sealed to the recipients (base64), and its commitment (hex). */
      capsule: string;
      commitment: string;
      runMs: number;
      /** The scratch area before and after the wipe that ends every run. */
      scratch: { before: ScratchState; after: ScratchState };
    }
  | { v: 1; id: number; type: "error"; code: string; message: string; reason?: string };

export function quoteNonce(gatewayNonce: Uint8Array, handshakeHash: Uint8Array): Buffer {
  return createHash("sha256").update(QUOTE_BINDING_TAG).update(gatewayNonce).update(handshakeHash).digest();
}

const BANKS = new Set(["sha1", "sha256", "sha384", "sha512"]);
const PARTS = new Set(["eventlog", "fingerprint", "scratch", "counters", "tasks"]);
const DECIMAL = /^(?:0|[1-9][0-9]{0,77})$/;
const KEY_HEX = /^(?:0x)?[0-9a-fA-F]{64}$/;
const ENTRY = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;
/** Bounds of a task-run request: it travels in one bridge frame (1 MiB). */
export const MAX_TASK_INPUTS = 16;
export const MAX_TASK_RECIPIENTS = 16;
export const MAX_TASK_SOURCE_BYTES = 256 * 1024;
const HEX = /^(?:[0-9a-f]{2})*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bad(msg: string): never {
  throw new BridgeError("MESSAGE_INVALID", msg);
}

function obj(x: unknown): Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) bad("message is not a JSON object");
  return x as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(`unexpected field "${k}"`);
}

export function validateSelection(x: unknown): SelectionJson {
  if (!Array.isArray(x) || x.length === 0 || x.length > 4) bad("selection must be 1..4 banks");
  const seen = new Set<string>();
  return x.map((s) => {
    const o = obj(s);
    onlyKeys(o, ["bank", "pcrs"]);
    if (typeof o.bank !== "string" || !BANKS.has(o.bank) || seen.has(o.bank)) bad("selection bank invalid or repeated");
    seen.add(o.bank);
    if (!Array.isArray(o.pcrs) || o.pcrs.length === 0 || o.pcrs.length > 24) bad("selection pcrs must be 1..24 indexes");
    const pcrs = o.pcrs as unknown[];
    if (!pcrs.every((p) => Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 23)) bad("PCR index out of 0..23");
    if (new Set(pcrs).size !== pcrs.length) bad("PCR index repeated");
    return { bank: o.bank as BankName, pcrs: [...(pcrs as number[])].sort((a, b) => a - b) };
  });
}

/** Parses and validates one request frame; throws MESSAGE_INVALID (with the id when known). */
export function parseRequest(frame: Uint8Array): AgentRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(frame).toString("utf8"));
  } catch {
    bad("message is not JSON");
  }
  const o = obj(raw);
  if (o.v !== BRIDGE_VERSION) bad(`unsupported bridge version ${String(o.v)}`);
  if (!Number.isSafeInteger(o.id) || (o.id as number) < 0) bad("id must be a non-negative integer");
  const base = { v: 1 as const, id: o.id as number };
  switch (o.type) {
    case "hello":
    case "enrolment-info":
    case "scratch-wipe":
      onlyKeys(o, ["v", "id", "type"]);
      return { ...base, type: o.type };
    case "activate-credential":
      onlyKeys(o, ["v", "id", "type", "blob"]);
      if (typeof o.blob !== "string" || o.blob.length > 8192 || !B64.test(o.blob)) bad("blob must be base64 (<= 8 KiB)");
      return { ...base, type: "activate-credential", blob: o.blob };
    case "quote": {
      onlyKeys(o, ["v", "id", "type", "nonce", "issuedAt", "selection", "include"]);
      if (typeof o.nonce !== "string" || !HEX.test(o.nonce) || o.nonce.length < 32 || o.nonce.length > 64) bad("nonce must be 16..32 bytes of lowercase hex");
      if (!Number.isSafeInteger(o.issuedAt)) bad("issuedAt must be an integer (ms)");
      let include: EvidencePart[] | undefined;
      if (o.include !== undefined) {
        if (!Array.isArray(o.include) || !o.include.every((p) => typeof p === "string" && PARTS.has(p))) bad("include lists unknown parts");
        include = o.include as EvidencePart[];
      }
      return { ...base, type: "quote", nonce: o.nonce, issuedAt: o.issuedAt as number, selection: validateSelection(o.selection), include };
    }
    case "task-prepare":
      onlyKeys(o, ["v", "id", "type", "taskId"]);
      return { ...base, type: "task-prepare", taskId: taskIdOf(o) };
    case "task-run":
      return { ...base, type: "task-run", ...parseTaskRun(o) };
    default:
      bad(`unknown request type ${JSON.stringify(o.type)}`);
  }
}

function taskIdOf(o: Record<string, unknown>): string {
  if (typeof o.taskId !== "string" || !DECIMAL.test(o.taskId)) bad("taskId must be a decimal string");
  return o.taskId;
}

function positiveInt(x: unknown, what: string): number {
  if (!Number.isSafeInteger(x) || (x as number) <= 0) bad(`${what} must be a positive integer`);
  return x as number;
}

function parseTaskRun(o: Record<string, unknown>): TaskRunRequest {
  onlyKeys(o, ["v", "id", "type", "taskId", "taskKey", "grant", "source", "entry", "inputs", "recipients", "limits", "nowMs"]);
  const taskId = taskIdOf(o);
  if (typeof o.taskKey !== "string" || !KEY_HEX.test(o.taskKey)) bad("taskKey must be 32 bytes of hex");
  if (typeof o.grant !== "string" || o.grant.length === 0 || o.grant.length > 4096 || !B64.test(o.grant)) bad("grant must be base64 (<= 4 KiB)");
  if (typeof o.source !== "string" || o.source.length === 0 || Buffer.byteLength(o.source) > MAX_TASK_SOURCE_BYTES) bad(`source must be 1..${MAX_TASK_SOURCE_BYTES} bytes`);
  if (typeof o.entry !== "string" || !ENTRY.test(o.entry)) bad("entry must be an identifier");
  if (!Array.isArray(o.inputs) || o.inputs.length > MAX_TASK_INPUTS) bad(`inputs must be a list of at most ${MAX_TASK_INPUTS}`);
  const inputs = o.inputs.map((x) => {
    const i = obj(x);
    onlyKeys(i, ["capsule", "commitment"]);
    if (typeof i.capsule !== "string" || i.capsule.length === 0 || !B64.test(i.capsule)) bad("an input capsule must be base64");
    if (typeof i.commitment !== "string" || !KEY_HEX.test(i.commitment)) bad("an input commitment must be 32 bytes of hex");
    return { capsule: i.capsule, commitment: i.commitment };
  });
  if (!Array.isArray(o.recipients) || o.recipients.length === 0 || o.recipients.length > MAX_TASK_RECIPIENTS) bad(`recipients must be 1..${MAX_TASK_RECIPIENTS} keys`);
  const recipients = o.recipients.map((r) => {
    if (typeof r !== "string" || !KEY_HEX.test(r)) bad("a recipient must be a 32-byte hex key");
    return r;
  });
  const l = obj(o.limits);
  onlyKeys(l, ["timeMs", "memoryBytes", "maxOutputBytes"]);
  const limits = { timeMs: positiveInt(l.timeMs, "limits.timeMs"), memoryBytes: positiveInt(l.memoryBytes, "limits.memoryBytes"), maxOutputBytes: positiveInt(l.maxOutputBytes, "limits.maxOutputBytes") };
  if (!Number.isSafeInteger(o.nowMs) || (o.nowMs as number) < 0) bad("nowMs must be a non-negative integer");
  return { taskId, taskKey: o.taskKey, grant: o.grant, source: o.source, entry: o.entry, inputs, recipients, limits, nowMs: o.nowMs as number };
}

/** The request id if one can be read from a bad frame (so the error reply can echo it). */
export function peekId(frame: Uint8Array): number {
  try {
    const o = JSON.parse(Buffer.from(frame).toString("utf8")) as { id?: unknown };
    return Number.isSafeInteger(o.id) ? (o.id as number) : -1;
  } catch {
    return -1;
  }
}

/** Light shape check of a response (the gateway trusts the channel, not the content). */
export function parseResponse(frame: Uint8Array): AgentResponse {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(frame).toString("utf8"));
  } catch {
    bad("response is not JSON");
  }
  const o = obj(raw);
  if (o.v !== BRIDGE_VERSION || !Number.isSafeInteger(o.id) || typeof o.type !== "string") bad("response lacks v/id/type");
  const need = (k: string, t: string): void => {
    if (typeof o[k] !== t) bad(`response field ${k} must be ${t}`);
  };
  switch (o.type) {
    case "hello":
      need("driver", "string"); need("tier", "string"); need("akPublic", "string");
      break;
    case "evidence":
      need("quote", "string"); need("signature", "string"); need("pcrs", "string"); need("tier", "string");
      validateSelection(o.selection);
      break;
    case "enrolment-info":
      need("ekPublic", "string"); need("akPublic", "string");
      break;
    case "credential":
      need("secret", "string");
      break;
    case "scratch-wiped":
      break;
    case "task-ready":
      need("ephemeralKey", "string");
      break;
    case "task-result":
      need("capsule", "string"); need("commitment", "string"); need("runMs", "number");
      break;
    case "error":
      need("code", "string"); need("message", "string");
      break;
    default:
      bad(`unknown response type ${JSON.stringify(o.type)}`);
  }
  return o as unknown as AgentResponse;
}
