/**
 * Capsules in IPFS. A capsule is one raw block; what the chain sees is its CID (binary
 * CIDv1 bytes) and the plaintext commitment, both as 0x-hex ready for viem.
 */
import type { CID } from "multiformats/cid";
import type { ContentStore } from "../../ipfs/adapter/content-store.js";
import { cidToHex } from "../../ipfs/adapter/cid.js";
import { openCapsule, sealCapsule } from "../core/capsule/seal.js";
import type { OpenedCapsule, SealParameters } from "../core/capsule/seal.js";
import type { CapsuleContext } from "../core/capsule/format.js";
import { hexOf } from "../core/hex.js";

export interface CapsuleRecord {
  cid: CID;
  /** What a contract stores: binary CID and commitment as hex. */
  chain: { cid: `0x${string}`; commitment: `0x${string}` };
}

/** Seals, stores and pins a capsule. */
export async function sealToStore(store: ContentStore, params: SealParameters): Promise<CapsuleRecord> {
  const sealed = await sealCapsule(params);
  const cid = await store.put(sealed.bytes);
  await store.pin(cid);
  return { cid, chain: { cid: cidToHex(cid), commitment: hexOf(sealed.commitment) } };
}

/** Fetches a capsule by CID (verified by the store) and opens it. */
export async function openFromStore(
  store: ContentStore,
  cid: CID,
  privateKey: Uint8Array,
  expected: CapsuleContext,
  options: { signal?: AbortSignal } = {},
): Promise<OpenedCapsule> {
  return openCapsule(await store.get(cid, options), privateKey, expected);
}
