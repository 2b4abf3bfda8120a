import { TrustmeshError } from "../../offchain/core/errors.js";

/**
 * Failures of the content store. `code` is stable:
 * - CID_INVALID: the bytes or string are not a CID we accept (CIDv1, sha2-256)
 * - CID_MISMATCH: a backend returned bytes whose hash is not the CID's multihash
 * - NOT_FOUND: the block is not held locally (embedded) or by the daemon (Kubo)
 * - ABORTED: the caller's signal fired
 * - BACKEND: the backend failed for another reason (I/O, HTTP, daemon error)
 */
export type IpfsErrorCode = "CID_INVALID" | "CID_MISMATCH" | "NOT_FOUND" | "ABORTED" | "BACKEND";

export class IpfsError extends TrustmeshError {
  override name = "IpfsError";
  declare readonly code: IpfsErrorCode;
}
