/**
 * Ethereum conventions over secp256k1.ts: 65-byte r||s||v signatures (v = 27 + recovery, as
 * viem and personal_sign emit them, and as the contracts' ECDSA.recover takes them),
 * addresses from public keys, and the EIP-191 hash of a 32-byte message. Verification against
 * a known address is recovery plus a comparison: with libsecp256k1, recovery costs about what
 * verification does, and callers here know addresses, not public keys.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { getAddress, type Address, type Hex } from "viem";
import { hexDigits, hexOf } from "../hex.js";
import type { EcdsaBackend } from "./backend.js";
import { defaultBackend } from "./backend.js";
import { publicKeyFromSecret, recoverDigest, signDigest, uncompressedPublicKey } from "./secp256k1.js";
import { rememberBounded } from "../bounded-map.js";

const EIP191_PREFIX_32 = new TextEncoder().encode("\x19Ethereum Signed Message:\n32");

function bytesOf(h: Hex | Uint8Array): Uint8Array | null {
  if (h instanceof Uint8Array) return h;
  if (typeof h !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(h)) return null;
  return hexToBytes(h.slice(2));
}

/** keccak256("\x19Ethereum Signed Message:\n32" || digest): what personal_sign signs for a 32-byte message. */
export function eip191Hash32(digest: Uint8Array): Uint8Array {
  const buf = new Uint8Array(EIP191_PREFIX_32.length + 32);
  buf.set(EIP191_PREFIX_32);
  buf.set(digest, EIP191_PREFIX_32.length);
  return keccak_256(buf);
}

/**
 * Addresses of recovered keys, by key: a committee's few signers recover to the same keys
 * over and over, and the address (keccak, then the checksum's second keccak) costs about a
 * third of a native recovery. Bounded.
 */
const addresses = new Map<string, Address>();
const ADDRESSES_MAX = 1024;

/** The checksummed address of a SEC1 public key (throws CryptoError when it is not one). */
export function addressOfPublicKey(publicKey: Uint8Array, backend: EcdsaBackend = defaultBackend): Address {
  const full = publicKey.length === 65 && publicKey[0] === 4 ? publicKey : uncompressedPublicKey(publicKey, backend);
  const key = hexDigits(full);
  const hit = addresses.get(key);
  if (hit !== undefined) return hit;
  const address = getAddress(hexOf(keccak_256(full.subarray(1)).subarray(12)));
  return rememberBounded(addresses, key, address, ADDRESSES_MAX);
}

export function addressOfSecretKey(secretKey: Uint8Array, backend: EcdsaBackend = defaultBackend): Address {
  return addressOfPublicKey(publicKeyFromSecret(secretKey, false, backend), backend);
}

/** Sign a 32-byte hash: 65-byte r||s||v hex, byte for byte what viem's `sign({ hash })` returns. */
export function signHash(secretKey: Uint8Array, hash: Uint8Array, backend: EcdsaBackend = defaultBackend): Hex {
  const { signature, recovery } = signDigest(secretKey, hash, backend);
  const rsv = new Uint8Array(65);
  rsv.set(signature);
  rsv[64] = 27 + recovery;
  return hexOf(rsv);
}

/**
 * The address whose key made a 65-byte r||s||v signature over `hash`; v may be 27/28 or 0/1.
 * Null for anything else, including high s (OpenZeppelin's ECDSA.recover reverts on it).
 */
export function recoverAddressFromHash(hash: Uint8Array | Hex, signature: Uint8Array | Hex, backend: EcdsaBackend = defaultBackend): Address | null {
  const h = bytesOf(hash);
  const sig = bytesOf(signature);
  if (h === null || h.length !== 32 || sig === null || sig.length !== 65) return null;
  const v = sig[64]!;
  const recovery = v >= 27 ? v - 27 : v;
  if (recovery !== 0 && recovery !== 1) return null;
  const pub = recoverDigest(h, { signature: sig.subarray(0, 64), recovery }, backend);
  return pub === null ? null : addressOfPublicKey(pub, backend);
}
