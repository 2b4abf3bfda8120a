export { FINGERPRINT_KEYS, FingerprintError, parseItems, isFingerprintKey, type FingerprintItems, type FingerprintKey } from "./items.js";
export {
  buildFingerprintTree,
  fingerprintRoot,
  compareFingerprint,
  proveItem,
  verifyItemProof,
  valueField,
  TREE_DEPTH,
  type FingerprintTree,
  type FingerprintComparison,
  type FingerprintProof,
} from "./merkle.js";
export { collectFingerprint, type CollectOptions } from "./collect.js";
