/**
 * ECVRF prove, evaluate and verify on libsecp256k1 (the `secp256k1` package's N-API build), for
 * the gateways' hot path: every gateway proves once per round it may verify, and in pure
 * JS each proof costs three generic scalar multiplications (~7 ms idle, far more on a
 * loaded event loop). Points stay SEC1-compressed bytes throughout, which is exactly what
 * the suite hashes, so no affine conversions are needed.
 *
 * Same bytes and verdicts as the pure-JS path in ecvrf.ts, which stays the fallback and
 * the tests' reference (they compare both on every vector).
 * Off where the ECDSA backend is noble (TRUSTMESH_SECP256K1=noble, or no native build).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { nativeLibraryInUse as lib, type NativeSecp256k1 } from "../crypto/backend.js";
import { bigIntToBytes, bytesToBigInt, concatBytes } from "./encoding.js";
import { VrfError } from "./errors.js";
import { N, SUITE } from "./curve.js";
import { rfc6979Nonce } from "./rfc6979.js";

/** Whether the native path is in use (tests run the pure-JS path too). */
export const nativeVrfAvailable = lib !== null;

const scalar = (k: bigint): Uint8Array => bigIntToBytes(k, 32);

/** c = first 16 bytes of sha256(0xFE || 0x02 || H || Gamma || U || V), points compressed. */
const challenge = (h: Uint8Array, gamma: Uint8Array, u: Uint8Array, v: Uint8Array): bigint =>
  bytesToBigInt(sha256(concatBytes(Uint8Array.of(SUITE, 0x02), h, gamma, u, v)).subarray(0, 16));

/** try-and-increment over compressed bytes: the first candidate 0x02 || digest that is a curve point. */
function hashToCurveCompressed(api: NativeSecp256k1, publicKey: Uint8Array, alpha: Uint8Array): Uint8Array {
  const buf = concatBytes(Uint8Array.of(SUITE, 0x01), publicKey, alpha, Uint8Array.of(0));
  const last = buf.length - 1;
  const candidate = new Uint8Array(33);
  candidate[0] = 0x02;
  for (let ctr = 0; ctr < 256; ctr++) {
    buf[last] = ctr;
    candidate.set(sha256(buf), 1);
    // publicKeyVerify parses the point: x >= p or no square root -> false, as liftX in curve.ts.
    if (api.publicKeyVerify(candidate)) return candidate.slice();
  }
  throw new VrfError("VRF_HASH_TO_CURVE", "no curve point found in 256 tries");
}

/** The 81-byte proof, or null when the native build is unavailable (the caller falls back). */
export function proveNative(x: bigint, alpha: Uint8Array, legacyNonce: boolean): Uint8Array | null {
  if (!lib) return null;
  const xBytes = scalar(x);
  const y = lib.publicKeyCreate(xBytes, true);
  const h = hashToCurveCompressed(lib, y, alpha);
  const gamma = lib.publicKeyTweakMul(h, xBytes, true);
  const k = rfc6979Nonce(x, legacyNonce ? h : sha256(h));
  const kBytes = scalar(k);
  const u = lib.publicKeyCreate(kBytes, true);
  const v = lib.publicKeyTweakMul(h, kBytes, true);
  const c = challenge(h, gamma, u, v);
  const s = (k + c * x) % N;
  return concatBytes(gamma, bigIntToBytes(c, 16), bigIntToBytes(s, 32));
}

/** beta for this key and alpha without a proof, or null when the native build is unavailable. */
export function evaluateNative(x: bigint, alpha: Uint8Array): Uint8Array | null {
  if (!lib) return null;
  const xBytes = scalar(x);
  const h = hashToCurveCompressed(lib, lib.publicKeyCreate(xBytes, true), alpha);
  const gamma = lib.publicKeyTweakMul(h, xBytes, true);
  return sha256(concatBytes(Uint8Array.of(SUITE, 0x03), gamma));
}

/**
 * The challenge check of ECVRF_verify (U = sG - cY, V = sH - cGamma, c == hash(H, Gamma, U, V))
 * over compressed points. Returns null whenever the native path cannot decide exactly as
 * the portable one would (no native build, s or c zero, an identity U or V): the caller
 * then runs the portable verify, so both paths always agree.
 */
export function challengeMatchesNative(
  publicKey: Uint8Array,
  gamma: Uint8Array,
  c: bigint,
  s: bigint,
  alpha: Uint8Array,
): { valid: boolean } | null {
  if (!lib || c === 0n || s === 0n || s >= N) return null;
  try {
    const h = hashToCurveCompressed(lib, publicKey, alpha);
    const negC = scalar((N - c) % N);
    const sBytes = scalar(s);
    const u = lib.publicKeyCombine([lib.publicKeyCreate(sBytes, true), lib.publicKeyTweakMul(publicKey, negC, true)], true);
    const v = lib.publicKeyCombine([lib.publicKeyTweakMul(h, sBytes, true), lib.publicKeyTweakMul(gamma, negC, true)], true);
    return { valid: challenge(h, gamma, u, v) === c };
  } catch {
    return null;
  }
}
