/**
 * Capsules: the format (offchain/core/capsule, pure, also used by the HPC firmware) and
 * their storage in IPFS (store.ts). FORMAT.md describes the bytes.
 */
export { sealCapsule, openCapsule } from "../core/capsule/seal.js";
export type { SealParameters, SealedCapsule, OpenedCapsule } from "../core/capsule/seal.js";
export { sealToStore, openFromStore } from "./store.js";
export type { CapsuleRecord } from "./store.js";
export { generateCapsuleKeyPair, capsulePublicKey, keyId, keyToHex, keyFromHex } from "../core/capsule/keys.js";
export type { CapsuleKeyPair } from "../core/capsule/keys.js";
export { capsuleCommitment, verifyCommitment } from "../core/capsule/commitment.js";
export { decodeCapsule, encodeCapsule, CAPSULE_VERSION, SUITE } from "../core/capsule/format.js";
export type { Capsule, CapsuleContext } from "../core/capsule/format.js";
export { CapsuleError } from "../core/capsule/errors.js";
export type { CapsuleErrorCode } from "../core/capsule/errors.js";
