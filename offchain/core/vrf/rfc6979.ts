/**
 * RFC 6979 section 3.2 deterministic nonce for secp256k1 with HMAC-SHA256 (qlen = hlen = 256).
 * The caller chooses h1 (see NonceMode in ecvrf.ts).
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bigIntToBytes, bytesToBigInt, concatBytes } from "./encoding.js";
import { N } from "./curve.js";

/** bits2int for qlen = 256: the leftmost 256 bits of the input as an integer. */
function bits2int(bytes: Uint8Array): bigint {
  const v = bytesToBigInt(bytes);
  const excess = bytes.length * 8 - 256;
  return excess > 0 ? v >> BigInt(excess) : v;
}

/** The nonce k in [1, n-1] for secret `x` and message digest `h1`. */
export function rfc6979Nonce(x: bigint, h1: Uint8Array): bigint {
  const xOctets = bigIntToBytes(x, 32);
  const hOctets = bigIntToBytes(bits2int(h1) % N, 32);
  let v = new Uint8Array(32).fill(0x01);
  let k = new Uint8Array(32);
  k = hmac(sha256, k, concatBytes(v, Uint8Array.of(0x00), xOctets, hOctets));
  v = hmac(sha256, k, v);
  k = hmac(sha256, k, concatBytes(v, Uint8Array.of(0x01), xOctets, hOctets));
  v = hmac(sha256, k, v);
  for (;;) {
    v = hmac(sha256, k, v);
    const candidate = bits2int(v);
    if (candidate > 0n && candidate < N) return candidate;
    k = hmac(sha256, k, concatBytes(v, Uint8Array.of(0x00)));
    v = hmac(sha256, k, v);
  }
}
