/**
 * The built-in rule kinds. Each is a small, separately testable check; the registry maps
 * a document's `kind` to one of them, so a new kind is one object plus one register call.
 */
import { measuredDigests, replayEventLog } from "../eventlog/parse.js";
import type { Finding } from "../errors.js";
import { hashAlgByName, hashInfo } from "../tpm/constants.js";
import type { JsonSchema } from "./json-schema.js";
import type {
  EventLogEqualsRule,
  EventLogIncludesRule,
  PcrMatchesRule,
  PolicyEvidence,
  PolicyRule,
  PolicyRuleKind,
} from "./types.js";

const HEX = "^([0-9a-f]{2}){20,64}$";

function base(kind: string, extra: Record<string, JsonSchema>, required: string[]): JsonSchema {
  return {
    type: "object",
    additionalProperties: false,
    required: ["kind", "bank", "pcr", ...required],
    properties: {
      kind: { const: kind },
      bank: { enum: ["sha1", "sha256", "sha384", "sha512"] },
      pcr: { type: "integer", minimum: 0, maximum: 23 },
      label: { type: "string", maxLength: 200 },
      ...extra,
    },
  };
}

function where(rule: PolicyRule): string {
  return `${rule.bank} PCR ${rule.pcr}${rule.label ? ` (${rule.label})` : ""}`;
}

function details(rule: PolicyRule, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: rule.kind, bank: rule.bank, pcr: rule.pcr, ...(rule.label ? { label: rule.label } : {}), ...more };
}

function passed(rule: PolicyRule): Finding {
  return { code: "POLICY_RULE_PASSED", severity: "info", message: `${rule.kind} ${where(rule)}`, details: details(rule) };
}

/**
 * The event log's measurements for one PCR count only when the log replays to the PCR
 * value the quote vouches for; otherwise a forged log could satisfy any rule.
 */
function verifiedDigests(rule: PolicyRule, ev: PolicyEvidence): { digests: Buffer[] } | { finding: Finding } {
  if (!ev.eventLog) {
    return { finding: { code: "POLICY_EVENTLOG_MISSING", severity: "error", message: `${rule.kind} ${where(rule)}: no event log in the evidence`, details: details(rule) } };
  }
  const alg = hashAlgByName(rule.bank);
  const quoted = ev.pcrs.get(alg)?.get(rule.pcr);
  if (!quoted) {
    return { finding: { code: "POLICY_PCR_NOT_QUOTED", severity: "error", message: `${rule.kind} ${where(rule)}: PCR not covered by the quote, its events are unverified`, details: details(rule) } };
  }
  const replayed = (ev.replayed ?? replayEventLog(ev.eventLog)).get(alg)?.get(rule.pcr) ?? Buffer.alloc(hashInfo(alg).size);
  if (!replayed.equals(quoted)) {
    return {
      finding: {
        code: "POLICY_EVENTLOG_UNVERIFIED",
        severity: "error",
        message: `${rule.kind} ${where(rule)}: event log does not replay to the quoted PCR value`,
        details: details(rule, { quoted: quoted.toString("hex"), replayed: replayed.toString("hex") }),
      },
    };
  }
  return { digests: measuredDigests(ev.eventLog, alg, rule.pcr) };
}

export const pcrMatches: PolicyRuleKind<PcrMatchesRule> = {
  kind: "pcr_matches",
  schema: base("pcr_matches", { value: { type: "string", pattern: HEX } }, ["value"]),
  evaluate(rule, ev) {
    const v = ev.pcrs.get(hashAlgByName(rule.bank))?.get(rule.pcr);
    if (!v) return [{ code: "POLICY_PCR_NOT_QUOTED", severity: "error", message: `pcr_matches ${where(rule)}: PCR not covered by the quote`, details: details(rule) }];
    if (v.toString("hex") !== rule.value) {
      return [{ code: "POLICY_PCR_MISMATCH", severity: "error", message: `pcr_matches ${where(rule)}: value differs from the golden one`, details: details(rule, { expected: rule.value, actual: v.toString("hex") }) }];
    }
    return [passed(rule)];
  },
};

export const eventLogEquals: PolicyRuleKind<EventLogEqualsRule> = {
  kind: "eventlog_equals",
  schema: base("eventlog_equals", { digests: { type: "array", maxItems: 4096, items: { type: "string", pattern: HEX } } }, ["digests"]),
  evaluate(rule, ev) {
    const got = verifiedDigests(rule, ev);
    if ("finding" in got) return [got.finding];
    const actual = got.digests.map((d) => d.toString("hex"));
    const n = Math.max(actual.length, rule.digests.length);
    for (let i = 0; i < n; i++) {
      if (actual[i] !== rule.digests[i]) {
        return [{
          code: "POLICY_EVENTLOG_MISMATCH",
          severity: "error",
          message: `eventlog_equals ${where(rule)}: measurement #${i} is ${actual[i] ?? "absent"}, expected ${rule.digests[i] ?? "nothing more"}`,
          details: details(rule, { index: i, expected: rule.digests, actual }),
        }];
      }
    }
    return [passed(rule)];
  },
};

export const eventLogIncludes: PolicyRuleKind<EventLogIncludesRule> = {
  kind: "eventlog_includes",
  schema: base(
    "eventlog_includes",
    { digests: { type: "array", minItems: 1, maxItems: 4096, items: { type: "string", pattern: HEX } }, match: { enum: ["all", "any"] } },
    ["digests"],
  ),
  evaluate(rule, ev) {
    const got = verifiedDigests(rule, ev);
    if ("finding" in got) return [got.finding];
    const present = new Set(got.digests.map((d) => d.toString("hex")));
    const missing = rule.digests.filter((d) => !present.has(d));
    const any = rule.match === "any";
    if (any ? missing.length === rule.digests.length : missing.length > 0) {
      return [{
        code: "POLICY_EVENTLOG_MISSING_DIGEST",
        severity: "error",
        message: any
          ? `eventlog_includes ${where(rule)}: none of the ${rule.digests.length} approved digests was measured`
          : `eventlog_includes ${where(rule)}: ${missing.length} required digest(s) not measured`,
        details: details(rule, { missing, match: rule.match ?? "all" }),
      }];
    }
    return [passed(rule)];
  },
};

const registry = new Map<string, PolicyRuleKind>();

/** Adds a rule kind; its schema becomes a branch of the policy document schema. */
export function registerRuleKind<R extends PolicyRule>(k: PolicyRuleKind<R>): void {
  if (registry.has(k.kind)) throw new TypeError(`rule kind ${k.kind} already registered`);
  registry.set(k.kind, k as unknown as PolicyRuleKind);
}

export function ruleKind(kind: string): PolicyRuleKind | undefined {
  return registry.get(kind);
}

export function ruleKinds(): PolicyRuleKind[] {
  return [...registry.values()];
}

registerRuleKind(pcrMatches);
registerRuleKind(eventLogEquals);
registerRuleKind(eventLogIncludes);
