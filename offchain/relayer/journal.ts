/**
 * The gateway's durable memory: nonce reservations, every vote it ever signed, and the
 * rounds it is working on. Every change is written (atomically) BEFORE the caller acts on
 * it, so a gateway killed at any point and restarted never reuses a nonce, never signs two
 * different votes for one round, and picks up its pending rounds where it left them.
 */
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { TrustmeshError } from "../core/errors.js";
import { readJsonFile, writeFileAtomic } from "./atomic-file.js";
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
}

export class GatewayJournal {
  private state: JournalFile;
  private nextNonce: bigint;
  private writing: Promise<void> = Promise.resolve();
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
    const state = await readJsonFile<JournalFile>(path, initial);
    if (state.version !== 1) {
      throw new JournalError("JOURNAL_VERSION", `journal ${path} has unknown version ${String(state.version)}`);
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

  /** Drops finished rounds older than `olderThanMs`; signed votes are kept forever. */
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
    await this.writing;
  }

  /** Serialises writes: concurrent callers each get their own complete, ordered write. */
  private flush(): Promise<void> {
    if (this.closed) return Promise.reject(new JournalError("JOURNAL_CLOSED", `journal ${this.path} is closed`));
    const snapshot = JSON.stringify(this.state);
    const next = this.writing.then(() => writeFileAtomic(this.path, snapshot));
    this.writing = next.catch(() => undefined);
    return next;
  }
}
