/**
 * secp256k1 helpers with the exact byte conventions of witnet's vrf-solidity / vrf-rs
 * (suite 0xFE, SECP256K1_SHA256_TAI): SEC1 point encodings, try-and-increment
 * hash-to-curve and the challenge hash over four points.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bigIntToBytes, bytesToBigInt, concatBytes } from "./encoding.js";
import { VrfError } from "./errors.js";

export const Point = secp256k1.Point;
export type Point = InstanceType<typeof secp256k1.Point>;

/** Field prime p and group order n of secp256k1. */
export const P = Point.CURVE().p;
export const N = Point.CURVE().n;

/** Suite byte of ECVRF-SECP256K1-SHA256-TAI as used by witnet. */
export const SUITE = 0xfe;

const Fp = Point.Fp;

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/**
 * The point with x-coordinate `x` and the requested parity, or null when x is not the
 * abscissa of a curve point (x >= p counts as "not on curve", as in the contract).
 */
export function liftX(x: bigint, odd: boolean): Point | null {
  if (x <= 0n || x >= P) return null;
  const rhs = mod(x * x * x + 7n, P);
  let y: bigint;
  try {
    // noble's secp256k1 square root (an addition chain); it throws for non-residues.
    y = Fp.sqrt(rhs);
  } catch {
    return null;
  }
  if (Fp.sqr(y) !== rhs) return null;
  const yy = (y & 1n) === (odd ? 1n : 0n) ? y : P - y;
  return Point.fromAffine({ x, y: yy });
}

/** SEC1 compressed encoding (33 bytes). The identity has no encoding here. */
export function encodeCompressed(p: Point): Uint8Array {
  const { x, y } = p.toAffine();
  return concatBytes(Uint8Array.of(y & 1n ? 0x03 : 0x02), bigIntToBytes(x, 32));
}

/**
 * Decodes a SEC1 point: compressed (33 B, 0x02/0x03) or uncompressed (65 B, 0x04).
 * Throws VrfError for any other length, prefix, or a point off the curve.
 */
export function decodePoint(bytes: Uint8Array, what = "point"): Point {
  if (bytes.length === 33) {
    const prefix = bytes[0];
    if (prefix !== 0x02 && prefix !== 0x03) {
      throw new VrfError("VRF_POINT_PREFIX", `${what}: compressed prefix must be 0x02 or 0x03, got 0x${(prefix ?? 0).toString(16)}`);
    }
    const p = liftX(bytesToBigInt(bytes.subarray(1)), prefix === 0x03);
    if (!p) throw new VrfError("VRF_POINT_NOT_ON_CURVE", `${what}: x is not on secp256k1`);
    return p;
  }
  if (bytes.length === 65) {
    if (bytes[0] !== 0x04) {
      throw new VrfError("VRF_POINT_PREFIX", `${what}: uncompressed prefix must be 0x04, got 0x${(bytes[0] ?? 0).toString(16)}`);
    }
    return pointFromCoordinates(bytesToBigInt(bytes.subarray(1, 33)), bytesToBigInt(bytes.subarray(33)), what);
  }
  throw new VrfError("VRF_POINT_LENGTH", `${what} must be 33 (compressed) or 65 (uncompressed) bytes, got ${bytes.length}`);
}

/** Affine coordinates to a validated point (rejects off-curve pairs). */
export function pointFromCoordinates(x: bigint, y: bigint, what = "point"): Point {
  if (x <= 0n || x >= P || y <= 0n || y >= P || mod(y * y - x * x * x - 7n, P) !== 0n) {
    throw new VrfError("VRF_POINT_NOT_ON_CURVE", `${what} (${x.toString(16)}, ${y.toString(16)}) is not on secp256k1`);
  }
  return Point.fromAffine({ x, y });
}

/**
 * ECVRF_hash_to_curve_try_and_increment: H = lift_even(sha256(0xFE || 0x01 || PK || alpha || ctr))
 * for the first one-byte ctr that lands on the curve. Cofactor is 1 on secp256k1.
 */
export function hashToTryAndIncrement(publicKey: Point, alpha: Uint8Array): Point {
  const buf = concatBytes(Uint8Array.of(SUITE, 0x01), encodeCompressed(publicKey), alpha, Uint8Array.of(0));
  const last = buf.length - 1;
  for (let ctr = 0; ctr < 256; ctr++) {
    buf[last] = ctr;
    const h = liftX(bytesToBigInt(sha256(buf)), false);
    if (h) return h;
  }
  // Probability 2^-256: the spec says to fail rather than loop forever.
  throw new VrfError("VRF_HASH_TO_CURVE", "no curve point found in 256 tries");
}

/** Challenge c: the first 16 bytes of sha256(0xFE || 0x02 || H || Gamma || U || V), compressed. */
export function hashPoints(h: Point, gamma: Point, u: Point, v: Point): bigint {
  const digest = sha256(
    concatBytes(
      Uint8Array.of(SUITE, 0x02),
      encodeCompressed(h),
      encodeCompressed(gamma),
      encodeCompressed(u),
      encodeCompressed(v),
    ),
  );
  return bytesToBigInt(digest.subarray(0, 16));
}
