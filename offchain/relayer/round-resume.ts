/**
 * Restart recovery of the verifier role. A gateway killed while its committee was agreeing
 * on a round comes back with only its journal: the committee it formed (members, keys, VRF
 * outputs, its own index), its own vote, and the vote it signed or was about to sign. From
 * those it rejoins the round's PBFT instance under the same committee, asks again for the
 * decided vote (the members that decided answer a laggard with the round's pre-prepare,
 * prepares and commits), and endorses it through the journal, which hands back the very
 * signature it made before the crash, if any. Rounds whose committee is gone (recorded on
 * chain, or past their timeout) are closed in the journal instead.
 */
import type { Hex } from "viem";
import type { Vote } from "../chain/eip712.js";
import type { GatewayJournal, PendingRound } from "./journal.js";
import type { Logger } from "./logger.js";

/** One committee member as the round's PBFT instance needs it again. */
export interface ResumeMember {
  node: bigint;
  /** Lower-case hex address (as the committee code keeps it). */
  gateway: string;
  output: bigint;
  publicKey: Hex;
  proof: Hex;
  at: number;
}

export interface ResumableRound {
  round: bigint;
  members: ResumeMember[];
  myIndex: number;
  /** This gateway's VRF output for the round (its endorsement carries it). */
  output: Hex;
  /** The vote to ask the committee for: the one signed or about to be signed, else our own. */
  vote: Vote;
  /** When the committee was formed (ms): the others wait for late signatures from then on. */
  formedAt: number;
}

export function voteToJson(v: Vote): Record<string, unknown> {
  return { round: v.round.toString(), node: v.node.toString(), verdict: v.verdict, score: v.score, evidenceCid: v.evidenceCid, policyCid: v.policyCid };
}

export function voteFromJson(j: Record<string, unknown> | undefined): Vote | undefined {
  if (!j || typeof j.round !== "string" || typeof j.node !== "string" || typeof j.verdict !== "number" || typeof j.score !== "number") return undefined;
  if (typeof j.evidenceCid !== "string" || typeof j.policyCid !== "string") return undefined;
  return { round: BigInt(j.round), node: BigInt(j.node), verdict: j.verdict, score: j.score, evidenceCid: j.evidenceCid as Hex, policyCid: j.policyCid as Hex };
}

/** The journal data of a round whose committee is formed: everything `decodeResumable` needs. */
export function resumeData(members: readonly ResumeMember[], myIndex: number, output: Hex, myVote: Vote): Record<string, unknown> {
  return {
    committee: members.map((m) => m.node.toString()),
    members: members.map((m) => ({ node: m.node.toString(), gateway: m.gateway, output: m.output.toString(), publicKey: m.publicKey, proof: m.proof, at: m.at })),
    myIndex,
    output,
    myVote: voteToJson(myVote),
    formedAt: Date.now(),
  };
}

export function decodeResumable(p: PendingRound, journal: GatewayJournal): ResumableRound | undefined {
  const d = p.data;
  if (p.phase !== "signed" || !d || !Array.isArray(d.members) || typeof d.myIndex !== "number" || typeof d.output !== "string" || typeof d.formedAt !== "number") return undefined;
  const own = voteFromJson(d.myVote as Record<string, unknown> | undefined);
  if (!own) return undefined;
  const members: ResumeMember[] = [];
  for (const m of d.members as Record<string, unknown>[]) {
    if (typeof m.node !== "string" || typeof m.gateway !== "string" || typeof m.output !== "string" || typeof m.publicKey !== "string" || typeof m.proof !== "string" || typeof m.at !== "number") return undefined;
    members.push({ node: BigInt(m.node), gateway: m.gateway.toLowerCase(), output: BigInt(m.output), publicKey: m.publicKey as Hex, proof: m.proof as Hex, at: m.at });
  }
  if (d.myIndex < 0 || d.myIndex >= members.length) return undefined;
  const decided = voteFromJson(journal.roundVote(p.round)?.vote);
  return { round: BigInt(p.round), members, myIndex: d.myIndex, output: d.output as Hex, vote: decided ?? own, formedAt: d.formedAt };
}

export interface ResumeDeps {
  journal: GatewayJournal;
  isRecorded: (round: bigint) => Promise<boolean>;
  resume: (r: ResumableRound) => Promise<{ kind: string }>;
  log: Logger;
  /** How long after forming a committee its members still take a late signature. */
  roundTimeoutMs: number;
}

/**
 * Goes through the journal's unfinished rounds once, at start: closes what is over and
 * rejoins what may still complete. Returns the rejoined rounds' outcomes (settled).
 */
export async function resumePendingRounds(deps: ResumeDeps, now = Date.now()): Promise<{ round: string; kind: string }[]> {
  const { journal, log } = deps;
  const stale: string[] = [];
  const recorded: string[] = [];
  const live: ResumableRound[] = [];
  for (const p of journal.pendingRounds()) {
    const r = decodeResumable(p, journal);
    // Before the committee formed the reveal window has passed, and past the round's
    // timeout its members have stopped waiting: either way the round went on without us.
    // Decided without a chain read, so a restart after a long run does not stall on them.
    if (!r || now > r.formedAt + deps.roundTimeoutMs) {
      stale.push(p.round);
      continue;
    }
    let done: boolean;
    try {
      done = await deps.isRecorded(r.round);
    } catch (e) {
      log.warn({ err: e, round: p.round }, "cannot tell whether a pending round is recorded; leaving it pending");
      continue;
    }
    if (done) recorded.push(p.round);
    else live.push(r);
  }
  await journal.closeRounds(stale, "abandoned", now);
  await journal.closeRounds(recorded, "recorded", now);
  // Finished rounds of the last day stay for the status page; signed votes stay forever.
  await journal.prune(24 * 3600_000, now);
  return Promise.all(
    live.map((r) => {
      const round = r.round.toString();
      log.info({ round, signed: journal.roundVote(round)?.signed ?? false }, "rejoining a round interrupted by a restart");
      return deps
        .resume(r)
        .then(async (outcome) => {
          if (await deps.isRecorded(r.round).catch(() => false)) await journal.closeRounds([round], "recorded");
          return { round, kind: outcome.kind };
        })
        .catch((e: unknown) => {
          log.error({ err: e, round }, "resumed round failed");
          return { round, kind: "failed" };
        });
    }),
  );
}
