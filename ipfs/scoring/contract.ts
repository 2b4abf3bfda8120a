/**
 * The input/output contract of every trust-scoring function (v1, v2, ... pinned in IPFS).
 * Documented for people in ./README.md; this file is the typed mirror plus the pure check
 * a verifier applies to whatever the sandboxed function returned.
 */
export type FindingSeverity = "info" | "low" | "medium" | "high" | "critical";

export interface ScoreInput {
  /** Problems found while checking the evidence (quote, nonce, event log, golden policy). */
  findings: Array<{ code: string; severity: FindingSeverity }>;
  /** Hardware fingerprint comparison against the enrolment record. */
  fingerprint: { ok: boolean; changed: string[] };
  /** On-chain reputation, integer 0..1_000_000. */
  reputation: number;
  /** The node's tier as registered, integer 0..255. */
  tier: number;
  /** Earlier verdicts of this node, oldest first. */
  history: Array<{ verdict: "trusted" | "untrusted" }>;
}

export interface ScoreOutput {
  /** Integer 0..100 (goes into the vote as uint8). */
  score: number;
  verdict: "trusted" | "untrusted";
  /** Stable, machine-readable reasons, e.g. "finding:PCR_MISMATCH:critical". */
  reasons: string[];
}

/** Null when `v` is a valid ScoreOutput, else why not. */
export function scoreOutputProblem(v: unknown): string | null {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "output is not an object";
  const o = v as Record<string, unknown>;
  if (typeof o.score !== "number" || !Number.isInteger(o.score) || o.score < 0 || o.score > 100) {
    return "score must be an integer in 0..100";
  }
  if (o.verdict !== "trusted" && o.verdict !== "untrusted") return "verdict must be \"trusted\" or \"untrusted\"";
  if (!Array.isArray(o.reasons) || !o.reasons.every((r) => typeof r === "string")) return "reasons must be an array of strings";
  const extra = Object.keys(o).filter((k) => k !== "score" && k !== "verdict" && k !== "reasons");
  if (extra.length > 0) return `unexpected fields: ${extra.join(", ")}`;
  return null;
}
