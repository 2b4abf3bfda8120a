/**
 * Entry point of the IPFS adapter. `openContentStore` picks the backend from config:
 * a Kubo daemon when an API URL is given, otherwise the embedded store (no network).
 */
import type { ContentStore } from "./content-store.js";
import { EmbeddedStore } from "./embedded.js";
import { KuboStore } from "./kubo.js";

export type ContentStoreConfig =
  | { backend: "embedded"; directory: string }
  | { backend: "kubo"; apiUrl: string; timeoutMs?: number };

export async function openContentStore(config: ContentStoreConfig): Promise<ContentStore> {
  return config.backend === "kubo"
    ? new KuboStore({ apiUrl: config.apiUrl, timeoutMs: config.timeoutMs })
    : EmbeddedStore.open({ directory: config.directory });
}

export type { ContentStore, GetOptions } from "./content-store.js";
export { EmbeddedStore } from "./embedded.js";
export { KuboStore } from "./kubo.js";
export { IpfsError } from "./errors.js";
export type { IpfsErrorCode } from "./errors.js";
export { CID, rawCid, verifyBlock, toCid, cidToHex, hexToCid, RAW_CODEC, SHA2_256 } from "./cid.js";
