/**
 * The key broker's release rules (docs/task-protocol.md section 4) as one pure function
 * over facts read from the chain. Order: the claim is well formed; it is signed by the
 * node's registered gateway; the VRF proof verifies for the node's registered key and is
 * under the executor threshold; the node is Trusted with the task's tier; and TrustBoard
 * recorded a Trusted verdict on it at or after the task's creation (the pre-run
 * attestation). The first broken rule is the reason.
 */
import { getAddress, type Address } from "viem";
import { Verdict } from "../core/protocol.js";
import { hexToBytes } from "../core/vrf/index.js";
import { claimShapeProblem, type KeyClaim } from "./claim.js";
import type { ClaimRejection } from "./errors.js";
import { checkExecutorProof, standingProblem } from "./selection.js";
import { TASK_OPEN, type NodeFacts, type TaskRecord, type VerdictFacts } from "./types.js";

export interface ClaimFacts {
  task: TaskRecord | null;
  /** Who signed the claim (recovered), null when the signature does not recover. */
  signer: Address | null;
  node: NodeFacts | null;
  seed: Uint8Array;
  latestVerdict: VerdictFacts | null;
}

export type ClaimJudgement =
  | { ok: true; outputInt: bigint }
  | { ok: false; reason: ClaimRejection; detail: string };

export function judgeClaim(claim: KeyClaim, f: ClaimFacts): ClaimJudgement {
  const no = (reason: ClaimRejection, detail: string): ClaimJudgement => ({ ok: false, reason, detail });
  const shape = claimShapeProblem(claim);
  if (shape !== null) return no("malformed", shape);
  if (f.task === null) return no("unknown-task", `task ${claim.taskId} does not exist`);
  if (f.task.status !== TASK_OPEN) return no("window-closed", `task ${claim.taskId} has status ${f.task.status}, not Open`);
  if (f.node === null) return no("bad-signature", `node ${claim.node} is not registered`);
  if (f.signer === null || getAddress(f.signer) !== getAddress(f.node.gateway)) {
    return no("bad-signature", `signed by ${f.signer ?? "nobody"}, node ${claim.node}'s gateway is ${f.node.gateway}`);
  }
  const proof = checkExecutorProof([f.node.vrfPublicKey[0], f.node.vrfPublicKey[1]], { seed: f.seed, taskId: claim.taskId, threshold: f.task.threshold }, hexToBytes(claim.proof));
  if (!proof.ok) {
    return proof.reason === "invalid-proof"
      ? no("bad-proof", "the VRF proof does not verify for the node's registered key and this task")
      : no("over-threshold", `VRF output ${proof.outputInt ?? "?"} is not under the executor threshold`);
  }
  const standing = standingProblem(f.node, f.task.spec.minTier);
  if (standing === "not-trusted") return no("not-trusted", `node ${claim.node} has status ${f.node.status}, not Trusted`);
  if (standing === "tier-too-low") return no("tier-too-low", `node tier ${f.node.tier} < task minimum ${f.task.spec.minTier}`);
  const v = f.latestVerdict;
  if (v === null || v.voided || v.verdict !== Verdict.Trusted || v.recordedAt < f.task.createdAt) {
    return no(
      "no-fresh-verdict",
      v === null ? "no verdict on record" : `latest verdict ${v.verdict}${v.voided ? " (voided)" : ""} recorded at ${v.recordedAt}, task created at ${f.task.createdAt}`,
    );
  }
  return { ok: true, outputInt: proof.outputInt };
}
