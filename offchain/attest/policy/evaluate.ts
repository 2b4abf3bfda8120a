/**
 * Golden policy documents: schema, parsing (schema + semantic checks) and evaluation.
 * A policy evaluates to findings; it passes when none is fatal or error.
 */
import { AttestError, type Finding } from "../errors.js";
import { replayEventLog } from "../eventlog/parse.js";
import { hashAlgByName, hashInfo } from "../tpm/constants.js";
import { validateJson, type JsonSchema } from "./json-schema.js";
import { ruleKind, ruleKinds } from "./rules.js";
import type { GoldenPolicy, PolicyEvidence, PolicyRule } from "./types.js";

export const POLICY_VERSION = 1;

/** The policy document schema (JSON Schema 2020-12 subset), built from the registered kinds. */
export function policySchema(): JsonSchema {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://trustmesh.dev/schemas/golden-policy-v1.json",
    title: "trustmesh golden measurement policy",
    type: "object",
    additionalProperties: false,
    required: ["version", "name", "rules"],
    properties: {
      version: { const: POLICY_VERSION },
      name: { type: "string", minLength: 1, maxLength: 200 },
      description: { type: "string", maxLength: 2000 },
      rules: { type: "array", minItems: 1, maxItems: 1024, items: { oneOf: ruleKinds().map((k) => k.schema) } },
    },
  };
}

function ruleDigests(rule: PolicyRule): string[] {
  return rule.kind === "pcr_matches" ? [rule.value] : rule.digests;
}

/** Validates a parsed JSON value as a policy; raises POLICY_INVALID listing every problem. */
export function parsePolicy(doc: unknown): GoldenPolicy {
  const v = doc as { version?: unknown } | null;
  if (typeof v === "object" && v !== null && "version" in v && v.version !== POLICY_VERSION) {
    throw new AttestError("POLICY_INVALID", `policy version ${JSON.stringify(v.version)} is not supported (this verifier reads version ${POLICY_VERSION})`);
  }
  const errs = validateJson(policySchema(), doc).map((e) => `${e.path || "/"}: ${e.message}`);
  if (errs.length === 0) {
    // Beyond the schema: a digest must have its bank's length.
    (doc as GoldenPolicy).rules.forEach((rule, i) => {
      const size = hashInfo(hashAlgByName(rule.bank)).size;
      ruleDigests(rule).forEach((d, j) => {
        if (d.length !== size * 2) errs.push(`/rules/${i}: digest ${j} is ${d.length / 2} bytes, ${rule.bank} needs ${size}`);
      });
    });
  }
  if (errs.length > 0) {
    throw new AttestError("POLICY_INVALID", `policy document is invalid (${errs.length} problem${errs.length > 1 ? "s" : ""})`, { metaMessages: errs.slice(0, 50) });
  }
  return doc as GoldenPolicy;
}

/** Parses policy JSON text. */
export function parsePolicyJson(text: string): GoldenPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new AttestError("POLICY_INVALID", "policy is not valid JSON", { cause, metaMessages: [cause instanceof Error ? cause.message : String(cause)] });
  }
  return parsePolicy(doc);
}

/** Runs every rule against the evidence. Rules of unknown kinds (not registered) are errors. */
export function evaluatePolicy(policy: GoldenPolicy, evidence: PolicyEvidence): Finding[] {
  const out: Finding[] = [];
  if (evidence.eventLog && !evidence.replayed) evidence = { ...evidence, replayed: replayEventLog(evidence.eventLog) };
  for (const rule of policy.rules) {
    const k = ruleKind(rule.kind);
    if (!k) {
      out.push({ code: "POLICY_RULE_UNKNOWN", severity: "error", message: `rule kind ${String(rule.kind)} is not supported` });
      continue;
    }
    out.push(...k.evaluate(rule, evidence));
  }
  return out;
}
