/**
 * One interface for content-addressed storage, whatever holds the blocks. Every `get`
 * hashes what it returns against the CID, so a lying disk or daemon yields CID_MISMATCH,
 * never wrong bytes.
 */
import type { CID } from "multiformats/cid";

export interface GetOptions {
  /** Aborts the read; the store then throws ABORTED. */
  signal?: AbortSignal;
}

export interface ContentStore {
  /** Which backend this is, for logs and status output. */
  readonly kind: "embedded" | "kubo";
  /** Stores `bytes` as one raw block and returns its raw/sha2-256 CIDv1. */
  put(bytes: Uint8Array, options?: GetOptions): Promise<CID>;
  /** The block's bytes, verified against `cid`'s multihash before they are returned. */
  get(cid: CID, options?: GetOptions): Promise<Uint8Array>;
  /** Keeps the block from garbage collection. NOT_FOUND when the block is absent. */
  pin(cid: CID, options?: GetOptions): Promise<void>;
  /** True when the block is held locally; never fetches. */
  has(cid: CID, options?: GetOptions): Promise<boolean>;
  /** Releases files and connections. Idempotent. */
  close(): Promise<void>;
}
