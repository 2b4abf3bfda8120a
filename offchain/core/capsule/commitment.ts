/**
 * The content commitment the chain records for a capsule:
 *   sha256("trustmesh/capsule/commitment/v1" || salt(32) || payload)
 * The salt travels inside the ciphertext, so only recipients can recompute it; without the
 * salt an observer could test guesses of a low-entropy payload (a yes/no result, a name)
 * against a plain hash. sha256 rather than keccak256: the same primitive as the CIDs, and
 * no contract needs to recompute it (contracts store and compare it).
 */
import { createHash, timingSafeEqual } from "node:crypto";

export const COMMITMENT_DOMAIN = new TextEncoder().encode("trustmesh/capsule/commitment/v1");
export const SALT_BYTES = 32;

export function capsuleCommitment(salt: Uint8Array, payload: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(COMMITMENT_DOMAIN).update(salt).update(payload).digest());
}

/** True when (salt, payload) opens `commitment`; constant time in the digest. */
export function verifyCommitment(commitment: Uint8Array, salt: Uint8Array, payload: Uint8Array): boolean {
  return commitment.length === 32 && salt.length === SALT_BYTES && timingSafeEqual(capsuleCommitment(salt, payload), commitment);
}
