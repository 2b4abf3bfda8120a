/**
 * The whole appraisal of one machine's evidence, as a verifier runs it: quote (signature,
 * nonce, selection, PCR digest, clock), event log replay against the quoted PCRs, then the
 * golden policy. Pure; every problem becomes a Finding.
 */
import type { AkPublicInput } from "./ak.js";
import { compareEventLog, parseEventLog, replayEventLog } from "./eventlog/parse.js";
import type { EventLog } from "./eventlog/types.js";
import { AttestError, hasFailure, type Finding } from "./errors.js";
import { evaluatePolicy } from "./policy/evaluate.js";
import type { GoldenPolicy } from "./policy/types.js";
import { verifyQuote, type ClockState } from "./quote.js";
import { parseTpmsAttest, type TpmsAttestQuote } from "./tpm/attest.js";
import { parsePcrReadOutput, type PcrBanks, type PcrSelection } from "./tpm/pcrs.js";

export interface RawEvidence {
  quote: Uint8Array;
  signature: Uint8Array;
  /** PCR values in `tpm2_pcrread -o` layout over the quote's own selection. */
  pcrs?: Uint8Array;
  eventLog?: Uint8Array;
}

export interface AppraiseParameters {
  evidence: RawEvidence;
  akPublic: AkPublicInput;
  expectedNonce: Uint8Array;
  expectedSelection?: readonly PcrSelection[];
  previousClock?: ClockState;
  /** TPM name of the enrolled AK (see VerifyQuoteParameters.expectedAkName). */
  expectedAkName?: Uint8Array;
  policy?: GoldenPolicy;
}

export interface AppraiseResult {
  ok: boolean;
  findings: Finding[];
  attest?: TpmsAttestQuote;
  pcrs?: PcrBanks;
  eventLog?: EventLog;
}

function caught(code: string, what: string, e: unknown): Finding {
  if (!(e instanceof AttestError)) throw e;
  return { code, severity: "fatal", message: `${what}: ${e.shortMessage}`, details: { cause: e.code, meta: e.metaMessages } };
}

export function appraise(p: AppraiseParameters): AppraiseResult {
  const findings: Finding[] = [];
  // The PCR file has no header; its layout is the one the quote declares. A quote that
  // does not parse is reported by verifyQuote below.
  let pcrs: PcrBanks | undefined;
  if (p.evidence.pcrs) {
    let selection: PcrSelection[] | undefined;
    try {
      selection = parseTpmsAttest(p.evidence.quote).pcrSelect;
    } catch (e) {
      if (!(e instanceof AttestError)) throw e;
    }
    if (selection) {
      try {
        pcrs = parsePcrReadOutput(p.evidence.pcrs, selection);
      } catch (e) {
        findings.push(caught("PCR_VALUES_MALFORMED", "PCR values", e));
      }
    }
  }
  const quoteResult = verifyQuote({ quote: p.evidence.quote, signature: p.evidence.signature, akPublic: p.akPublic, expectedNonce: p.expectedNonce, expectedSelection: p.expectedSelection, previousClock: p.previousClock, expectedAkName: p.expectedAkName, pcrs });
  const attest = quoteResult.attest;
  findings.push(...quoteResult.findings);

  let eventLog: EventLog | undefined;
  if (p.evidence.eventLog) {
    try {
      eventLog = parseEventLog(p.evidence.eventLog);
    } catch (e) {
      findings.push(caught("EVENTLOG_MALFORMED", "event log", e));
    }
  }
  const replayed = eventLog ? replayEventLog(eventLog) : undefined;
  if (eventLog && pcrs) findings.push(...compareEventLog(eventLog, pcrs, replayed));

  if (p.policy) {
    if (pcrs) findings.push(...evaluatePolicy(p.policy, { pcrs, eventLog, replayed }));
    else findings.push({ code: "POLICY_NOT_EVALUATED", severity: "error", message: "no verified PCR values: the golden policy cannot be evaluated" });
  }
  return { ok: !hasFailure(findings), findings, attest, pcrs, eventLog };
}
