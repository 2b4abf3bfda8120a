/**
 * Errors of enrolment (the registrar). Thrown, not collected: an EK chain that does not
 * validate or a credential that does not activate ends the enrolment.
 */
import { TrustmeshError, type TrustmeshErrorOptions } from "../../core/errors.js";

export type EnrolErrorCode =
  /** A certificate could not be parsed. */
  | "CERT_PARSE"
  /** No path from the EK certificate to a trust anchor in the CA bundle. */
  | "EK_CHAIN_UNTRUSTED"
  /** A certificate in the chain is outside its validity period. */
  | "EK_CERT_EXPIRED"
  /** The EK certificate or its key is not usable for credential activation. */
  | "EK_KEY_UNSUPPORTED"
  /** The AK public area is not a restricted signing key fixed to its TPM. */
  | "AK_ATTRIBUTES"
  /** The secret returned by the agent does not match the challenge. */
  | "ACTIVATION_FAILED"
  /** Caller input (PEM bundle, blob) is malformed. */
  | "INPUT_INVALID";

export class EnrolError extends TrustmeshError {
  override name = "EnrolError";
  declare readonly code: EnrolErrorCode;

  constructor(code: EnrolErrorCode, shortMessage: string, options: TrustmeshErrorOptions = {}) {
    super(code, shortMessage, options);
  }
}
