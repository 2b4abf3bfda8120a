/**
 * VRF sortition (pure). For an epoch seed, a round and a role every gateway evaluates its
 * ECVRF on `sortitionAlpha(seed, round, role)`; the output (beta, read as a big-endian
 * uint256) decides:
 * - Verifier role: selected when output < threshold, with
 *   threshold = expectedCommitteeSize * (2^256 - 1) / max(eligibleCount, 1), saturating at
 *   2^256 - 1. This is EpochClock.thresholdFor bit for bit (floor of the exact product,
 *   as OpenZeppelin's Math.mulDiv), so a claim judged here is judged the same by Disputes.
 * - Executor role: among the trusted nodes that revealed a valid proof, the lowest output
 *   executes (ties, which need a sha256 collision, go to the lower node id).
 * Only the selected node knows it is selected until it reveals its proof; others learn
 * nothing from its silence.
 *
 * Stake weighting (optional) scales one node's threshold by stake / meanStake, saturating.
 * A node with twice the mean stake is then about twice as likely to sit on a committee,
 * and the expected committee size stays expectedCommitteeSize while no threshold
 * saturates. It is a linear approximation, not Algorand's binomial sub-users: a node
 * counts once however large its stake, and splitting stake across identities neither gains
 * nor loses expected seats (linearity), which is the property that matters here.
 * The on-chain threshold is the unweighted one; weighted sortition needs the weighted
 * threshold on chain before Disputes can judge it.
 */
import { Role, sortitionAlpha } from "./protocol.js";
import { TrustmeshError } from "./errors.js";
import {
  bytesToBigInt,
  evaluate,
  prove,
  verify,
  type PublicKeyInput,
} from "./vrf/index.js";

export const MAX_UINT256 = (1n << 256n) - 1n;

export class SortitionError extends TrustmeshError {
  override name = "SortitionError";
}

function nonNegative(name: string, v: bigint): bigint {
  if (v < 0n) throw new SortitionError("SORTITION_NEGATIVE", `${name} must not be negative, got ${v}`);
  return v;
}

/** EpochClock.thresholdFor: committeeSize * (2^256-1) / max(eligible, 1), capped at 2^256-1. */
export function committeeThreshold(expectedCommitteeSize: bigint | number, eligibleCount: bigint | number): bigint {
  const size = nonNegative("expectedCommitteeSize", BigInt(expectedCommitteeSize));
  const eligible = nonNegative("eligibleCount", BigInt(eligibleCount));
  const n = eligible === 0n ? 1n : eligible;
  if (size >= n) return MAX_UINT256;
  return (MAX_UINT256 * size) / n;
}

/** Threshold scaled by stake / meanStake, saturating at 2^256-1 (see the module comment). */
export function stakeWeightedThreshold(baseThreshold: bigint, stake: bigint, meanStake: bigint): bigint {
  nonNegative("stake", stake);
  if (meanStake <= 0n) throw new SortitionError("SORTITION_MEAN_STAKE", "meanStake must be positive");
  const scaled = (baseThreshold * stake) / meanStake;
  return scaled > MAX_UINT256 ? MAX_UINT256 : scaled;
}

/** The sortition decision itself, shared by the node and by whoever checks its claim. */
export function isSelected(output: bigint, threshold: bigint): boolean {
  return output < threshold;
}

export interface SortitionInput {
  seed: Uint8Array;
  round: bigint;
  role: Role;
}

export interface SortitionTicket {
  alpha: Uint8Array;
  output: Uint8Array;
  outputInt: bigint;
  selected: boolean;
  /** Present only when selected: the proof is revealed by the selected node alone. */
  proof?: Uint8Array;
}

/** A node's private sortition: builds the proof only when selected. */
export function drawTicket(secretKey: Uint8Array | bigint, input: SortitionInput, threshold: bigint): SortitionTicket {
  const alpha = sortitionAlpha(input.seed, input.round, input.role);
  const output = evaluate(secretKey, alpha);
  const outputInt = bytesToBigInt(output);
  const selected = isSelected(outputInt, threshold);
  return selected ? { alpha, output, outputInt, selected, proof: prove(secretKey, alpha) } : { alpha, output, outputInt, selected };
}

export type ClaimCheck =
  | { ok: true; output: Uint8Array; outputInt: bigint }
  | { ok: false; reason: "invalid-proof" | "above-threshold"; outputInt?: bigint };

/**
 * Checks a revealed claim "I am selected for (seed, round, role)". Malformed key or proof
 * bytes throw VrfError; a well-formed but wrong proof is "invalid-proof" and a valid proof
 * whose output is not under the threshold is "above-threshold" (both are VRF fraud when
 * signed, see Disputes).
 */
export function checkClaim(
  publicKey: PublicKeyInput,
  input: SortitionInput,
  proof: Uint8Array,
  threshold: bigint,
): ClaimCheck {
  const r = verify(publicKey, proof, sortitionAlpha(input.seed, input.round, input.role));
  if (!r.valid) return { ok: false, reason: "invalid-proof" };
  const outputInt = bytesToBigInt(r.beta);
  if (!isSelected(outputInt, threshold)) return { ok: false, reason: "above-threshold", outputInt };
  return { ok: true, output: r.beta, outputInt };
}

export interface ExecutorCandidate {
  node: bigint;
  publicKey: PublicKeyInput;
  proof: Uint8Array;
  /** The node's latest verdict is Trusted (from the chain). */
  trusted: boolean;
}

export interface ExecutorChoice {
  node: bigint;
  outputInt: bigint;
}

/**
 * The executor of a task round: lowest Executor-role output among trusted candidates whose
 * proofs verify. Untrusted nodes and bad proofs are skipped (never crash on one bad reveal);
 * malformed key/proof bytes count as bad proofs here. Null when nobody qualifies.
 */
export function selectExecutor(seed: Uint8Array, round: bigint, candidates: ExecutorCandidate[]): ExecutorChoice | null {
  const alpha = sortitionAlpha(seed, round, Role.Executor);
  let best: ExecutorChoice | null = null;
  for (const cand of candidates) {
    if (!cand.trusted) continue;
    let outputInt: bigint;
    try {
      const r = verify(cand.publicKey, cand.proof, alpha);
      if (!r.valid) continue;
      outputInt = bytesToBigInt(r.beta);
    } catch (e) {
      if (e instanceof TrustmeshError) continue;
      throw e;
    }
    if (best === null || outputInt < best.outputInt || (outputInt === best.outputInt && cand.node < best.node)) {
      best = { node: cand.node, outputInt };
    }
  }
  return best;
}
