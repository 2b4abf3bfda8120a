/**
 * Errors of the attested agent bridge. Channel errors (handshake, decryption, framing)
 * close the connection; request errors (schema, replayed nonce) become an error reply
 * and the agent keeps serving.
 */
import { TrustmeshError, type TrustmeshErrorOptions } from "../../core/errors.js";

export type BridgeErrorCode =
  /** Noise handshake failed or the peer's static key is not the pinned one. */
  | "HANDSHAKE_FAILED"
  | "PEER_NOT_PINNED"
  /** A transport frame did not decrypt/authenticate (tampering, desync). */
  | "DECRYPT_FAILED"
  /** A frame is oversized or the stream ended mid-frame. */
  | "FRAME_INVALID"
  /** A message does not satisfy the bridge schema. */
  | "MESSAGE_INVALID"
  /** The gateway nonce was seen before. */
  | "NONCE_REPLAYED"
  /** The request's issue time is outside the accepted window. */
  | "NONCE_STALE"
  /** The evidence's nonce does not commit to our nonce and this channel. */
  | "BINDING_MISMATCH"
  /** The agent answered with an error reply. */
  | "AGENT_ERROR"
  /** No answer in time or the connection closed. */
  | "TIMEOUT"
  | "CLOSED";

export class BridgeError extends TrustmeshError {
  override name = "BridgeError";
  declare readonly code: BridgeErrorCode;

  constructor(code: BridgeErrorCode, shortMessage: string, options: TrustmeshErrorOptions = {}) {
    super(code, shortMessage, options);
  }
}
