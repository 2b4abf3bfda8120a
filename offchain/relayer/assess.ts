/**
 * A verifier's assessment of one attestation response (ARCHITECTURE step 6, before
 * scoring): the binding of the quote to this verifier's nonce and to the target's agent
 * channel, the full TPM appraisal (signature, nonce, PCR digest, clock, event-log replay,
 * golden policy), the node's enrolled identity (AK, EK certificate, hardware fingerprint)
 * against the registry, and the approved-image check. Pure: the caller supplies the
 * chain's facts. Every problem becomes a finding; nothing here throws on bad evidence.
 */
import { createHash } from "node:crypto";
import { encodeAbiParameters, keccak256, type Hex } from "viem";
import { appraise, type AppraiseResult } from "../attest/appraise.js";
import { hasFailure, type Finding } from "../attest/errors.js";
import { measuredDigests } from "../attest/eventlog/parse.js";
import { quoteNonce, type SelectionJson } from "../attest/bridge/messages.js";
import { akDigest } from "../attest/enrol/registrar.js";
import { fingerprintRoot } from "../attest/fingerprint/merkle.js";
import { parseItems } from "../attest/fingerprint/items.js";
import { parseTpm2bPublic } from "../attest/tpm/public.js";
import { hashAlgByName } from "../attest/tpm/constants.js";
import { clockStateOf, type ClockState } from "../attest/quote.js";
import type { PcrSelection } from "../attest/tpm/pcrs.js";
import type { GoldenPolicy } from "../attest/policy/types.js";
import type { AttestResponsePayload } from "./round-messages.js";
import { onChainTier } from "./enrolment.js";
import type { FindingSeverity, ScoreInput } from "../../ipfs/scoring/contract.js";
import { hexOf } from "../core/hex.js";

/** PCRs the HPC agent measures into (firmware/agent/measure.ts). */
export const BOOT_IMAGE_PCR = 9;
export const CONTAINER_PCR = 10;
export const BOOT_NONCE_PCR = 11;

export interface AssessParameters {
  response: AttestResponsePayload;
  verifierNonce: Uint8Array;
  /** The selection this verifier asked for. */
  selection: SelectionJson;
  /** The target's registered identity digest (NodeRegistry.getNode().identityDigest). */
  identityDigest: Hex;
  /** Registered security tier; 0 is the lowest (software key, no EK). */
  tier: number;
  /** Approved boot and container image digests (ImageRegistry), lower-case 0x hex. */
  approvedImages: readonly string[];
  previousClock?: ClockState;
  policy?: GoldenPolicy;
  /**
   * A post-run round (ARCHITECTURE: attested before and after the run) judges the cleanup:
   * the HPC's scratch area reported and empty, no task run still going, and a fresh boot -
   * PCR 11's log must start with `bootNonce` (offchain/core/boot-nonce.ts), derived from
   * the chain's record of the result submission.
   */
  postRun?: { bootNonce: Uint8Array };
}

export interface Assessment {
  ok: boolean;
  findings: Finding[];
  fingerprint: { ok: boolean; changed: string[] };
  clock?: ClockState;
}

/**
 * The gateway nonce the target sent its HPC: it commits to every verifier nonce the quote
 * answers (ascending), so each verifier finds its own nonce bound into the TPM quote.
 */
export function gatewayNonceFor(gatewayRandom: Uint8Array, verifierNonces: readonly Uint8Array[]): Buffer {
  const h = createHash("sha256").update(gatewayRandom);
  for (const n of verifierNonces) h.update(n);
  return h.digest();
}

/** keccak256(abi.encode(akDigest, ekCertDigest, fingerprintRoot)), as NodeRegistry stores it. */
export function identityDigestOf(ak: Hex, ekCert: Hex, fingerprintRoot: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }], [ak, ekCert, fingerprintRoot]));
}

export function selectionFromJson(sel: SelectionJson): PcrSelection[] {
  return sel.map((s) => ({ hashAlg: hashAlgByName(s.bank), pcrs: [...s.pcrs].sort((a, b) => a - b) }));
}

/** Parses "sha256:0,1,7" strings (config and CLI form) into the bridge's selection. */
export function parseSelectionStrings(items: readonly string[]): SelectionJson {
  return items.map((item) => {
    const [bank, list] = item.split(":");
    if ((bank !== "sha1" && bank !== "sha256" && bank !== "sha384" && bank !== "sha512") || !list) {
      throw new RangeError(`bad PCR selection "${item}" (expected e.g. sha256:0,1,7)`);
    }
    const pcrs = list.split(",").map((x) => Number.parseInt(x, 10));
    if (pcrs.some((p) => !Number.isInteger(p) || p < 0 || p > 23)) throw new RangeError(`bad PCR index in "${item}"`);
    return { bank, pcrs };
  });
}

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/^0x/, ""), "hex");
}

export async function assessResponse(p: AssessParameters): Promise<Assessment> {
  const r = p.response;
  const ev = r.evidence;
  const findings: Finding[] = [];

  const mine = hexOf(p.verifierNonce);
  if (r.verifierNonce !== mine || !r.verifierNonces.includes(mine)) {
    findings.push({ code: "NONCE_NOT_BOUND", severity: "fatal", message: "the evidence does not answer this verifier's nonce" });
  }
  const gatewayNonce = gatewayNonceFor(hex(r.gatewayRandom), r.verifierNonces.map(hex));
  const expectedNonce = quoteNonce(gatewayNonce, hex(r.channelBinding));
  const appraisal = appraise({
    evidence: {
      quote: hex(ev.quote),
      signature: hex(ev.signature),
      pcrs: hex(ev.pcrs),
      // The bridge carries the event log base64-encoded, the TPM structures as hex.
      eventLog: ev.eventLog === undefined ? undefined : Buffer.from(ev.eventLog, "base64"),
    },
    akPublic: hex(r.akPublic),
    expectedNonce,
    expectedSelection: selectionFromJson(p.selection),
    previousClock: p.previousClock,
    policy: p.policy,
  });
  findings.push(...appraisal.findings);

  // Identity: the AK that signed must be the enrolled one, with the enrolled EK cert and hardware.
  let fingerprint: Assessment["fingerprint"] = { ok: false, changed: [] };
  try {
    const ak = parseTpm2bPublic(hex(r.akPublic));
    const items = parseItems(Object.fromEntries((ev.fingerprint ?? []).map((i) => [i.key, i.value])));
    const identity = identityDigestOf(akDigest(ak.name), r.ekCertDigest, await fingerprintRoot(items));
    if (identity.toLowerCase() === p.identityDigest.toLowerCase()) {
      fingerprint = { ok: true, changed: [] };
    } else {
      fingerprint = { ok: false, changed: ["identity"] };
      findings.push({
        code: "IDENTITY_MISMATCH",
        severity: "fatal",
        message: "AK, EK certificate or hardware fingerprint differ from the registered identity",
        details: { registered: p.identityDigest, presented: identity },
      });
    }
  } catch (e) {
    findings.push({ code: "IDENTITY_UNREADABLE", severity: "fatal", message: `identity evidence unreadable: ${(e as Error).message}` });
  }

  // The quoter's own tier can never be below what the node registered (a software key is tier 0).
  const presented = onChainTier(ev.tier);
  if (presented < p.tier) {
    findings.push({ code: "TIER_MISMATCH", severity: "fatal", message: `a ${ev.tier} quoter answered for a node registered at tier ${p.tier}` });
  }

  // Approved images only: every boot image and container measured (and replayed to the quoted PCRs) must be approved.
  if (appraisal.eventLog && appraisal.pcrs) {
    const approved = new Set(p.approvedImages.map((d) => d.toLowerCase().replace(/^0x/, "")));
    const sha256 = hashAlgByName("sha256");
    for (const [pcr, what] of [[BOOT_IMAGE_PCR, "boot image"], [CONTAINER_PCR, "container image"]] as const) {
      for (const d of measuredDigests(appraisal.eventLog, sha256, pcr)) {
        if (!approved.has(d.toString("hex"))) {
          findings.push({
            code: "UNAPPROVED_IMAGE",
            severity: "fatal",
            message: `${what} ${d.toString("hex").slice(0, 16)}... is not approved in the ImageRegistry`,
            details: { pcr, digest: `0x${d.toString("hex")}` },
          });
        }
      }
    }
  }

  if (p.postRun) {
    findings.push(...cleanupFindings(ev.scratch, ev.tasks));
    findings.push(...freshBootFindings(appraisal, p.postRun.bootNonce));
  }

  const clock = appraisal.attest ? clockStateOf(appraisal.attest) : undefined;
  return { ok: !hasFailure(findings), findings, fingerprint, clock };
}

/**
 * The cleanup a post-run attestation must show: a scratch area reported and empty, and no
 * task run of the HPC still going (the agent counts the runs it started and saw end). Both
 * are the agent's own report, made trustworthy by the measured boot image that runs it.
 */
export function cleanupFindings(scratch: AttestResponsePayload["evidence"]["scratch"], tasks?: AttestResponsePayload["evidence"]["tasks"]): Finding[] {
  const findings: Finding[] = [];
  if (!scratch || !tasks) {
    const missing = [!scratch ? "its scratch area" : undefined, !tasks ? "its task runs" : undefined].filter(Boolean).join(" and ");
    findings.push({ code: "CLEANUP_EVIDENCE_MISSING", severity: "fatal", message: `a post-run attestation must report the HPC's ${missing}` });
  }
  if (scratch && (!scratch.empty || scratch.files > 0 || scratch.bytes > 0)) {
    findings.push({
      code: "SCRATCH_NOT_WIPED",
      severity: "fatal",
      message: `the scratch area still holds ${scratch.files} file(s), ${scratch.bytes} bytes after the task`,
      details: { digest: scratch.digest, files: scratch.files, bytes: scratch.bytes },
    });
  }
  if (tasks && tasks.running !== 0) {
    findings.push({
      code: "TASK_PROCESS_LEFT",
      severity: "fatal",
      message: `${tasks.running} task run(s) still going on the HPC after the task`,
      details: { running: tasks.running, finished: tasks.finished },
    });
  }
  return findings;
}

/**
 * The fresh boot a post-run attestation must show: the first measurement in PCR 11 since
 * the TPM's last reset is the expected post-run boot nonce. PCR 11 is not resettable
 * without a TPM reset, and the nonce commits to the block of the result submission, so the
 * reset came after the run (offchain/core/boot-nonce.ts). Only a quoted PCR whose log
 * replayed is evidence; the replay itself is judged by the appraisal.
 */
export function freshBootFindings(appraisal: Pick<AppraiseResult, "pcrs" | "eventLog">, bootNonce: Uint8Array): Finding[] {
  const sha256 = hashAlgByName("sha256");
  const expected = createHash("sha256").update(bootNonce).digest();
  const quoted = appraisal.pcrs?.get(sha256)?.has(BOOT_NONCE_PCR) === true;
  if (!quoted || !appraisal.eventLog) {
    return [
      {
        code: "BOOT_NONCE_UNVERIFIED",
        severity: "fatal",
        message: `a post-run attestation must quote PCR ${BOOT_NONCE_PCR} (sha256) with its event log: the fresh boot cannot be checked`,
      },
    ];
  }
  const first = measuredDigests(appraisal.eventLog, sha256, BOOT_NONCE_PCR)[0];
  if (first && first.equals(expected)) return [];
  return [
    {
      code: "BOOT_NOT_FRESH",
      severity: "fatal",
      message: "the HPC was not rebooted after the task: PCR 11 does not start with the post-run boot nonce",
      details: { expected: `0x${expected.toString("hex")}`, found: first ? `0x${first.toString("hex")}` : null },
    },
  ];
}

const SEVERITY: Record<Finding["severity"], FindingSeverity> = { fatal: "critical", error: "high", warning: "low", info: "info" };

/** The scoring function's input (ipfs/scoring/README.md) from an assessment and chain facts. */
export function scoreInputOf(a: Assessment, chain: { reputation: bigint; tier: number; history: ("trusted" | "untrusted")[] }): ScoreInput {
  return {
    findings: a.findings.map((f) => ({ code: f.code, severity: SEVERITY[f.severity] })),
    fingerprint: a.fingerprint,
    reputation: Number(chain.reputation),
    tier: chain.tier,
    history: chain.history.map((verdict) => ({ verdict })),
  };
}
