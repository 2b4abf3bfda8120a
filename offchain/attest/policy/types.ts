/** Golden-policy document types (version 1) and the evidence a policy is evaluated on. */
import type { EventLog } from "../eventlog/types.js";
import type { Finding } from "../errors.js";
import type { JsonSchema } from "./json-schema.js";
import type { PcrBanks } from "../tpm/pcrs.js";

export type BankName = "sha1" | "sha256" | "sha384" | "sha512";

interface RuleBase {
  bank: BankName;
  pcr: number;
  /** Human label, e.g. "BIOS", "boot image" (SecL's flavor part plays this role). */
  label?: string;
}

/** The PCR must hold exactly this value. */
export interface PcrMatchesRule extends RuleBase {
  kind: "pcr_matches";
  value: string;
}

/** The digests measured into this PCR, in order, must be exactly this list. */
export interface EventLogEqualsRule extends RuleBase {
  kind: "eventlog_equals";
  digests: string[];
}

/** These digests must appear among the PCR's measurements: all of them, or at least one. */
export interface EventLogIncludesRule extends RuleBase {
  kind: "eventlog_includes";
  digests: string[];
  match?: "all" | "any";
}

export type PolicyRule = PcrMatchesRule | EventLogEqualsRule | EventLogIncludesRule;

export interface GoldenPolicy {
  version: 1;
  name: string;
  description?: string;
  rules: PolicyRule[];
}

/**
 * What a policy is evaluated on. `pcrs` must already be vouched for by a verified quote;
 * the event log is trusted only as far as it replays to those PCRs, which rules check.
 */
export interface PolicyEvidence {
  pcrs: PcrBanks;
  eventLog?: EventLog;
  /** replayEventLog(eventLog), when the caller already has it (saves one replay per rule). */
  replayed?: PcrBanks;
}

/** One rule kind: its schema (a oneOf branch of the document schema) and its evaluation. */
export interface PolicyRuleKind<R extends PolicyRule = PolicyRule> {
  kind: R["kind"];
  schema: JsonSchema;
  evaluate(rule: R, evidence: PolicyEvidence): Finding[];
}
