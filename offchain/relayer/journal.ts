/**
 * The gateway's durable memory: nonce reservations, the votes it signed, and the rounds it
 * is working on. Every change is written (atomically) BEFORE the caller acts on it, so a
 * gateway killed at any point and restarted never reuses a nonce, never signs two
 * different votes for one round, and picks up its pending rounds where it left them.
 *
 * The file stays bounded: a durable signing floor (an epoch) is raised as epochs open;
 * votes, intents and rounds below it are dropped, and no round below it is ever signed
 * again, so a dropped vote can never be contradicted.
 */
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { TrustmeshError } from "../core/errors.js";
import { decodeRoundId } from "../core/protocol.js";
import { readJsonFile, removeStaleTemps, writeFileAtomic } from "./atomic-file.js";
import { faultPoint, type FaultRole } from "./fault.js";

export class JournalError extends TrustmeshError {
  override name = "JournalError";
}

/** How many nonces are reserved per disk write; a crash skips at most this many. */
const NONCE_BLOCK = 256n;

export type RoundPhase = "requested" | "evidence" | "scored" | "signed" | "submitted" | "recorded" | "abandoned";

export interface PendingRound {
  round: string; // uint256 as decimal string
  target: string; // node id
  phase: RoundPhase;
  /** The verifier nonce we sent (hex), so a late answer can still be bound. */
  nonce?: string;
  /** Free-form, JSON-safe progress data of the round (evidence CID, score, ...). */
  data?: Record<string, unknown>;
  updatedAt: number;
}

export interface SignedVoteRecord {
  voteHash: string;
  signature: string;
  signedAt: number;
  /** The vote itself (JSON-safe), so a restarted gateway can ask its committee for that decision again. */
  vote?: Record<string, unknown>;
}

/** What the caller is about to sign, written before the signature is made. */
export interface SignIntent {
  vote: Record<string, unknown>;
  /** Whether this gateway proposed the vote (for the crash test's fault points only). */
  role: FaultRole;
}

/** The vote a round was about to sign (maybe signed already): the decision to rejoin after a crash. */
export interface RoundVote {
  voteHash: string;
  vote: Record<string, unknown>;
  signed: boolean;
}

interface JournalFile {
  version: 1;
  salt: string;
  nonceReservedUpTo: string;
  votes: Record<string, SignedVoteRecord>;
  /** Votes about to be signed (absent in journals written before intents existed). */
  intents?: Record<string, { voteHash: string; vote: Record<string, unknown> }>;
  rounds: Record<string, PendingRound>;
  /** Lowest epoch this gateway may still sign in (decimal; absent in older journals: 0). */
  signingFloorEpoch?: string;
}

/**
 * How long, in epochs, a signed vote still matters on chain: TrustBoard records a
 * certificate for a round at most `maxRoundAge` epochs old (TrustBoardRoundTooLate), and
 * Disputes takes equivocation evidence at most `disputeWindowEpochs` old
 * (DisputesWindowClosed).
 */
export interface VoteRetention {
  maxRoundAge: bigint;
  disputeWindowEpochs: bigint;
}

/**
 * The signing floor once `openedEpoch` is open: every epoch the chain may still accept a
 * certificate or a dispute for stays at or above it. (A later governance change that
 * lengthens either window only makes this gateway refuse some old rounds it could have
 * signed: a liveness cost, never a double signature.)
 */
export function signingFloorFor(openedEpoch: bigint, retention: VoteRetention): bigint {
  const keep = retention.maxRoundAge > retention.disputeWindowEpochs ? retention.maxRoundAge : retention.disputeWindowEpochs;
  return openedEpoch > keep ? openedEpoch - keep : 0n;
}

export interface CompactionResult {
  floorEpoch: bigint;
  votes: number;
  intents: number;
  rounds: number;
}

/** The epoch a journal key (a round id in decimal) belongs to; undefined if it is not one. */
function epochOfKey(key: string): bigint | undefined {
  try {
    return decodeRoundId(BigInt(key)).epoch;
  } catch {
    return undefined;
  }
}

/** Deletes the entries of rounds of epochs below `floor`; returns how many. */
function dropBelow(byRound: Record<string, unknown>, floor: bigint): number {
  let dropped = 0;
  for (const key of Object.keys(byRound)) {
    const epoch = epochOfKey(key);
    if (epoch !== undefined && epoch < floor) {
      delete byRound[key];
      dropped++;
    }
  }
  return dropped;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GatewayJournal {
  private state: JournalFile;
  private nextNonce: bigint;
  /** Flushes the write in progress does not cover: they share the next one. */
  private waiters: Waiter[] = [];
  private draining: Promise<void> | undefined;
  private writeCount = 0;
  /** Newest opened epoch a compaction was asked for and has not started for yet. */
  private compactFor: bigint | undefined;
  private compacting: Promise<CompactionResult | undefined> | undefined;
  private closed = false;
  private readonly signing = new Map<string, Promise<string>>();

  private constructor(private readonly path: string, state: JournalFile) {
    this.state = state;
    // Everything up to the reserved mark may have been handed out before a crash.
    this.nextNonce = BigInt(state.nonceReservedUpTo);
  }

  static async open(dir: string): Promise<GatewayJournal> {
    const path = join(dir, "journal.json");
    const initial: JournalFile = {
      version: 1,
      salt: randomBytes(16).toString("hex"),
      nonceReservedUpTo: "0",
      votes: {},
      rounds: {},
    };
    // A daemon killed mid-write leaves its temporary file; the journal itself is whole.
    await removeStaleTemps(path);
    const state = await readJsonFile<JournalFile>(path, initial);
    if (state.version !== 1) {
      throw new JournalError("JOURNAL_VERSION", `journal ${path} has unknown version ${String(state.version)}`);
    }
    if (state.signingFloorEpoch !== undefined && !/^[0-9]+$/.test(state.signingFloorEpoch)) {
      throw new JournalError("JOURNAL_CORRUPT", `journal ${path} has an invalid signing floor`, { metaMessages: [`signingFloorEpoch: ${String(state.signingFloorEpoch)}`] });
    }
    const journal = new GatewayJournal(path, state);
    await journal.flush();
    return journal;
  }

  /**
   * A fresh 32-byte nonce: sha256(salt || counter || random). The counter is reserved on
   * disk before use, so even a clock reset or a restored VM image cannot repeat one.
   */
  async freshNonce(): Promise<Uint8Array> {
    if (this.nextNonce >= BigInt(this.state.nonceReservedUpTo)) {
      this.state.nonceReservedUpTo = (this.nextNonce + NONCE_BLOCK).toString();
      await this.flush();
    }
    const counter = this.nextNonce++;
    return createHash("sha256")
      .update(this.state.salt)
      .update(counter.toString(16))
      .update(randomBytes(16))
      .digest();
  }

  /**
   * Signs at most one vote per round: the same vote again returns the signature made
   * before; a different vote for a signed round is refused (it would be equivocation).
   * The signature is on disk before it is returned. With an `intent`, the vote is written
   * down before signing too: a gateway killed between the two still knows, after a restart,
   * which decision its committee was reaching (an intent is not a lock: nothing was signed).
   */
  async signOnce(round: bigint, voteHash: string, sign: () => Promise<string>, intent?: SignIntent): Promise<string> {
    // One signing per round at a time: the check below and the record after the (async)
    // signature must not interleave with another call for the same round.
    const key = round.toString();
    const before = this.signing.get(key) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(() => this.signNow(round, voteHash, sign, intent));
    this.signing.set(key, run);
    try {
      return await run;
    } finally {
      if (this.signing.get(key) === run) this.signing.delete(key);
    }
  }

  private async signNow(round: bigint, voteHash: string, sign: () => Promise<string>, intent?: SignIntent): Promise<string> {
    const key = round.toString();
    // Below the floor the vote this gateway signed (if any) may have been dropped: signing
    // anything there could contradict it.
    const { epoch } = decodeRoundId(round);
    const floor = this.signingFloor();
    if (epoch < floor) {
      throw new JournalError("ROUND_BELOW_SIGNING_FLOOR", `round ${key} (epoch ${epoch}) is below the signing floor`, {
        metaMessages: [`signing floor: epoch ${floor}`],
      });
    }
    const previous = this.state.votes[key];
    if (previous) {
      if (previous.voteHash !== voteHash) {
        throw new JournalError("EQUIVOCATION_REFUSED", `round ${key} already has a signed vote with another content`, {
          metaMessages: [`signed: ${previous.voteHash}`, `asked:  ${voteHash}`],
        });
      }
      return previous.signature;
    }
    const role = intent?.role ?? "primary";
    if (intent) {
      this.state.intents = { ...this.state.intents, [key]: { voteHash, vote: intent.vote } };
      await this.flush();
    }
    faultPoint("kill-before-sign", { round, role });
    const signature = await sign();
    this.state.votes[key] = { voteHash, signature, signedAt: Date.now(), ...(intent ? { vote: intent.vote } : {}) };
    if (this.state.intents) delete this.state.intents[key];
    await this.flush();
    faultPoint("kill-after-sign", { round, role });
    return signature;
  }

  /** The vote this gateway signed, or was about to sign, in `round`. */
  roundVote(round: bigint | string): RoundVote | undefined {
    const key = round.toString();
    const signed = this.state.votes[key];
    if (signed?.vote) return { voteHash: signed.voteHash, vote: signed.vote, signed: true };
    const intent = this.state.intents?.[key];
    return intent ? { ...intent, signed: false } : undefined;
  }

  /** Every vote signature on record, by round (for audits and the crash test). */
  signedVotes(): Record<string, SignedVoteRecord> {
    return { ...this.state.votes };
  }

  signedVote(round: bigint): SignedVoteRecord | undefined {
    return this.state.votes[round.toString()];
  }

  async putRound(round: PendingRound): Promise<void> {
    this.state.rounds[round.round] = { ...round, updatedAt: Date.now() };
    await this.flush();
  }

  /** Marks rounds finished in one write (a restart may close many at once). */
  async closeRounds(rounds: readonly string[], phase: "recorded" | "abandoned", now = Date.now()): Promise<void> {
    let changed = false;
    for (const key of rounds) {
      const r = this.state.rounds[key];
      if (!r || r.phase === phase) continue;
      this.state.rounds[key] = { ...r, phase, updatedAt: now };
      changed = true;
    }
    if (changed) await this.flush();
  }

  round(round: bigint | string): PendingRound | undefined {
    return this.state.rounds[round.toString()];
  }

  pendingRounds(): PendingRound[] {
    return Object.values(this.state.rounds).filter((r) => r.phase !== "recorded" && r.phase !== "abandoned");
  }

  /** The lowest epoch this gateway may still sign in. */
  signingFloor(): bigint {
    return BigInt(this.state.signingFloorEpoch ?? "0");
  }

  /**
   * Raises the signing floor for a newly opened epoch (see signingFloorFor) and compacts;
   * `retention` reads the chain's windows. A daemon replaying the chain's logs at start sees
   * every EpochOpened at once: calls made while one runs share one more run, for the newest
   * epoch asked, so a burst costs two reads and two compactions.
   */
  compactForEpoch(openedEpoch: bigint, retention: () => Promise<VoteRetention>): Promise<CompactionResult | undefined> {
    if (this.compactFor === undefined || openedEpoch > this.compactFor) this.compactFor = openedEpoch;
    this.compacting ??= this.compactEpochs(retention);
    return this.compacting;
  }

  private async compactEpochs(retention: () => Promise<VoteRetention>): Promise<CompactionResult | undefined> {
    let last: CompactionResult | undefined;
    try {
      while (this.compactFor !== undefined) {
        const opened = this.compactFor;
        this.compactFor = undefined;
        last = await this.compact(signingFloorFor(opened, await retention()));
      }
      return last;
    } finally {
      this.compacting = undefined;
    }
  }

  /**
   * Raises the signing floor to `floorEpoch` (never lowers it) and drops the votes, intents
   * and rounds, finished or not, of epochs below it, in the same write: no crash can leave
   * a dropped vote without the floor that protects it. Unfinished rounds below the floor
   * could no longer be signed anyway. A vote a signing in progress records below the floor
   * afterwards is harmless (signing there is refused) and goes with the next compaction.
   */
  async compact(floorEpoch: bigint): Promise<CompactionResult> {
    const current = this.signingFloor();
    const floor = floorEpoch > current ? floorEpoch : current;
    const result: CompactionResult = {
      floorEpoch: floor,
      votes: dropBelow(this.state.votes, floor),
      intents: this.state.intents ? dropBelow(this.state.intents, floor) : 0,
      rounds: dropBelow(this.state.rounds, floor),
    };
    const raised = floor !== current;
    if (raised) this.state.signingFloorEpoch = floor.toString();
    if (raised || result.votes + result.intents + result.rounds > 0) await this.flush();
    return result;
  }

  /** How many times the file was rewritten since open (coalescing shows here). */
  diskWrites(): number {
    return this.writeCount;
  }

  /** Drops finished rounds older than `olderThanMs`; signed votes go only with compact(). */
  async prune(olderThanMs: number, now = Date.now()): Promise<number> {
    let dropped = 0;
    for (const [key, r] of Object.entries(this.state.rounds)) {
      if ((r.phase === "recorded" || r.phase === "abandoned") && now - r.updatedAt > olderThanMs) {
        delete this.state.rounds[key];
        if (this.state.intents) delete this.state.intents[key];
        dropped++;
      }
    }
    if (dropped > 0) await this.flush();
    return dropped;
  }

  /**
   * Waits for the writes in flight and refuses later ones, so the caller may remove the
   * journal's directory (a write racing a cleanup recreates its temporary file there).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.draining;
  }

  /**
   * Resolves once the current state (or a newer one) is durable. One write at a time, in
   * order; with no write in progress one starts at once. Flushes arriving while a write is
   * in progress all wait for ONE next write, which takes the state as it is when it starts
   * (so it holds every change they made): a burst costs two writes, not one per change.
   */
  private flush(): Promise<void> {
    if (this.closed) return Promise.reject(new JournalError("JOURNAL_CLOSED", `journal ${this.path} is closed`));
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.draining ??= this.drain();
    return done;
  }

  private async drain(): Promise<void> {
    while (this.waiters.length > 0) {
      const batch = this.waiters;
      this.waiters = [];
      try {
        const snapshot = JSON.stringify(this.state);
        this.writeCount++;
        await writeFileAtomic(this.path, snapshot);
        for (const w of batch) w.resolve();
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    // Reached with no await after the emptiness check: a flush from now on starts a new drain.
    this.draining = undefined;
  }
}
