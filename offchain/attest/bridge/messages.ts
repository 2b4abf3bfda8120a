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
export type EvidencePart = "eventlog" | "fingerprint" | "scratch" | "counters";

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
  | { v: 1; id: number; type: "scratch-wipe" };

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
    }
  | { v: 1; id: number; type: "enrolment-info"; ekCertificate?: string; ekPublic: string; akPublic: string }
  | { v: 1; id: number; type: "credential"; secret: string }
  | { v: 1; id: number; type: "scratch-wiped"; before: ScratchState; after: ScratchState }
  | { v: 1; id: number; type: "error"; code: string; message: string };

export function quoteNonce(gatewayNonce: Uint8Array, handshakeHash: Uint8Array): Buffer {
  return createHash("sha256").update(QUOTE_BINDING_TAG).update(gatewayNonce).update(handshakeHash).digest();
}

const BANKS = new Set(["sha1", "sha256", "sha384", "sha512"]);
const PARTS = new Set(["eventlog", "fingerprint", "scratch", "counters"]);
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
    default:
      bad(`unknown request type ${JSON.stringify(o.type)}`);
  }
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
    case "error":
      need("code", "string"); need("message", "string");
      break;
    default:
      bad(`unknown response type ${JSON.stringify(o.type)}`);
  }
  return o as unknown as AgentResponse;
}
