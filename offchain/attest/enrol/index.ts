export { EnrolError, type EnrolErrorCode } from "./errors.js";
export { validateEkCertificate, parsePemBundle, loadCertificate, trimDer, ekCertDigest, type EkChainResult, type ValidateEkOptions } from "./ekcert.js";
export { kdfa } from "./kdfa.js";
export { makeCredential, CREDENTIAL_BLOB_MAGIC, type MakeCredentialParams } from "./makecredential.js";
export {
  startEnrolment,
  finishEnrolment,
  checkAkAttributes,
  akDigest,
  type StartEnrolmentParams,
  type PendingEnrolment,
  type EnrolmentRecord,
} from "./registrar.js";
