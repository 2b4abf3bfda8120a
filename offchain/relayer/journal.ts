/**
 * The gateway's durable memory: nonce reservations, the votes it signed, and the rounds it
 * is working on. Every change is durable BEFORE the caller acts on it, so a gateway killed
 * at any point and restarted never reuses a nonce, never signs two different votes for one
 * round, and picks up its pending rounds where it left them.
 *
 * A change is one line appended to a log (journal-log.ts has the format), so its cost does
 * not grow with the votes kept above the signing floor (rewriting the whole state on every
 * round step was the gateway's largest CPU cost). The log is folded into a new snapshot
 * when it has grown large, and when entries are dropped.
 *
 * The journal stays bounded: a durable signing floor (an epoch) is raised as epochs open;
 * votes, intents and rounds below it are dropped, and no round below it is ever signed
 * again, so a dropped vote can never be contradicted.
 */
import { createHash, randomBytes } from "node:crypto";
import { close as closeFd, constants as fsConstants, fdatasync, open as openFd, write as writeFd } from "node:fs";
import { open } from "node:fs/promises";
import { promisify } from "node:util";
import { decodeRoundId } from "../core/protocol.js";
import { readOptionalFile, removeStaleTemps, writeFileAtomic } from "./atomic-file.js";
import { faultPoint, type FaultRole } from "./fault.js";
import {
  encodeRecord,
  journalPaths,
  JournalError,
  loadJournal,
  logHeader,
  newerLogError,
  type JournalPaths,
  type JournalState,
  type LoadedJournal,
} from "./journal-log.js";

export { JournalError, readJournalState, readJournalStateSync, type JournalState } from "./journal-log.js";

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

export interface JournalOptions {
  /**
   * The log is folded into a new snapshot once an append would take it past this many
   * bytes and past the size of the snapshot itself: the second bound keeps the bytes
   * rewritten per byte logged below two however large the state grows.
   */
  logLimitBytes?: number;
}

const DEFAULT_LOG_LIMIT_BYTES = 1 << 20;

// A plain descriptor, not a FileHandle: Node closes a FileHandle its owner forgot with a
// warning on garbage collection (an error in later versions, DEP0137), and journals opened
// only for a look, or by tests, are rarely closed.
const openLog = promisify(openFd);
const writeLog = promisify(writeFd);
const syncLog = promisify(fdatasync);
const closeLog = promisify(closeFd);

/**
 * The signing floor once `openedEpoch` is open: the oldest epoch whose rounds TrustBoard
 * still records (it refuses a certificate more than `maxRoundAge` epochs old,
 * TrustBoardRoundTooLate). Nothing below the floor is ever signed, so the votes there need
 * not be remembered: no second signature for one of those rounds can come from this gateway,
 * however long Disputes takes equivocation evidence. That window is far longer (a week by
 * default); keeping every vote for it held a week of rounds in the journal, in memory and in
 * every snapshot, on a gateway that signs several votes a second. (A later governance change
 * that lengthens maxRoundAge only makes this gateway refuse some old rounds it could have
 * signed: the floor never goes down. A liveness cost, never a double signature.)
 */
export function signingFloorFor(openedEpoch: bigint, maxRoundAge: bigint): bigint {
  return openedEpoch > maxRoundAge ? openedEpoch - maxRoundAge : 0n;
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
  private state: JournalState;
  private nextNonce: bigint;
  /** Records of the changes the write in progress does not cover: they share the next one. */
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  /**
   * The next write rewrites the snapshot: entries were dropped (the disk should shrink), or
   * a write failed and the log may end in a torn record that a later append would bury.
   */
  private snapshotDue = false;
  private draining: Promise<void> | undefined;
  private writeCount = 0;
  /** Generation of the snapshot on disk, and of the log that continues it. */
  private generation: number;
  private snapshotBytes: number;
  /** Where the log's last whole record ends: appends land here. */
  private logBytes: number;
  /** Opened at the first append, so a journal opened only to be read holds no descriptor. */
  private logFd: number | undefined;
  /** Newest opened epoch a compaction was asked for and has not started for yet. */
  private compactFor: bigint | undefined;
  private compacting: Promise<CompactionResult | undefined> | undefined;
  private closed = false;
  private readonly signing = new Map<string, Promise<string>>();

  private constructor(
    private readonly paths: JournalPaths,
    loaded: { state: JournalState; generation: number; bytes: number },
    logBytes: number,
    private readonly logLimitBytes: number,
  ) {
    this.state = loaded.state;
    this.generation = loaded.generation;
    this.snapshotBytes = loaded.bytes;
    this.logBytes = logBytes;
    // Everything up to the reserved mark may have been handed out before a crash.
    this.nextNonce = BigInt(loaded.state.nonceReservedUpTo);
  }

  static async open(dir: string, options: JournalOptions = {}): Promise<GatewayJournal> {
    const paths = journalPaths(dir);
    const limit = options.logLimitBytes ?? DEFAULT_LOG_LIMIT_BYTES;
    // A daemon killed mid-write leaves its temporary files; the snapshot and the log are whole.
    await removeStaleTemps(paths.snapshot);
    await removeStaleTemps(paths.log);
    const snapshot = await readOptionalFile(paths.snapshot);
    const loaded = loadJournal(paths, snapshot, await readOptionalFile(paths.log));
    if (loaded === undefined) {
      const state: JournalState = { version: 1, salt: randomBytes(16).toString("hex"), nonceReservedUpTo: "0", votes: {}, rounds: {} };
      const journal = new GatewayJournal(paths, { state, generation: 0, bytes: 0 }, 0, limit);
      // The salt is on disk before any nonce is derived from it.
      await journal.commit([], true);
      return journal;
    }
    return new GatewayJournal(paths, loaded, await GatewayJournal.prepareLog(paths, loaded), limit);
  }

  /** Makes the log on disk the one appends may continue; returns its length. */
  private static async prepareLog(paths: JournalPaths, loaded: LoadedJournal): Promise<number> {
    const { log } = loaded;
    switch (log.kind) {
      case "newer":
        throw newerLogError(paths, { ...loaded, log });
      case "missing":
      case "stale": {
        // A stale log is the one a crash left between the two steps of a snapshot rewrite:
        // the snapshot holds all of it. No log at all: a journal from before the log existed.
        const header = logHeader(loaded.generation);
        await writeFileAtomic(paths.log, header);
        return Buffer.byteLength(header);
      }
      case "replayed":
        if (log.validBytes < log.size) {
          // The torn tail was never acknowledged; cut it off so the next record starts on a line of its own.
          const file = await open(paths.log, "r+");
          try {
            await file.truncate(log.validBytes);
            await file.datasync();
          } finally {
            await file.close();
          }
        }
        return log.validBytes;
    }
  }

  /**
   * A fresh 32-byte nonce: sha256(salt || counter || random). The counter is reserved on
   * disk before use, so even a clock reset or a restored VM image cannot repeat one.
   */
  async freshNonce(): Promise<Uint8Array> {
    if (this.nextNonce >= BigInt(this.state.nonceReservedUpTo)) {
      this.state.nonceReservedUpTo = (this.nextNonce + NONCE_BLOCK).toString();
      await this.commit([encodeRecord({ field: "nonceReservedUpTo", value: this.state.nonceReservedUpTo })]);
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
      const entry = { voteHash, vote: intent.vote };
      (this.state.intents ??= {})[key] = entry;
      await this.commit([encodeRecord({ set: "intents", key, value: entry })]);
    }
    faultPoint("kill-before-sign", { round, role });
    const signature = await sign();
    const record: SignedVoteRecord = { voteHash, signature, signedAt: Date.now(), ...(intent ? { vote: intent.vote } : {}) };
    this.state.votes[key] = record;
    const records = [encodeRecord({ set: "votes", key, value: record })];
    if (this.state.intents?.[key]) {
      delete this.state.intents[key];
      records.push(encodeRecord({ del: "intents", key }));
    }
    await this.commit(records);
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
    const entry = { ...round, updatedAt: Date.now() };
    this.state.rounds[round.round] = entry;
    await this.commit([encodeRecord({ set: "rounds", key: round.round, value: entry })]);
  }

  /** Marks rounds finished in one write (a restart may close many at once). */
  async closeRounds(rounds: readonly string[], phase: "recorded" | "abandoned", now = Date.now()): Promise<void> {
    const records: string[] = [];
    for (const key of rounds) {
      const r = this.state.rounds[key];
      if (!r || r.phase === phase) continue;
      const entry = { ...r, phase, updatedAt: now };
      this.state.rounds[key] = entry;
      records.push(encodeRecord({ set: "rounds", key, value: entry }));
    }
    if (records.length > 0) await this.commit(records);
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
   * `maxRoundAge` reads the chain's window. A daemon replaying the chain's logs at start sees
   * every EpochOpened at once: calls made while one runs share one more run, for the newest
   * epoch asked, so a burst costs two reads and two compactions.
   */
  compactForEpoch(openedEpoch: bigint, maxRoundAge: () => Promise<bigint>): Promise<CompactionResult | undefined> {
    if (this.compactFor === undefined || openedEpoch > this.compactFor) this.compactFor = openedEpoch;
    this.compacting ??= this.compactEpochs(maxRoundAge);
    return this.compacting;
  }

  private async compactEpochs(maxRoundAge: () => Promise<bigint>): Promise<CompactionResult | undefined> {
    let last: CompactionResult | undefined;
    try {
      while (this.compactFor !== undefined) {
        const opened = this.compactFor;
        this.compactFor = undefined;
        last = await this.compact(signingFloorFor(opened, await maxRoundAge()));
      }
      return last;
    } finally {
      this.compacting = undefined;
    }
  }

  /**
   * Raises the signing floor to `floorEpoch` (never lowers it) and drops the votes, intents
   * and rounds, finished or not, of epochs below it, in the same write (a snapshot
   * rewrite): no crash can leave a dropped vote without the floor that protects it.
   * Unfinished rounds below the floor could no longer be signed anyway. A vote a signing in
   * progress records below the floor afterwards is harmless (signing there is refused) and
   * goes with the next compaction.
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
    if (result.votes + result.intents + result.rounds > 0) await this.commit([], true);
    else if (raised) await this.commit([encodeRecord({ field: "signingFloorEpoch", value: floor.toString() })]);
    return result;
  }

  /** How many disk writes (log appends and snapshot rewrites) were made since open (coalescing shows here). */
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
    if (dropped > 0) await this.commit([], true);
    return dropped;
  }

  /**
   * Waits for the writes in flight and refuses later ones, so the caller may remove the
   * journal's directory (a write racing a cleanup recreates its temporary file there).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.draining;
    await this.closeLogFd();
  }

  /**
   * Resolves once `records` (or a snapshot holding their changes) are durable. One write
   * at a time, in order; with no write in progress one starts at once. Records arriving
   * while a write is in progress all go into ONE next write: a burst costs two writes
   * (one write() and one datasync each), not one per change.
   */
  private commit(records: string[], snapshot = false): Promise<void> {
    if (this.closed) return Promise.reject(new JournalError("JOURNAL_CLOSED", `journal ${this.paths.snapshot} is closed`));
    for (const r of records) this.pending.push(r);
    if (snapshot) this.snapshotDue = true;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.draining ??= this.drain();
    return done;
  }

  private async drain(): Promise<void> {
    while (this.waiters.length > 0) {
      const batch = this.waiters;
      const data = Buffer.from(this.pending.join(""));
      this.waiters = [];
      this.pending = [];
      try {
        if (this.snapshotDue || this.logBytes + data.length > Math.max(this.logLimitBytes, this.snapshotBytes)) {
          this.writeCount++;
          await this.rewriteSnapshot();
        } else if (data.length > 0) {
          this.writeCount++;
          await this.append(data);
        }
        for (const w of batch) w.resolve();
      } catch (e) {
        this.snapshotDue = true;
        await this.closeLogFd().catch(() => undefined);
        for (const w of batch) w.reject(e);
      }
    }
    // Reached with no await after the emptiness check: a commit from now on starts a new drain.
    this.draining = undefined;
  }

  private async append(data: Buffer): Promise<void> {
    // Without O_CREAT: a log that vanished must not be recreated headerless.
    const fd = (this.logFd ??= await openLog(this.paths.log, fsConstants.O_WRONLY | fsConstants.O_APPEND));
    let written = 0;
    while (written < data.length) written += (await writeLog(fd, data, written, data.length - written)).bytesWritten;
    await syncLog(fd);
    this.logBytes += data.length;
  }

  /**
   * Folds the log into a new snapshot in two atomic steps, each safe to crash after: the
   * snapshot of generation g+1 (the log of generation g is then ignored), then a fresh log
   * of generation g+1.
   */
  private async rewriteSnapshot(): Promise<void> {
    const next = this.generation + 1;
    // Taken in the same turn as the batch: it holds the batch's changes, and later ones go to the new log.
    const text = JSON.stringify({ ...this.state, logGeneration: next });
    this.snapshotDue = false;
    await this.closeLogFd();
    await writeFileAtomic(this.paths.snapshot, text);
    this.generation = next;
    this.snapshotBytes = Buffer.byteLength(text);
    const header = logHeader(next);
    await writeFileAtomic(this.paths.log, header);
    this.logBytes = Buffer.byteLength(header);
  }

  private async closeLogFd(): Promise<void> {
    const fd = this.logFd;
    this.logFd = undefined;
    if (fd !== undefined) await closeLog(fd);
  }
}
