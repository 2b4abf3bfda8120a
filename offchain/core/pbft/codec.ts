/**
 * Canonical encoding of PBFT messages (what authenticators sign), the wire codec with schema
 * checks (what the transport adapter decodes untrusted bytes with), and the digests.
 *
 * The canonical form is JSON with keys sorted and bigints as decimal strings, so two
 * implementations that agree on the message agree on the bytes, whatever the key order in
 * memory. Decoding rejects anything that does not match the schema exactly.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Hex } from "viem";
import {
  PbftError,
  type CheckpointMsg,
  type CommitMsg,
  type NewViewMsg,
  type PbftMessage,
  type PrePrepareMsg,
  type PrepareMsg,
  type PreparedProof,
  type RequestMsg,
  type Unsigned,
  type ViewChangeMsg,
  type Vote,
  type VoteEndorsement,
} from "./types.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function toJson(value: unknown): Json {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new PbftError("PBFT_ENCODE", `cannot encode number ${value}`);
    return value;
  }
  if (typeof value === "bigint") return value.toString(10);
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") {
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = toJson(v);
    }
    return out;
  }
  throw new PbftError("PBFT_ENCODE", `cannot encode a ${typeof value}`);
}

function canonical(value: unknown): Uint8Array {
  return utf8ToBytes(JSON.stringify(toJson(value)));
}

// Messages and votes are treated as immutable values, so their encodings can be memoised per
// object: a broadcast is verified by every receiver and each vote is hashed many times.
const signingCache = new WeakMap<object, Uint8Array>();
const voteDigestCache = new WeakMap<Vote, Hex>();

/** The bytes a sender authenticates: the canonical encoding of the message without `sig`. */
export function signingBytes(message: Unsigned<PbftMessage> | PbftMessage): Uint8Array {
  const hit = signingCache.get(message);
  if (hit) return hit;
  const { sig: _sig, ...rest } = message as PbftMessage;
  const bytes = canonical(rest);
  signingCache.set(message, bytes);
  return bytes;
}

/** Sign `message` (without sig) with `sign`, and return the signed message with its encoding memoised. */
export async function signMessage<M extends PbftMessage>(message: Unsigned<M>, sign: (bytes: Uint8Array) => Hex | Promise<Hex>): Promise<M> {
  const bytes = signingBytes(message as Unsigned<PbftMessage>);
  const signed = { ...message, sig: await sign(bytes) } as M;
  signingCache.set(signed, bytes);
  return signed;
}

export function encodeMessage(message: PbftMessage): Uint8Array {
  return canonical(message);
}

/** Most messages one bundle may carry: a decided log's worth for a committee of 64 and then some. */
export const MAX_BUNDLE_MESSAGES = 256;

/**
 * Several messages for one destination in one payload (a JSON array), as a replica helping a
 * laggard sends its whole decided log: one envelope, one signature and one stream instead of
 * one each per message. Each message keeps its own authenticator.
 */
export function encodeBundle(messages: readonly PbftMessage[]): Uint8Array {
  if (messages.length === 0 || messages.length > MAX_BUNDLE_MESSAGES) {
    throw new PbftError("PBFT_ENCODE", `a bundle carries 1..${MAX_BUNDLE_MESSAGES} messages, not ${messages.length}`);
  }
  return canonical(messages);
}

const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;

/**
 * Messages packed into as few payloads as the limits allow, in order: each payload is either
 * one message in its plain encoding or a bundle (`encodeBundle`'s bytes) of at most
 * MAX_BUNDLE_MESSAGES messages and `maxBytes` bytes. A message that alone exceeds `maxBytes`
 * still gets a payload of its own: whoever carries it decides whether it may travel.
 */
export function packMessages(messages: readonly PbftMessage[], maxBytes: number): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  let parts: Uint8Array[] = [];
  let size = 1; // the closing bracket; each part adds its length and one separator or the opening bracket
  const close = () => {
    if (parts.length === 1) payloads.push(parts[0]!);
    else if (parts.length > 1) {
      const out = new Uint8Array(size);
      let at = 0;
      parts.forEach((p, i) => {
        out[at++] = i === 0 ? OPEN : COMMA;
        out.set(p, at);
        at += p.length;
      });
      out[at] = CLOSE;
      payloads.push(out);
    }
    parts = [];
    size = 1;
  };
  for (const m of messages) {
    const bytes = canonical(m);
    if (parts.length > 0 && (parts.length >= MAX_BUNDLE_MESSAGES || size + 1 + bytes.length > maxBytes)) close();
    parts.push(bytes);
    size += 1 + bytes.length;
  }
  close();
  return payloads;
}

const HEX_RE = /^0x(?:[0-9a-f]{2})*$/;
const BYTES32_RE = /^0x[0-9a-f]{64}$/;
const UINT_RE = /^(?:0|[1-9][0-9]*)$/;
const U256_MAX = (1n << 256n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

function fail(what: string): never {
  throw new PbftError("PBFT_MALFORMED", `malformed PBFT message: ${what}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function keys(o: Record<string, unknown>, expected: readonly string[], what: string): void {
  const got = Object.keys(o);
  if (got.length !== expected.length || !expected.every((k) => k in o)) fail(`${what} has fields ${got.join(",")}`);
}

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not a non-negative integer`);
  return v;
}

function hex(v: unknown, what: string, re: RegExp = HEX_RE): Hex {
  if (typeof v !== "string" || !re.test(v)) fail(`${what} is not lowercase hex`);
  return v as Hex;
}

function uint(v: unknown, max: bigint, what: string): bigint {
  if (typeof v !== "string" || !UINT_RE.test(v) || v.length > 78) fail(`${what} is not a decimal uint`);
  const b = BigInt(v);
  if (b > max) fail(`${what} out of range`);
  return b;
}

function arr(v: unknown, what: string, max = 100_000): unknown[] {
  if (!Array.isArray(v) || v.length > max) fail(`${what} is not a list`);
  return v;
}

function u8(v: unknown, what: string): number {
  const n = int(v, what);
  if (n > 255) fail(`${what} exceeds uint8`);
  return n;
}

export function decodeVote(v: unknown): Vote {
  const o = obj(v, "vote");
  keys(o, ["round", "node", "verdict", "score", "evidenceCid", "policyCid"], "vote");
  return {
    round: uint(o.round, U256_MAX, "vote.round"),
    node: uint(o.node, U64_MAX, "vote.node"),
    verdict: u8(o.verdict, "vote.verdict"),
    score: u8(o.score, "vote.score"),
    evidenceCid: hex(o.evidenceCid, "vote.evidenceCid"),
    policyCid: hex(o.policyCid, "vote.policyCid"),
  };
}

function base(o: Record<string, unknown>, type: string, fields: readonly string[]) {
  keys(o, ["type", "replica", "sig", ...fields], type);
  return { replica: int(o.replica, "replica"), sig: hex(o.sig, "sig") };
}

function decodePrePrepare(v: unknown): PrePrepareMsg {
  const o = obj(v, "pre-prepare");
  if (o.type !== "pre-prepare") fail("expected pre-prepare");
  return {
    type: "pre-prepare",
    ...base(o, "pre-prepare", ["view", "seq", "digest", "batch"]),
    view: int(o.view, "view"),
    seq: int(o.seq, "seq"),
    digest: hex(o.digest, "digest", BYTES32_RE),
    batch: arr(o.batch, "batch", 10_000).map(decodeVote),
  };
}

function decodePrepare(v: unknown): PrepareMsg {
  const o = obj(v, "prepare");
  if (o.type !== "prepare") fail("expected prepare");
  return {
    type: "prepare",
    ...base(o, "prepare", ["view", "seq", "digest"]),
    view: int(o.view, "view"),
    seq: int(o.seq, "seq"),
    digest: hex(o.digest, "digest", BYTES32_RE),
  };
}

function decodeEndorsement(v: unknown): VoteEndorsement | null {
  if (v === null) return null;
  const o = obj(v, "endorsement");
  keys(o, ["signature", "vrfOutput"], "endorsement");
  return { signature: hex(o.signature, "signature"), vrfOutput: hex(o.vrfOutput, "vrfOutput", BYTES32_RE) };
}

function decodeCheckpoint(v: unknown): CheckpointMsg {
  const o = obj(v, "checkpoint");
  if (o.type !== "checkpoint") fail("expected checkpoint");
  return {
    type: "checkpoint",
    ...base(o, "checkpoint", ["seq", "stateDigest"]),
    seq: int(o.seq, "seq"),
    stateDigest: hex(o.stateDigest, "stateDigest", BYTES32_RE),
  };
}

function decodeProof(v: unknown): PreparedProof {
  const o = obj(v, "prepared proof");
  keys(o, ["prePrepare", "prepares"], "prepared proof");
  return { prePrepare: decodePrePrepare(o.prePrepare), prepares: arr(o.prepares, "prepares", 1000).map(decodePrepare) };
}

function decodeViewChange(v: unknown): ViewChangeMsg {
  const o = obj(v, "view-change");
  if (o.type !== "view-change") fail("expected view-change");
  return {
    type: "view-change",
    ...base(o, "view-change", ["view", "stableSeq", "checkpointProof", "prepared"]),
    view: int(o.view, "view"),
    stableSeq: int(o.stableSeq, "stableSeq"),
    checkpointProof: arr(o.checkpointProof, "checkpointProof", 1000).map(decodeCheckpoint),
    prepared: arr(o.prepared, "prepared", 10_000).map(decodeProof),
  };
}

/** Decode and schema-check untrusted bytes. Throws PbftError PBFT_MALFORMED; authenticity is not checked here. */
export function decodeMessage(bytes: Uint8Array): PbftMessage {
  return parseMessage(parseJson(bytes));
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new PbftError("PBFT_MALFORMED", "PBFT message is not UTF-8 JSON", { cause });
  }
}

/**
 * Decode a payload that is either one message or a bundle (encodeBundle). Throws PbftError
 * PBFT_MALFORMED when any part is malformed: a bundle is accepted whole or not at all.
 */
export function decodeMessages(bytes: Uint8Array): PbftMessage[] {
  const parsed = parseJson(bytes);
  if (!Array.isArray(parsed)) return [parseMessage(parsed)];
  if (parsed.length === 0 || parsed.length > MAX_BUNDLE_MESSAGES) fail(`a bundle of ${parsed.length} messages`);
  return parsed.map(parseMessage);
}

/** Schema-check an already parsed value (e.g. one embedded in a larger envelope). */
export function parseMessage(parsed: unknown): PbftMessage {
  const o = obj(parsed, "message");
  switch (o.type) {
    case "request":
      return { type: "request", ...base(o, "request", ["vote"]), vote: decodeVote(o.vote) } satisfies RequestMsg;
    case "pre-prepare":
      return decodePrePrepare(o);
    case "prepare":
      return decodePrepare(o);
    case "commit":
      return {
        type: "commit",
        ...base(o, "commit", ["view", "seq", "digest", "endorsements"]),
        view: int(o.view, "view"),
        seq: int(o.seq, "seq"),
        digest: hex(o.digest, "digest", BYTES32_RE),
        endorsements: arr(o.endorsements, "endorsements", 10_000).map(decodeEndorsement),
      } satisfies CommitMsg;
    case "checkpoint":
      return decodeCheckpoint(o);
    case "view-change":
      return decodeViewChange(o);
    case "new-view":
      return {
        type: "new-view",
        ...base(o, "new-view", ["view", "viewChanges", "prePrepares"]),
        view: int(o.view, "view"),
        viewChanges: arr(o.viewChanges, "viewChanges", 1000).map(decodeViewChange),
        prePrepares: arr(o.prePrepares, "prePrepares", 10_000).map(decodePrePrepare),
      } satisfies NewViewMsg;
    default:
      return fail(`unknown type ${String(o.type)}`);
  }
}

function keccakHex(bytes: Uint8Array): Hex {
  return `0x${bytesToHex(keccak_256(bytes))}`;
}

/** Identity of one verdict proposal (canonical encoding of the Vote). */
export function voteDigest(vote: Vote): Hex {
  let d = voteDigestCache.get(vote);
  if (d === undefined) {
    d = keccakHex(canonical(vote));
    voteDigestCache.set(vote, d);
  }
  return d;
}

/** Digest of an ordered batch; the empty (null) batch has digest keccak256(""). */
export function batchDigest(batch: readonly Vote[]): Hex {
  return keccakHex(concatBytes(...batch.map((v) => hexToBytes(voteDigest(v).slice(2)))));
}

export const NULL_BATCH_DIGEST: Hex = batchDigest([]);
export const GENESIS_STATE_DIGEST: Hex = `0x${"00".repeat(32)}`;
export const ZERO_BYTES32: Hex = `0x${"00".repeat(32)}`;

/** State after executing one more batch: a hash chain, so equal digests mean equal histories. */
export function nextStateDigest(prev: Hex, seq: number, digest: Hex): Hex {
  const seqBytes = new Uint8Array(8);
  new DataView(seqBytes.buffer).setBigUint64(0, BigInt(seq));
  return keccakHex(concatBytes(hexToBytes(prev.slice(2)), seqBytes, hexToBytes(digest.slice(2))));
}

export function sameVote(a: Vote, b: Vote): boolean {
  return (
    a.round === b.round &&
    a.node === b.node &&
    a.verdict === b.verdict &&
    a.score === b.score &&
    a.evidenceCid.toLowerCase() === b.evidenceCid.toLowerCase() &&
    a.policyCid.toLowerCase() === b.policyCid.toLowerCase()
  );
}
