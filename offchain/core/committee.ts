/**
 * Forming a round's committee once the selected verifiers have revealed their VRF proofs.
 * Sortition is private (nobody knows who is selected until they reveal), so the PBFT
 * replica set of a round is the set of valid reveals received before the reveal deadline,
 * ordered by VRF output; the lowest output is the primary of view 0. Pure: reveals are
 * passed in already verified (proof checked against the registered VRF key).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { ProtocolError } from "./protocol.js";

export interface VerifiedReveal {
  node: bigint;
  /** The gateway (signing) address of the node, lower-case hex. */
  gateway: string;
  /** VRF output (beta) as a big-endian uint256. */
  output: bigint;
}

export interface Committee {
  members: VerifiedReveal[];
  /** Byzantine replicas tolerated: n = 3f + 1 (or more). */
  f: number;
  /** Matching commits needed: 2f + 1, never below the on-chain quorum. */
  quorum: number;
}

export function formCommittee(reveals: VerifiedReveal[], threshold: bigint, onChainQuorum: number): Committee {
  const byNode = new Map<bigint, VerifiedReveal>();
  for (const r of reveals) {
    if (r.output >= threshold) continue; // not selected: the reveal is a (disputable) false claim
    const seen = byNode.get(r.node);
    if (seen && seen.output !== r.output) {
      // VRF outputs are unique per key and input; two different ones mean a broken proof check.
      throw new ProtocolError("REVEAL_CONFLICT", `node ${r.node} revealed two different VRF outputs`);
    }
    byNode.set(r.node, r);
  }
  const members = [...byNode.values()].sort((a, b) => (a.output < b.output ? -1 : a.output > b.output ? 1 : 0));
  const n = members.length;
  const f = Math.max(0, Math.floor((n - 1) / 3));
  const quorum = Math.max(2 * f + 1, onChainQuorum);
  if (n < quorum) {
    throw new ProtocolError("COMMITTEE_TOO_SMALL", `only ${n} verifiers revealed; ${quorum} are needed`, {
      metaMessages: ["the round cannot reach a certificate; it is retried in a later round"],
    });
  }
  return { members, f, quorum };
}

/** The primary of a view: members rotate in VRF-output order. */
export function primaryOf(committee: Committee, view: number): VerifiedReveal {
  const m = committee.members[view % committee.members.length];
  if (!m) throw new ProtocolError("EMPTY_COMMITTEE", "committee has no members");
  return m;
}

/**
 * Whether a member may stop waiting for reveals and form the committee: at the reveal
 * deadline plus the grace for reveals in flight, or earlier once every node that could
 * reveal has either revealed in time or declined (too busy to join): the committee cannot
 * grow any more, and every member who sees the same reveals forms the same one. `possible`
 * is the number of nodes that may reveal. One too high only makes the wait longer; one too
 * low (a node whose promotion this member has not seen yet) ends it before that node's
 * reveal, which, like a reveal at the deadline's edge, only splits replica sets.
 */
export function revealWaitOver(p: { now: number; deadline: number; graceMs: number; revealed: readonly bigint[]; declined: Iterable<bigint>; possible: number }): boolean {
  if (p.now >= p.deadline + p.graceMs) return true;
  const heard = new Set(p.revealed);
  for (const n of p.declined) heard.add(n);
  return heard.size >= p.possible;
}

/**
 * The verifiers of a round that join it even when busy: the `quorum` candidates that rank
 * first by sha256(round || node), a draw every gateway makes alike, without a message.
 * Shedding load one verifier at a time sinks rounds: at 10 rounds/s offered to the 7-node
 * devnet, each busy verifier declined on its own, and a third to a half of the rounds ended
 * with 1-3 reveals of 6, after their targets had quoted and their other members had
 * revealed. With this rule the busy verifiers outside the draw decline and those inside
 * join (up to a harder cap), so a round is either carried by a quorum or not started
 * elsewhere. The draw moves with the round, so no node carries more than its share.
 */
export function busyCore(round: bigint, candidates: readonly bigint[], quorum: number): Set<bigint> {
  const rank = (node: bigint): string => bytesToHex(sha256(new TextEncoder().encode(`${round}:${node}`)));
  const ranked = [...new Set(candidates)].map((node) => ({ node, key: rank(node) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return new Set(ranked.slice(0, Math.max(0, quorum)).map((r) => r.node));
}

/**
 * How far past its cap a verifier still joins the rounds it is drawn to carry. At the cap
 * itself every round would be half-joined again; with none, a flood of rounds piles up
 * until they time out with all their work done. At twice the cap, 11.7 rounds/s offered to
 * the devnet left verifiers at 11-12 rounds under way for a tenth of the time (p90 11),
 * and one drawn member's decline at 12 sank 13% of the rounds after three others had
 * revealed and asked for evidence: 7.8 machines/s recorded. Three times: 10.1 (two runs);
 * at 15.6 offered 9.5-9.9, not less. Without a hard cap: 10.9 at 11.7 offered, but 8.9 at
 * 15.6 with a p99 of 6.6 s (rounds queueing towards their timeout).
 */
export const BUSY_CORE_CAP_FACTOR = 3;

/**
 * Whether a verifier with `active` rounds under way joins a new one: below its cap it does;
 * at or past it, it carries the round only if the round's draw picked it (busyCore, asked
 * only then: it reads the candidates) and it is under BUSY_CORE_CAP_FACTOR times the cap;
 * otherwise it declines (and says so, so the others stop waiting for its reveal).
 */
export async function joinChoice(active: number, cap: number, drawn: () => boolean | Promise<boolean>): Promise<"join" | "carry" | "decline"> {
  if (active < cap) return "join";
  if (active >= BUSY_CORE_CAP_FACTOR * cap) return "decline";
  return (await drawn()) ? "carry" : "decline";
}
