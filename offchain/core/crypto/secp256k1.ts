/**
 * secp256k1 ECDSA over 32-byte digests, on the fastest backend that loads (backend.ts).
 * Signatures are 64-byte r||s with a separate recovery id, always low s: the form
 * OpenZeppelin's ECDSA.recover accepts on chain, and the only form verification and recovery
 * here accept, so one signed message never has a second valid encoding.
 *
 * Misuse by the caller (a malformed key, a digest of the wrong length) throws CryptoError;
 * whatever a peer can send (any signature bytes) makes verify false and recover null.
 */
import { hexDigits, hexOf } from "../hex.js";
import { defaultBackend, type EcdsaBackend } from "./backend.js";
import { CryptoError, CryptoErrorCode } from "./errors.js";
import { rememberBounded } from "../bounded-map.js";

export type { EcdsaBackend } from "./backend.js";

export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = SECP256K1_N >> 1n;

export interface RecoverableSignature {
  /** r || s, 32 bytes each, s <= n/2 */
  signature: Uint8Array;
  /** 0 or 1: the parity of R's y coordinate */
  recovery: number;
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(hexOf(bytes));
}

function fromBigInt(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let x = v;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function checkDigest(digest: Uint8Array): void {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new CryptoError(CryptoErrorCode.InvalidDigest, `a digest must be 32 bytes, got ${digest instanceof Uint8Array ? digest.length : typeof digest}`);
  }
}

/** 1 <= r, s < n and s <= n/2. */
export function isCanonicalSignature(signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const r = toBigInt(signature.subarray(0, 32));
  const s = toBigInt(signature.subarray(32));
  return r > 0n && r < SECP256K1_N && s > 0n && s <= HALF_N;
}

/**
 * The low-s twin of a signature: (r, n - s) with the recovery id flipped, which verifies and
 * recovers to the same key. For signatures from signers that do not normalise (some HSMs,
 * old libraries); everything signed here is low s already.
 */
export function normaliseSignature(sig: RecoverableSignature): RecoverableSignature {
  if (sig.signature.length !== 64) return sig;
  const s = toBigInt(sig.signature.subarray(32));
  if (s <= HALF_N || s >= SECP256K1_N) return sig;
  const out = new Uint8Array(64);
  out.set(sig.signature.subarray(0, 32));
  out.set(fromBigInt(SECP256K1_N - s), 32);
  return { signature: out, recovery: sig.recovery ^ 1 };
}

/**
 * Public keys already parsed, by their hex: each peer key is parsed (a square root for the
 * compressed form) and checked once, then verification reuses the uncompressed encoding.
 * Bounded: a committee is small, but a process may see many.
 */
const parsedKeys = new Map<string, Uint8Array>();
const PARSED_MAX = 1024;

function parsePublicKey(publicKey: Uint8Array, backend: EcdsaBackend): Uint8Array {
  const hex = hexDigits(publicKey);
  const hit = parsedKeys.get(hex);
  if (hit !== undefined) return hit;
  let uncompressed: Uint8Array;
  try {
    if (publicKey.length !== 33 && publicKey.length !== 65) throw new Error(`length ${publicKey.length}`);
    uncompressed = backend.convert(publicKey, false);
  } catch (cause) {
    throw new CryptoError(CryptoErrorCode.InvalidPublicKey, "not a secp256k1 public key (SEC1, 33 or 65 bytes, on the curve)", { cause, details: `0x${hex}` });
  }
  return rememberBounded(parsedKeys, hex, uncompressed, PARSED_MAX);
}

/** Validates a public key (throws CryptoError when it is not a curve point); returns its 65-byte form. */
export function uncompressedPublicKey(publicKey: Uint8Array, backend: EcdsaBackend = defaultBackend): Uint8Array {
  return parsePublicKey(publicKey, backend);
}

function checkSecretKey(secretKey: Uint8Array): void {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new CryptoError(CryptoErrorCode.InvalidSecretKey, "a secp256k1 secret key must be 32 bytes");
  }
  const k = toBigInt(secretKey);
  if (k === 0n || k >= SECP256K1_N) throw new CryptoError(CryptoErrorCode.InvalidSecretKey, "secret key out of range (0 < k < n)");
}

export function publicKeyFromSecret(secretKey: Uint8Array, compressed = true, backend: EcdsaBackend = defaultBackend): Uint8Array {
  checkSecretKey(secretKey);
  return backend.publicKey(secretKey, compressed);
}

/** Deterministic (RFC 6979), low-s ECDSA over `digest`, which the caller has hashed. */
export function signDigest(secretKey: Uint8Array, digest: Uint8Array, backend: EcdsaBackend = defaultBackend): RecoverableSignature {
  checkDigest(digest);
  checkSecretKey(secretKey);
  return normaliseSignature(backend.sign(digest, secretKey));
}

/** True when `signature` (64-byte r||s, low s) is `publicKey`'s over `digest`. */
export function verifyDigest(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array, backend: EcdsaBackend = defaultBackend): boolean {
  checkDigest(digest);
  const key = parsePublicKey(publicKey, backend);
  if (!isCanonicalSignature(signature)) return false;
  try {
    return backend.verify(signature, digest, key);
  } catch {
    return false;
  }
}

/** The uncompressed public key that signed `digest`, or null (bad bytes, high s, no point). */
export function recoverDigest(digest: Uint8Array, sig: RecoverableSignature, backend: EcdsaBackend = defaultBackend): Uint8Array | null {
  checkDigest(digest);
  if ((sig.recovery !== 0 && sig.recovery !== 1) || !isCanonicalSignature(sig.signature)) return null;
  try {
    return backend.recover(sig.signature, sig.recovery, digest);
  } catch {
    return null;
  }
}
