export { CryptoError, CryptoErrorCode } from "./errors.js";
export { defaultBackend, nobleBackend, nativeBackendOrNull, type EcdsaBackend } from "./backend.js";
export {
  SECP256K1_N,
  isCanonicalSignature,
  normaliseSignature,
  publicKeyFromSecret,
  recoverDigest,
  signDigest,
  uncompressedPublicKey,
  verifyDigest,
  type RecoverableSignature,
} from "./secp256k1.js";
export { addressOfPublicKey, addressOfSecretKey, eip191Hash32, recoverAddressFromHash, signHash } from "./ethereum.js";
