/**
 * Executor selection (docs/task-protocol.md section 3), pure. The VRF input is the shared
 * sortition alpha with the task id in the round slot and Role.Executor; the threshold is
 * EpochClock.thresholdFor(EXECUTOR_COMMITTEE, eligibleVerifierCount). Nothing here forks
 * core/sortition: it only fixes the task's parameters.
 */
import { NodeStatus, Role, sortitionAlpha } from "../core/protocol.js";
import { checkClaim, committeeThreshold, drawTicket, type ClaimCheck, type SortitionTicket } from "../core/sortition.js";
import type { PublicKeyInput } from "../core/vrf/index.js";

/** Expected number of candidates per task (TaskMarket.EXECUTOR_COMMITTEE). */
export const EXECUTOR_COMMITTEE = 2n;

export interface SelectionContext {
  /** EpochClock.epochSeed(task.seedEpoch). */
  seed: Uint8Array;
  taskId: bigint;
  /**
   * The task's executor threshold, fixed by TaskMarket at creation as
   * executorThreshold(NodeRegistry.eligibleVerifierCount()) (Task.threshold).
   */
  threshold: bigint;
}

export function executorAlpha(seed: Uint8Array, taskId: bigint): Uint8Array {
  return sortitionAlpha(seed, taskId, Role.Executor);
}

export function executorThreshold(eligibleCount: bigint): bigint {
  return committeeThreshold(EXECUTOR_COMMITTEE, eligibleCount);
}

export interface CandidateFacts {
  status: number;
  tier: number;
}

/** The on-chain half of candidacy: Trusted with a tier at least the task's minimum. */
export function standingProblem(node: CandidateFacts, minTier: number): "not-trusted" | "tier-too-low" | null {
  if (node.status !== NodeStatus.Trusted) return "not-trusted";
  if (node.tier < minTier) return "tier-too-low";
  return null;
}

/** A node's private draw: `selected` (with a proof) when its output is under the threshold. */
export function drawExecutorTicket(vrfSecret: Uint8Array | bigint, ctx: SelectionContext): SortitionTicket {
  return drawTicket(vrfSecret, { seed: ctx.seed, round: ctx.taskId, role: Role.Executor }, ctx.threshold);
}

/** Checks a presented executor proof; malformed bytes count as an invalid proof. */
export function checkExecutorProof(publicKey: PublicKeyInput, ctx: SelectionContext, proof: Uint8Array): ClaimCheck {
  try {
    return checkClaim(publicKey, { seed: ctx.seed, round: ctx.taskId, role: Role.Executor }, proof, ctx.threshold);
  } catch {
    return { ok: false, reason: "invalid-proof" };
  }
}
