/**
 * ECVRF over secp256k1, suite 0xFE (ECVRF-SECP256K1-SHA256-TAI), byte-compatible with
 * witnet's vrf-rs and vrf-solidity: proofs are compressed Gamma (33 B) || c (16 B) || s (32 B).
 *
 * Only Gamma determines the output (beta = sha256(0xFE || 0x03 || compressed Gamma)); (c, s)
 * is a Chaum-Pedersen proof that log_G(Y) = log_H(Gamma). Proofs with s >= n are rejected
 * (RFC 9381 requires it; our on-chain verifier does the same) so both sides agree.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bigIntToBytes, bytesToBigInt, bytesToHex, concatBytes } from "./encoding.js";
import { VrfError } from "./errors.js";
import {
  N,
  Point,
  SUITE,
  decodePoint,
  encodeCompressed,
  hashPoints,
  hashToTryAndIncrement,
  pointFromCoordinates,
} from "./curve.js";
import { rfc6979Nonce } from "./rfc6979.js";
import { challengeMatchesNative, evaluateNative, proveNative } from "./native.js";

export const PROOF_LENGTH = 81;
const C_MAX = 1n << 128n;

/** A public key as SEC1 bytes (33 or 65), a point, or witnet's `[x, y]`. */
export type PublicKeyInput = Uint8Array | Point | readonly [bigint, bigint];

export interface DecodedProof {
  gamma: Point;
  c: bigint;
  s: bigint;
}

/** A proof as its 81-byte encoding, decoded, or witnet's `[gammaX, gammaY, c, s]`. */
export type ProofInput = Uint8Array | DecodedProof | readonly [bigint, bigint, bigint, bigint];

export type VerifyResult = { valid: true; beta: Uint8Array } | { valid: false };

export interface FastVerifyParams {
  /** U = s*G - c*Y */
  uPoint: [bigint, bigint];
  /** [sHx, sHy, cGammaX, cGammaY] with V = sH - cGamma */
  vComponents: [bigint, bigint, bigint, bigint];
}

export function toPublicKeyPoint(pk: PublicKeyInput): Point {
  if (pk instanceof Uint8Array) return decodePoint(pk, "public key");
  if (Array.isArray(pk)) {
    const [x, y] = pk as readonly [bigint, bigint];
    return pointFromCoordinates(x, y, "public key");
  }
  return pk as Point;
}

function toDecodedProof(proof: ProofInput): DecodedProof {
  if (proof instanceof Uint8Array) return decodeProof(proof);
  if (Array.isArray(proof)) {
    const [gx, gy, c, s] = proof as readonly [bigint, bigint, bigint, bigint];
    return { gamma: pointFromCoordinates(gx, gy, "proof Gamma"), c, s };
  }
  return proof as DecodedProof;
}

/** Secret key as 32 big-endian bytes or an integer; must lie in [1, n-1]. */
export function toSecretScalar(secretKey: Uint8Array | bigint): bigint {
  let x: bigint;
  if (secretKey instanceof Uint8Array) {
    if (secretKey.length !== 32) {
      throw new VrfError("VRF_SECRET_KEY", `secret key must be 32 bytes, got ${secretKey.length}`);
    }
    x = bytesToBigInt(secretKey);
  } else {
    x = secretKey;
  }
  if (x <= 0n || x >= N) throw new VrfError("VRF_SECRET_KEY", "secret key must be in [1, n-1]");
  return x;
}

export function derivePublicKey(secretKey: Uint8Array | bigint, compressed = true): Uint8Array {
  return Point.BASE.multiply(toSecretScalar(secretKey)).toBytes(compressed);
}

/** Splits an 81-byte proof. Throws VrfError on wrong length, bad prefix or Gamma off the curve. */
export function decodeProof(proof: Uint8Array): DecodedProof {
  if (proof.length !== PROOF_LENGTH) {
    throw new VrfError("VRF_PROOF_LENGTH", `proof must be ${PROOF_LENGTH} bytes, got ${proof.length}`);
  }
  return {
    gamma: decodePoint(proof.subarray(0, 33), "proof Gamma"),
    c: bytesToBigInt(proof.subarray(33, 49)),
    s: bytesToBigInt(proof.subarray(49, 81)),
  };
}

export function encodeProof({ gamma, c, s }: DecodedProof): Uint8Array {
  return concatBytes(encodeCompressed(gamma), bigIntToBytes(c, 16), bigIntToBytes(s, 32));
}

/** witnet's uint256[4] proof shape `[gammaX, gammaY, c, s]`. */
export function proofToArray(proof: ProofInput): [bigint, bigint, bigint, bigint] {
  const { gamma, c, s } = toDecodedProof(proof);
  const { x, y } = gamma.toAffine();
  return [x, y, c, s];
}

/** witnet's uint256[2] point shape `[x, y]`. */
export function pointToArray(pk: PublicKeyInput): [bigint, bigint] {
  const { x, y } = toPublicKeyPoint(pk).toAffine();
  return [x, y];
}

/** beta = sha256(0xFE || 0x03 || compressed Gamma). */
export function gammaToHash(gamma: Point): Uint8Array {
  return sha256(concatBytes(Uint8Array.of(SUITE, 0x03), encodeCompressed(gamma)));
}

/** The VRF output of a proof without verifying it: only use on proofs you verified or made. */
export function proofToHash(proof: ProofInput): Uint8Array {
  return gammaToHash(toDecodedProof(proof).gamma);
}

export function hashToCurve(publicKey: PublicKeyInput, alpha: Uint8Array): [bigint, bigint] {
  const { x, y } = hashToTryAndIncrement(toPublicKeyPoint(publicKey), alpha).toAffine();
  return [x, y];
}

/**
 * How the RFC 6979 nonce digests H. Both give valid proofs with the same Gamma and output;
 * only (c, s) differ.
 * - "hashed" (default): h1 = sha256(compressed H), as RFC 9381 and witnet's vrf-rs today.
 * - "legacy": h1 = compressed H itself (bits2int keeps its first 32 bytes), the draft-04
 *   era vrf-rs that generated the vectors shipped in vrf-solidity's test/data.json.
 */
export type NonceMode = "hashed" | "legacy";

export interface ProveOptions {
  nonce?: NonceMode;
}

/** ECVRF_prove: deterministic (RFC 6979 nonce). Returns the 81-byte proof. */
export function prove(secretKey: Uint8Array | bigint, alpha: Uint8Array, options: ProveOptions = {}): Uint8Array {
  const x = toSecretScalar(secretKey);
  return proveNative(x, alpha, options.nonce === "legacy") ?? provePortable(x, alpha, options);
}

/** prove() in pure JS: the fallback without the native build, and the tests' reference. */
export function provePortable(secretKey: Uint8Array | bigint, alpha: Uint8Array, options: ProveOptions = {}): Uint8Array {
  const x = toSecretScalar(secretKey);
  const y = Point.BASE.multiply(x);
  const h = hashToTryAndIncrement(y, alpha);
  const gamma = h.multiply(x);
  const hString = encodeCompressed(h);
  const k = rfc6979Nonce(x, options.nonce === "legacy" ? hString : sha256(hString));
  const c = hashPoints(h, gamma, Point.BASE.multiply(k), h.multiply(k));
  const s = (k + c * x) % N;
  return encodeProof({ gamma, c, s });
}

/**
 * The output a proof by this key would carry, without building the proof (one scalar
 * multiplication instead of three): lets a node check privately whether it is selected.
 */
export function evaluate(secretKey: Uint8Array | bigint, alpha: Uint8Array): Uint8Array {
  const x = toSecretScalar(secretKey);
  return evaluateNative(x, alpha) ?? evaluatePortable(x, alpha);
}

/** evaluate() in pure JS: the fallback without the native build, and the tests' reference. */
export function evaluatePortable(secretKey: Uint8Array | bigint, alpha: Uint8Array): Uint8Array {
  const x = toSecretScalar(secretKey);
  return gammaToHash(hashToTryAndIncrement(Point.BASE.multiply(x), alpha).multiply(x));
}

/**
 * ECVRF_verify. Unusable input (malformed key or proof bytes) throws VrfError; a well-formed
 * proof that does not check out returns `{ valid: false }`.
 */
export function verify(publicKey: PublicKeyInput, proof: ProofInput, alpha: Uint8Array): VerifyResult {
  const y = toPublicKeyPoint(publicKey);
  const { gamma, c, s } = toDecodedProof(proof);
  if (c >= C_MAX || s >= N || c < 0n || s < 0n) return { valid: false };
  const fast = challengeMatchesNative(encodeCompressed(y), encodeCompressed(gamma), c, s, alpha);
  if (fast) return fast.valid ? { valid: true, beta: gammaToHash(gamma) } : { valid: false };
  return verifyPortable(y, proof, alpha);
}

/** verify() in pure JS: the fallback without the native build (or for edge cases), and the tests' reference. */
export function verifyPortable(publicKey: PublicKeyInput, proof: ProofInput, alpha: Uint8Array): VerifyResult {
  const y = toPublicKeyPoint(publicKey);
  const { gamma, c, s } = toDecodedProof(proof);
  if (c >= C_MAX || s >= N || c < 0n || s < 0n) return { valid: false };
  const h = hashToTryAndIncrement(y, alpha);
  const negC = (N - c) % N;
  // U = sG - cY and V = sH - cGamma, each as one double-scalar multiplication.
  const u = Point.BASE.mulAddUnsafe(s, y, negC);
  const v = h.mulAddUnsafe(s, gamma, negC);
  // An identity U or V only arises from a degenerate nonce (k = 0) which no honest prover
  // uses; the identity has no SEC1 encoding, and the contract refuses it too.
  if (u.is0() || v.is0()) return { valid: false };
  if (hashPoints(h, gamma, u, v) !== c) return { valid: false };
  return { valid: true, beta: gammaToHash(gamma) };
}

/**
 * The helper points witnet's fastVerify takes: U = sG - cY, sH and cGamma, computed (not
 * checked) from the inputs exactly as vrf-solidity's computeFastVerifyParams does.
 */
export function computeFastVerifyParams(
  publicKey: PublicKeyInput,
  proof: ProofInput,
  alpha: Uint8Array,
): FastVerifyParams {
  const y = toPublicKeyPoint(publicKey);
  const { gamma, c, s } = toDecodedProof(proof);
  const h = hashToTryAndIncrement(y, alpha);
  const u = Point.BASE.mulAddUnsafe(s % N, y, (N - (c % N)) % N);
  const sH = h.multiplyUnsafe(s % N);
  const cGamma = gamma.multiplyUnsafe(c % N);
  if (u.is0() || sH.is0() || cGamma.is0()) {
    throw new VrfError("VRF_SCALAR_RANGE", "degenerate proof: a fastVerify helper point is the identity");
  }
  const ua = u.toAffine();
  const sa = sH.toAffine();
  const ca = cGamma.toAffine();
  return { uPoint: [ua.x, ua.y], vComponents: [sa.x, sa.y, ca.x, ca.y] };
}

/** The five arguments of IVRFVerifier.fastVerify, in witnet's shapes, ready for a contract call. */
export function fastVerifyArgs(
  publicKey: PublicKeyInput,
  proof: ProofInput,
  alpha: Uint8Array,
): readonly [[bigint, bigint], [bigint, bigint, bigint, bigint], `0x${string}`, [bigint, bigint], [bigint, bigint, bigint, bigint]] {
  const fp = computeFastVerifyParams(publicKey, proof, alpha);
  return [pointToArray(publicKey), proofToArray(proof), bytesToHex(alpha) as `0x${string}`, fp.uPoint, fp.vComponents];
}
