/** ECVRF (secp256k1, suite 0xFE, witnet-compatible): pure functions, no I/O. */
export { VrfError, type VrfErrorCode } from "./errors.js";
export { bytesToHex, hexToBytes, bytesToBigInt, bigIntToBytes } from "./encoding.js";
export { N, P, SUITE, Point, decodePoint, encodeCompressed, pointFromCoordinates } from "./curve.js";
export {
  PROOF_LENGTH,
  computeFastVerifyParams,
  decodeProof,
  derivePublicKey,
  encodeProof,
  evaluate,
  evaluatePortable,
  fastVerifyArgs,
  gammaToHash,
  hashToCurve,
  pointToArray,
  proofToArray,
  proofToHash,
  prove,
  provePortable,
  toPublicKeyPoint,
  toSecretScalar,
  verify,
  verifyPortable,
  type DecodedProof,
  type FastVerifyParams,
  type NonceMode,
  type ProveOptions,
  type ProofInput,
  type PublicKeyInput,
  type VerifyResult,
} from "./ecvrf.js";
export { nativeVrfAvailable } from "./native.js";
