import { TrustmeshError, type TrustmeshErrorOptions } from "../errors.js";

/**
 * Stable codes for every way VRF input can be unusable. An invalid proof is NOT an error
 * (verify returns `{ valid: false }`): errors mean the bytes could not even be interpreted,
 * which the CLI maps to exit 2 and a gateway treats as a malformed message.
 */
export type VrfErrorCode =
  | "VRF_INVALID_HEX"
  | "VRF_POINT_LENGTH"
  | "VRF_POINT_PREFIX"
  | "VRF_POINT_NOT_ON_CURVE"
  | "VRF_PROOF_LENGTH"
  | "VRF_SECRET_KEY"
  | "VRF_SCALAR_RANGE"
  | "VRF_HASH_TO_CURVE";

export class VrfError extends TrustmeshError {
  override name = "VrfError";
  declare readonly code: VrfErrorCode;

  constructor(code: VrfErrorCode, shortMessage: string, options: TrustmeshErrorOptions = {}) {
    super(code, shortMessage, options);
  }
}
