/**
 * Errors and findings of the attestation verifier.
 *
 * Two channels, on purpose (Keylime style): an `AttestError` is thrown when input cannot be
 * understood at all (a malformed TPM structure, an unknown algorithm), while a `Finding` is
 * collected when well-formed evidence fails a check (bad signature, stale nonce, PCR
 * mismatch). A verification never stops at the first finding, so an operator sees every
 * reason at once.
 */
import { TrustmeshError, type TrustmeshErrorOptions } from "../core/errors.js";

/** Stable codes of thrown attestation errors. */
export type AttestErrorCode =
  /** A TPM structure is truncated, oversized, has trailing bytes or an invalid field. */
  | "TPM_PARSE"
  /** A well-formed TPM structure uses an algorithm or type this verifier does not support. */
  | "TPM_UNSUPPORTED"
  /** A public key is well-formed but not a valid key (point not on curve, bad modulus). */
  | "TPM_BAD_KEY"
  /** A PCR value needed for a digest is absent. */
  | "PCR_MISSING"
  /** A PCR selection string or file does not match what it describes. */
  | "PCR_SELECTION"
  /** The binary event log is malformed. */
  | "EVENTLOG_PARSE"
  /** A golden policy document does not satisfy its schema. */
  | "POLICY_INVALID"
  /** Caller-supplied input (nonce hex, PEM, evidence directory) is unusable. */
  | "INPUT_INVALID";

export class AttestError extends TrustmeshError {
  override name = "AttestError";
  declare readonly code: AttestErrorCode;

  constructor(code: AttestErrorCode, shortMessage: string, options: TrustmeshErrorOptions = {}) {
    super(code, shortMessage, options);
  }
}

export type Severity = "fatal" | "error" | "warning" | "info";

/**
 * One result of a check. `fatal` and `error` make evidence invalid; `warning` and `info`
 * are reported but do not (a reboot since the last quote is a warning: the machine may be
 * fine, but its measurements restart).
 */
export interface Finding {
  code: string;
  severity: Severity;
  message: string;
  details?: Record<string, unknown>;
}

/** True when any finding makes the evidence invalid. */
export function hasFailure(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === "fatal" || f.severity === "error");
}

export function isAttestError(e: unknown, code?: AttestErrorCode): e is AttestError {
  return e instanceof AttestError && (code === undefined || e.code === code);
}
