/**
 * X25519 key pairs for capsules: 32-byte raw keys (RFC 7748), as HPKE's DHKEM(X25519)
 * serialises them. Hex with a 0x prefix is the text form (config files, CLI, chain).
 */
import { createHash, randomBytes } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { CapsuleError } from "./errors.js";
import { hexOf } from "../hex.js";

export const X25519_KEY_BYTES = 32;
/** Recipient entries carry this many bytes of sha256(publicKey) to find one's own entry. */
export const KEY_ID_BYTES = 8;

export interface CapsuleKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export function generateCapsuleKeyPair(): CapsuleKeyPair {
  const privateKey = new Uint8Array(randomBytes(X25519_KEY_BYTES));
  return { privateKey, publicKey: capsulePublicKey(privateKey) };
}

export function capsulePublicKey(privateKey: Uint8Array): Uint8Array {
  checkLength(privateKey, "private");
  return x25519.getPublicKey(privateKey);
}

export function keyId(publicKey: Uint8Array): Uint8Array {
  checkLength(publicKey, "public");
  return new Uint8Array(createHash("sha256").update(publicKey).digest().subarray(0, KEY_ID_BYTES));
}

export function keyToHex(key: Uint8Array): `0x${string}` {
  checkLength(key, "capsule");
  return hexOf(key);
}

export function keyFromHex(hex: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) {
    throw new CapsuleError("CAPSULE_KEY", "a capsule key is 0x followed by 64 hex digits (32 bytes)");
  }
  return new Uint8Array(Buffer.from(hex.slice(2), "hex"));
}

function checkLength(key: Uint8Array, kind: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    throw new CapsuleError("CAPSULE_KEY", `an X25519 ${kind} key is ${X25519_KEY_BYTES} bytes`);
  }
}
