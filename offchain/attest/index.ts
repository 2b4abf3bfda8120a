/** Public surface of the attestation verifier. */
export * from "./errors.js";
export * from "./ak.js";
export * from "./quote.js";
export * from "./tpm/constants.js";
export * from "./tpm/reader.js";
export * from "./tpm/writer.js";
export * from "./tpm/public.js";
export * from "./tpm/attest.js";
export * from "./tpm/signature.js";
export * from "./tpm/pcrs.js";
export * from "./eventlog/types.js";
export * from "./eventlog/parse.js";
export * from "./policy/types.js";
export * from "./policy/json-schema.js";
export * from "./policy/rules.js";
export * from "./policy/evaluate.js";
export * from "./appraise.js";
