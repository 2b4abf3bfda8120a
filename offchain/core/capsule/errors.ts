import { TrustmeshError } from "../errors.js";

/**
 * Capsule failures. `code` is stable:
 * - CAPSULE_MALFORMED: the bytes do not parse as a capsule
 * - CAPSULE_VERSION / CAPSULE_SUITE: a format version or HPKE suite we do not speak
 * - CAPSULE_CONTEXT: the capsule names another task id or role than the opener expects
 * - CAPSULE_NOT_RECIPIENT: the opener's key is not among the recipients
 * - CAPSULE_DECRYPT: authentication failed (tampered bytes, wrong key, rebound context)
 * - CAPSULE_COMMITMENT: the decrypted payload does not match the committed value
 * - CAPSULE_KEY: a key has the wrong length or encoding
 * - CAPSULE_PARAMS: bad arguments to seal (no recipients, role too long, ...)
 * - CAPSULE_PAYLOAD: a payload that should be JSON is not (or a value is not JSON data)
 */
export type CapsuleErrorCode =
  | "CAPSULE_MALFORMED"
  | "CAPSULE_VERSION"
  | "CAPSULE_SUITE"
  | "CAPSULE_CONTEXT"
  | "CAPSULE_NOT_RECIPIENT"
  | "CAPSULE_DECRYPT"
  | "CAPSULE_COMMITMENT"
  | "CAPSULE_KEY"
  | "CAPSULE_PARAMS"
  | "CAPSULE_PAYLOAD";

export class CapsuleError extends TrustmeshError {
  override name = "CapsuleError";
  declare readonly code: CapsuleErrorCode;
}
