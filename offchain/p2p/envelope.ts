/**
 * The signed envelope every gossip message travels in. Binary, fixed layout, so the
 * encoding is canonical (one byte string per message) and decoding is a bounds check:
 *
 *   version u8 | type u8 | round u256 | sender u64 | timestamp u64 (ms) | nonce 16 B
 *   | payload length u32 | payload | signature 65 B (r || s || v)
 *
 * The signature is EIP-191 (personal_sign) by the sender's gateway key over
 * keccak256("trustmesh/envelope/2" || chainId u64 || header || sha256(payload)).
 * The chain id in the digest keeps a message of one deployment void in another; the
 * EIP-191 prefix keeps an envelope signature from ever being a transaction or a vote.
 *
 * Why the payload goes in as its SHA-256 (version 2): the digest is computed once per
 * message per hop, and payloads run to hundreds of kilobytes (evidence). keccak-256 is pure
 * JS here and was 4% of a 7-gateway devnet's CPU when it covered the whole body; Node's
 * native SHA-256 does the bulk and keccak only 134 bytes. Binding is unchanged: the header
 * fixes the payload's length and the hash its content.
 */
import { createHash } from "node:crypto";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { concatBytes, hexToBytes, type Address, type Hex } from "viem";
import { hexOf } from "../core/hex.js";
import { eip191Hash32, recoverAddressFromHash } from "../core/crypto/index.js";
import { P2pError, P2pErrorCode } from "./errors.js";
import type { GatewaySigner } from "./signer.js";
import { isMessageType, type MessageType } from "./topics.js";
import { rememberBounded } from "../core/bounded-map.js";

export const ENVELOPE_VERSION = 2;
export const MAX_PAYLOAD_BYTES = 256 * 1024;
const HEADER_BYTES = 1 + 1 + 32 + 8 + 8 + 16 + 4;
const SIGNATURE_BYTES = 65;
const DIGEST_TAG = new TextEncoder().encode("trustmesh/envelope/2");
const U64_MAX = (1n << 64n) - 1n;
const U256_MAX = (1n << 256n) - 1n;

export interface EnvelopeFields {
  type: MessageType;
  round: bigint;
  sender: bigint;
  timestamp: bigint;
  nonce: Uint8Array;
  payload: Uint8Array;
}

export interface Envelope extends EnvelopeFields {
  version: number;
  signature: Hex;
  /** The signed digest (before the EIP-191 prefix): the message's identity for replay checks. */
  digest: Hex;
}

function writeUint(out: Uint8Array, offset: number, width: number, value: bigint): void {
  let v = value;
  for (let i = offset + width - 1; i >= offset; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function readUint(buf: Uint8Array, offset: number, width: number): bigint {
  let v = 0n;
  for (let i = offset; i < offset + width; i++) v = (v << 8n) | BigInt(buf[i]!);
  return v;
}

function encodeBody(f: EnvelopeFields): Uint8Array {
  if (f.payload.length > MAX_PAYLOAD_BYTES) {
    throw new P2pError(P2pErrorCode.EnvelopeTooLarge, `payload of ${f.payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  }
  if (f.nonce.length !== 16) throw new P2pError(P2pErrorCode.EnvelopeMalformed, `nonce must be 16 bytes, got ${f.nonce.length}`);
  if (f.round < 0n || f.round > U256_MAX) throw new P2pError(P2pErrorCode.EnvelopeMalformed, "round does not fit in uint256");
  for (const [name, v] of [["sender", f.sender], ["timestamp", f.timestamp]] as const) {
    if (v < 0n || v > U64_MAX) throw new P2pError(P2pErrorCode.EnvelopeMalformed, `${name} does not fit in uint64`);
  }
  const out = new Uint8Array(HEADER_BYTES + f.payload.length);
  out[0] = ENVELOPE_VERSION;
  out[1] = f.type;
  writeUint(out, 2, 32, f.round);
  writeUint(out, 34, 8, f.sender);
  writeUint(out, 42, 8, f.timestamp);
  out.set(f.nonce, 50);
  writeUint(out, 66, 4, BigInt(f.payload.length));
  out.set(f.payload, HEADER_BYTES);
  return out;
}

/** The signed digest of an envelope body (header || payload); see the file comment. */
export function envelopeDigest(chainId: number, body: Uint8Array): Hex {
  if (body.length < HEADER_BYTES) throw new P2pError(P2pErrorCode.EnvelopeMalformed, `envelope body of ${body.length} bytes is shorter than its header`);
  const input = new Uint8Array(DIGEST_TAG.length + 8 + HEADER_BYTES + 32);
  input.set(DIGEST_TAG, 0);
  writeUint(input, DIGEST_TAG.length, 8, BigInt(chainId));
  input.set(body.subarray(0, HEADER_BYTES), DIGEST_TAG.length + 8);
  input.set(createHash("sha256").update(body.subarray(HEADER_BYTES)).digest(), DIGEST_TAG.length + 8 + HEADER_BYTES);
  return hexOf(keccak_256(input));
}

/** Build and sign an envelope; returns the wire bytes and the envelope's digest. */
export async function signEnvelope(signer: GatewaySigner, chainId: number, fields: EnvelopeFields): Promise<{ bytes: Uint8Array; digest: Hex }> {
  const body = encodeBody(fields);
  const digest = envelopeDigest(chainId, body);
  const signature = hexToBytes(await signer.signMessage({ message: { raw: digest } }));
  if (signature.length !== SIGNATURE_BYTES) {
    throw new P2pError(P2pErrorCode.EnvelopeMalformed, `signer returned a ${signature.length}-byte signature`);
  }
  return { bytes: concatBytes([body, signature]), digest };
}

export type DecodeResult = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/** Parse wire bytes; never throws on peer input. */
export function decodeEnvelope(chainId: number, bytes: Uint8Array): DecodeResult {
  if (bytes.length < HEADER_BYTES + SIGNATURE_BYTES) return { ok: false, reason: `too short (${bytes.length} bytes)` };
  const version = bytes[0]!;
  if (version !== ENVELOPE_VERSION) return { ok: false, reason: `unknown version ${version}` };
  const type = bytes[1]!;
  if (!isMessageType(type)) return { ok: false, reason: `unknown message type ${type}` };
  const payloadLength = Number(readUint(bytes, 66, 4));
  if (payloadLength > MAX_PAYLOAD_BYTES) return { ok: false, reason: `payload length ${payloadLength} too large` };
  // Exact length: trailing bytes would give one message two encodings (and two ids).
  if (bytes.length !== HEADER_BYTES + payloadLength + SIGNATURE_BYTES) {
    return { ok: false, reason: `length ${bytes.length} does not match payload length ${payloadLength}` };
  }
  const bodyEnd = HEADER_BYTES + payloadLength;
  const body = bytes.subarray(0, bodyEnd);
  return {
    ok: true,
    envelope: {
      version,
      type,
      round: readUint(bytes, 2, 32),
      sender: readUint(bytes, 34, 8),
      timestamp: readUint(bytes, 42, 8),
      nonce: bytes.slice(50, 66),
      payload: bytes.slice(HEADER_BYTES, bodyEnd),
      signature: hexOf(bytes.subarray(bodyEnd)),
      digest: envelopeDigest(chainId, body),
    },
  };
}

/**
 * The gateway address that signed the envelope, or null when the signature is unusable.
 * Synchronous, on offchain/core/crypto (libsecp256k1 where it loads, ~70 us): this runs once
 * per message per hop.
 *
 * Recovered signers by (digest, signature). Recovery is a pure function of those bytes, and
 * one envelope reaches a host several times (gossip, PBFT relays) - or several hosts of one
 * process (a devnet) - so the costly ecrecover runs once per distinct envelope. Bounded.
 */
const recovered = new Map<string, Address | null>();
const RECOVERED_MAX = 4096;

export function recoverEnvelopeSigner(envelope: Envelope): Address | null {
  const key = `${envelope.digest}${envelope.signature}`;
  const hit = recovered.get(key);
  if (hit !== undefined) return hit;
  const signer = recoverUncached(envelope);
  return rememberBounded(recovered, key, signer, RECOVERED_MAX);
}

function recoverUncached(envelope: Envelope): Address | null {
  // Low s only, as everything signed with viem or offchain/core/crypto is; a high-s twin of a
  // valid envelope is refused rather than accepted as a second encoding.
  return recoverAddressFromHash(eip191Hash32(hexToBytes(envelope.digest)), envelope.signature);
}
