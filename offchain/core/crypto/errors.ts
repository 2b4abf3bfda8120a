/**
 * Errors of the signature primitives. Only local misuse throws (a malformed key from a config
 * file, a digest of the wrong length): a peer's signature never does - verification and
 * recovery answer false / null for anything a peer can send.
 */
import { TrustmeshError } from "../errors.js";

export const CryptoErrorCode = {
  InvalidSecretKey: "CRYPTO_INVALID_SECRET_KEY",
  InvalidPublicKey: "CRYPTO_INVALID_PUBLIC_KEY",
  InvalidDigest: "CRYPTO_INVALID_DIGEST",
} as const;
export type CryptoErrorCode = (typeof CryptoErrorCode)[keyof typeof CryptoErrorCode];

export class CryptoError extends TrustmeshError {
  override name = "CryptoError";
  constructor(code: CryptoErrorCode, shortMessage: string, options: ConstructorParameters<typeof TrustmeshError>[2] = {}) {
    super(code, shortMessage, options);
  }
}
