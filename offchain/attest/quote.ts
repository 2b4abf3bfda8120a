/**
 * Quote verification: every check runs and reports a Finding, so one call tells the
 * operator all that is wrong (Keylime style). Only evidence that is well-formed and passes
 * every fatal/error check yields `ok: true`.
 *
 * What a valid quote proves: the holder of the AK's private key, a restricted TPM signing
 * key, signed these PCR values (by digest) after seeing our nonce. That the AK lives in a
 * particular TPM is established at enrolment by credential activation, not here.
 */
import { timingSafeEqual, type KeyObject } from "node:crypto";
import { loadAkPublic, type AkPublicInput } from "./ak.js";
import { AttestError, hasFailure, type Finding } from "./errors.js";
import { parseTpmsAttest, type ClockInfo, type TpmsAttestQuote } from "./tpm/attest.js";
import { TPMA_OBJECT, TPM_ALG, TPM_GENERATED_VALUE, algName, hashInfo } from "./tpm/constants.js";
import { formatSelection, pcrDigest, sameSelection, type PcrBanks, type PcrSelection } from "./tpm/pcrs.js";
import type { TpmPublic } from "./tpm/public.js";
import { parseTpmtSignature, verifyTpmSignature, type TpmSignature } from "./tpm/signature.js";

/** What a verifier remembers per machine between quotes to detect reboots and rollbacks. */
export interface ClockState {
  clock: bigint;
  resetCount: number;
  restartCount: number;
  firmwareVersion?: bigint;
  /** TPMS_CLOCK_INFO.safe: false after an unorderly shutdown (the clock may have gone back). */
  safe?: boolean;
}

export interface VerifyQuoteParameters {
  /** TPMS_ATTEST bytes exactly as signed (`tpm2_quote -m`). */
  quote: Uint8Array;
  /** TPMT_SIGNATURE bytes (`tpm2_quote -s`) or an already parsed signature. */
  signature: Uint8Array | TpmSignature;
  akPublic: AkPublicInput;
  /** PCR values the agent reported; their digest must equal the quoted one. */
  pcrs?: PcrBanks;
  expectedNonce: Uint8Array;
  /** The selection the verifier asked for; absent = accept what was quoted. */
  expectedSelection?: readonly PcrSelection[];
  /** Clock state from this machine's previous accepted quote. */
  previousClock?: ClockState;
  /**
   * TPM name of the AK enrolled for this machine (what NodeRegistry commits to). Needs the
   * AK in TPM form (TPM2B_PUBLIC/TPMT_PUBLIC): a PEM has no name.
   */
  expectedAkName?: Uint8Array;
}

export interface VerifyQuoteResult {
  ok: boolean;
  findings: Finding[];
  /** The parsed quote, absent when it could not be parsed. */
  attest?: TpmsAttestQuote;
  signature?: TpmSignature;
}

function malformed(code: string, what: string, e: unknown): Finding {
  if (e instanceof AttestError) {
    return { code, severity: "fatal", message: `${what}: ${e.shortMessage}`, details: { cause: e.code, meta: e.metaMessages } };
  }
  throw e;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks the AK's TPM attributes when we know them: only a restricted signing key's quotes mean anything. */
function checkAkAttributes(pub: TpmPublic, sig: TpmSignature | undefined, findings: Finding[]): void {
  const a = pub.objectAttributes;
  if (!(a & TPMA_OBJECT.restricted) || !(a & TPMA_OBJECT.sign)) {
    findings.push({
      code: "AK_NOT_RESTRICTED",
      severity: "fatal",
      message: "AK is not a restricted signing key: it could sign a forged TPMS_ATTEST",
      details: { objectAttributes: `0x${a.toString(16)}` },
    });
  }
  if (!(a & TPMA_OBJECT.fixedTPM)) {
    findings.push({ code: "AK_NOT_FIXED_TPM", severity: "error", message: "AK is not fixedTPM: it may have been duplicated out of a TPM" });
  }
  const scheme = pub.parameters.scheme;
  if (sig && scheme.scheme !== TPM_ALG.null && (scheme.scheme !== sig.sigAlg || scheme.hashAlg !== sig.hashAlg)) {
    findings.push({
      code: "SIGNATURE_SCHEME_MISMATCH",
      severity: "error",
      message: `signature is ${algName(sig.sigAlg)}/${algName(sig.hashAlg)}, AK scheme is ${algName(scheme.scheme)}/${algName(scheme.hashAlg ?? TPM_ALG.null)}`,
    });
  }
}

/** Compares the quote's clock with the previous accepted quote of the same machine. */
export function checkClock(prev: ClockState, now: ClockInfo, firmwareVersion: bigint): Finding[] {
  const out: Finding[] = [];
  const details = {
    previous: { clock: prev.clock.toString(), resetCount: prev.resetCount, restartCount: prev.restartCount },
    current: { clock: now.clock.toString(), resetCount: now.resetCount, restartCount: now.restartCount },
  };
  if (now.resetCount < prev.resetCount) {
    out.push({ code: "RESET_COUNT_ROLLBACK", severity: "error", message: "TPM resetCount went backwards (TPM cleared or quote replayed from an older boot)", details });
  } else if (now.resetCount > prev.resetCount) {
    out.push({ code: "REBOOT_DETECTED", severity: "warning", message: `machine rebooted ${now.resetCount - prev.resetCount} time(s) since the last quote`, details });
  } else if (now.restartCount < prev.restartCount) {
    out.push({ code: "RESTART_COUNT_ROLLBACK", severity: "error", message: "TPM restartCount went backwards within one boot", details });
  } else {
    if (now.restartCount > prev.restartCount) {
      out.push({ code: "RESUME_DETECTED", severity: "warning", message: "machine resumed from suspend/hibernate since the last quote", details });
    }
    if (now.clock < prev.clock) {
      out.push(
        now.safe
          ? { code: "CLOCK_ROLLBACK", severity: "error", message: "TPM clock went backwards within one boot", details }
          : { code: "CLOCK_ROLLBACK_UNSAFE", severity: "warning", message: "TPM clock went backwards after an unorderly shutdown (clock not safe)", details },
      );
    }
  }
  if (prev.firmwareVersion !== undefined && prev.firmwareVersion !== firmwareVersion) {
    out.push({
      code: "TPM_FIRMWARE_CHANGED",
      severity: "warning",
      message: "TPM firmware version changed since the last quote",
      details: { previous: prev.firmwareVersion.toString(16), current: firmwareVersion.toString(16) },
    });
  }
  return out;
}

export function clockStateOf(attest: TpmsAttestQuote): ClockState {
  const { clock, resetCount, restartCount, safe } = attest.clockInfo;
  return { clock, resetCount, restartCount, firmwareVersion: attest.firmwareVersion, safe };
}

export function verifyQuote(p: VerifyQuoteParameters): VerifyQuoteResult {
  const findings: Finding[] = [];
  let attest: TpmsAttestQuote | undefined;
  let sig: TpmSignature | undefined;
  let key: KeyObject | undefined;
  let tpmPublic: TpmPublic | undefined;

  try {
    attest = parseTpmsAttest(p.quote);
  } catch (e) {
    findings.push(malformed("QUOTE_MALFORMED", "quote", e));
  }
  try {
    sig = p.signature instanceof Uint8Array ? parseTpmtSignature(p.signature) : p.signature;
  } catch (e) {
    findings.push(malformed("SIGNATURE_MALFORMED", "signature", e));
  }
  try {
    ({ keyObject: key, tpmPublic } = loadAkPublic(p.akPublic));
  } catch (e) {
    findings.push(malformed("AK_INVALID", "attestation key", e));
  }

  if (tpmPublic) checkAkAttributes(tpmPublic, sig, findings);
  if (p.expectedAkName && key) {
    if (!tpmPublic) {
      findings.push({ code: "AK_NAME_UNKNOWN", severity: "error", message: "an enrolled AK name was given but the AK is not in TPM form, so its name cannot be computed" });
    } else if (!bytesEqual(tpmPublic.name, p.expectedAkName)) {
      findings.push({
        code: "AK_NAME_MISMATCH",
        severity: "fatal",
        message: "the AK is not the one enrolled for this machine",
        details: { enrolled: Buffer.from(p.expectedAkName).toString("hex"), presented: tpmPublic.name.toString("hex") },
      });
    }
  }

  if (sig && key) {
    let valid = false;
    try {
      valid = verifyTpmSignature(sig, key, p.quote);
    } catch (e) {
      findings.push(malformed("SIGNATURE_UNSUPPORTED", "signature", e));
    }
    if (!valid && !findings.some((f) => f.code === "SIGNATURE_UNSUPPORTED")) {
      findings.push({ code: "SIGNATURE_INVALID", severity: "fatal", message: `quote signature (${algName(sig.sigAlg)}/${algName(sig.hashAlg)}) does not verify with the AK` });
    }
    if (sig.hashAlg === TPM_ALG.sha1) {
      findings.push({ code: "SIGNATURE_WEAK_HASH", severity: "warning", message: "quote is signed over SHA-1" });
    }
  }

  if (!attest) return { ok: false, findings, signature: sig };

  if (attest.magic !== TPM_GENERATED_VALUE) {
    findings.push({ code: "MAGIC_INVALID", severity: "fatal", message: `magic 0x${attest.magic.toString(16)} is not TPM_GENERATED_VALUE: not produced by a TPM` });
  }
  if (!bytesEqual(attest.extraData, p.expectedNonce)) {
    findings.push({
      code: "NONCE_MISMATCH",
      severity: "fatal",
      message: "quote nonce (extraData) is not the one we sent: stale or replayed evidence",
      details: { expected: Buffer.from(p.expectedNonce).toString("hex"), quoted: attest.extraData.toString("hex") },
    });
  }
  if (p.expectedSelection && !sameSelection(p.expectedSelection, attest.pcrSelect)) {
    findings.push({
      code: "SELECTION_MISMATCH",
      severity: "error",
      message: `quote covers ${formatSelection(attest.pcrSelect)}, we asked for ${formatSelection(p.expectedSelection)}`,
    });
  }
  if (attest.pcrSelect.every((s) => s.pcrs.length === 0)) {
    findings.push({ code: "SELECTION_EMPTY", severity: "error", message: "quote selects no PCR: it attests nothing about the machine state" });
  }

  if (p.pcrs) {
    // The digest uses the signing scheme's hash; without a signature fall back to the digest's length.
    const digestLength = attest.pcrDigest.length;
    const digestAlg = sig?.hashAlg ?? [TPM_ALG.sha256, TPM_ALG.sha384, TPM_ALG.sha512, TPM_ALG.sha1].find((a) => hashInfo(a).size === digestLength);
    try {
      if (digestAlg === undefined) throw new AttestError("TPM_UNSUPPORTED", "cannot tell the PCR digest's hash");
      const computed = pcrDigest(attest.pcrSelect, p.pcrs, digestAlg);
      if (!bytesEqual(computed, attest.pcrDigest)) {
        findings.push({
          code: "PCR_DIGEST_MISMATCH",
          severity: "fatal",
          message: "the reported PCR values do not hash to the quoted PCR digest",
          details: { quoted: attest.pcrDigest.toString("hex"), computed: computed.toString("hex") },
        });
      }
    } catch (e) {
      if (!(e instanceof AttestError)) throw e;
      findings.push({ code: "PCR_VALUES_MISSING", severity: "error", message: e.shortMessage });
    }
  } else {
    findings.push({ code: "PCR_VALUES_ABSENT", severity: "info", message: "no PCR values given: only the quoted digest was checked" });
  }

  if (!attest.clockInfo.safe) {
    findings.push({ code: "CLOCK_NOT_SAFE", severity: "info", message: "TPM clock not marked safe (an unorderly shutdown happened)" });
  }
  if (p.previousClock) findings.push(...checkClock(p.previousClock, attest.clockInfo, attest.firmwareVersion));

  return { ok: !hasFailure(findings), findings, attest, signature: sig };
}
