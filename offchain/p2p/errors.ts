/**
 * Errors of the P2P layer. Input paths (a peer's bytes) never throw these at a daemon:
 * validation returns a result; these are for local misuse (bad config, publishing while
 * stopped) and for the binding codec, whose callers catch and evict.
 */
import { TrustmeshError } from "../core/errors.js";

export const P2pErrorCode = {
  BindingMalformed: "P2P_BINDING_MALFORMED",
  BindingInvalid: "P2P_BINDING_INVALID",
  EnvelopeMalformed: "P2P_ENVELOPE_MALFORMED",
  EnvelopeTooLarge: "P2P_ENVELOPE_TOO_LARGE",
  NotStarted: "P2P_NOT_STARTED",
  MissingComponent: "P2P_MISSING_COMPONENT",
  PeerNotAdmitted: "P2P_PEER_NOT_ADMITTED",
  DeliveryFailed: "P2P_DELIVERY_FAILED",
  Config: "P2P_CONFIG",
} as const;
export type P2pErrorCode = (typeof P2pErrorCode)[keyof typeof P2pErrorCode];

export class P2pError extends TrustmeshError {
  override name = "P2pError";
  constructor(code: P2pErrorCode, shortMessage: string, options: ConstructorParameters<typeof TrustmeshError>[2] = {}) {
    super(code, shortMessage, options);
  }
}
