/**
 * The replica's state as plain data, and its reconstruction from a journal. Only what the
 * journal holds survives a crash: the view, what this replica proposed, prepared, committed and
 * executed, its vote locks and its stable checkpoint. That is enough for it never to sign a
 * conflicting message again; the rest (other replicas' votes) it relearns from the network.
 */
import type { Hex } from "viem";
import { GENESIS_STATE_DIGEST, voteDigest } from "./codec.js";
import { VoteCounter } from "./quorum.js";
import {
  ReplicaMode,
  SlotPhase,
  type CheckpointMsg,
  type CommitMsg,
  type JournalRecord,
  type NewViewMsg,
  type PbftMessage,
  type PrePrepareMsg,
  type PrepareMsg,
  type PreparedProof,
  type ViewChangeMsg,
  type Vote,
} from "./types.js";

/** One (view, seq) position of the log. */
export interface Slot {
  view: number;
  seq: number;
  prePrepare: PrePrepareMsg | null;
  phase: SlotPhase | null;
  /** keyed by digest */
  prepares: VoteCounter<PrepareMsg>;
  /** keyed by digest; only commits whose endorsements were checked against the batch */
  commits: VoteCounter<CommitMsg>;
  /** commits that arrived before the pre-prepare, checked once the batch is known */
  early: Map<number, CommitMsg>;
}

export interface CommittedEntry {
  view: number;
  digest: Hex;
  batch: Vote[];
  commits: CommitMsg[];
  /** batch indices whose certificate is still missing after execution (late commits may complete it) */
  missing?: Set<number>;
}

export interface ReplicaState {
  view: number;
  mode: ReplicaMode;
  lastExecuted: number;
  stateDigest: Hex;
  stableSeq: number;
  stableDigest: Hex;
  stableProof: CheckpointMsg[];
  /** next sequence number this replica assigns while primary */
  nextSeq: number;
  slots: Map<string, Slot>;
  committed: Map<number, CommittedEntry>;
  /** highest-view prepared proof per sequence number above the stable checkpoint */
  preparedProofs: Map<number, PreparedProof>;
  /** checkpoint messages keyed `${seq}:${stateDigest}` */
  checkpoints: VoteCounter<CheckpointMsg>;
  /** verdict proposals known but not executed, by vote digest, in arrival order */
  pending: Map<Hex, Vote>;
  /** proposals the current primary already put into a pre-prepare of this view */
  assigned: Set<Hex>;
  /** vote digest -> seq where it was executed (pruned at stable checkpoints) */
  executedAt: Map<Hex, number>;
  executedVotes: Set<Hex>;
  /** round -> digest of the only vote this replica signs for it */
  voteLocks: Map<string, Hex>;
  /** `${view}:${seq}` -> digest this replica pre-prepared / prepared / committed */
  sentPrePrepare: Map<string, Hex>;
  sentPrepare: Map<string, Hex>;
  sentCommit: Map<string, Hex>;
  /** view-change messages keyed by target view */
  viewChanges: VoteCounter<ViewChangeMsg>;
  sentNewView: Set<number>;
  lastNewView: NewViewMsg | null;
  /** authenticated messages for views this replica has not installed yet */
  future: PbftMessage[];
  requestTimerArmed: boolean;
  requestStrikes: number;
  batchTimerArmed: boolean;
  viewChangeTimeoutMs: number;
}

export function slotKey(view: number, seq: number): string {
  return `${view}:${seq}`;
}

export function newSlot(view: number, seq: number): Slot {
  return { view, seq, prePrepare: null, phase: null, prepares: new VoteCounter(), commits: new VoteCounter(), early: new Map() };
}

export function initialState(viewChangeTimeoutMs: number): ReplicaState {
  return {
    view: 0,
    mode: ReplicaMode.Normal,
    lastExecuted: 0,
    stateDigest: GENESIS_STATE_DIGEST,
    stableSeq: 0,
    stableDigest: GENESIS_STATE_DIGEST,
    stableProof: [],
    nextSeq: 1,
    slots: new Map(),
    committed: new Map(),
    preparedProofs: new Map(),
    checkpoints: new VoteCounter(),
    pending: new Map(),
    assigned: new Set(),
    executedAt: new Map(),
    executedVotes: new Set(),
    voteLocks: new Map(),
    sentPrePrepare: new Map(),
    sentPrepare: new Map(),
    sentCommit: new Map(),
    viewChanges: new VoteCounter(),
    sentNewView: new Set(),
    lastNewView: null,
    future: [],
    requestTimerArmed: false,
    requestStrikes: 0,
    batchTimerArmed: false,
    viewChangeTimeoutMs,
  };
}

export function getSlot(s: ReplicaState, view: number, seq: number): Slot {
  const key = slotKey(view, seq);
  let slot = s.slots.get(key);
  if (!slot) {
    slot = newSlot(view, seq);
    s.slots.set(key, slot);
  }
  return slot;
}

/** Forget everything at or below the stable checkpoint (log garbage collection). */
export function collectGarbage(s: ReplicaState): void {
  for (const [key, slot] of s.slots) if (slot.seq <= s.stableSeq) s.slots.delete(key);
  for (const seq of s.committed.keys()) if (seq <= s.stableSeq) s.committed.delete(seq);
  for (const seq of s.preparedProofs.keys()) if (seq <= s.stableSeq) s.preparedProofs.delete(seq);
  for (const key of s.checkpoints.keys()) if (Number(key.split(":")[0]) <= s.stableSeq) s.checkpoints.delete(key);
  for (const [d, seq] of s.executedAt) if (seq <= s.stableSeq) s.executedAt.delete(d);
  for (const m of [s.sentPrePrepare, s.sentPrepare, s.sentCommit]) {
    for (const key of m.keys()) if (Number(key.split(":")[1]) <= s.stableSeq) m.delete(key);
  }
}

/** Rebuilds a replica's state from its journal (records in the order they were written). */
export function restoreState(journal: readonly JournalRecord[], id: number, viewChangeTimeoutMs: number): ReplicaState {
  const s = initialState(viewChangeTimeoutMs);
  for (const r of journal) {
    switch (r.type) {
      case "view":
        if (r.view >= s.view) {
          s.view = r.view;
          s.mode = r.mode;
        }
        break;
      case "pre-prepare": {
        const pp = r.message;
        const slot = getSlot(s, pp.view, pp.seq);
        slot.prePrepare = pp;
        slot.phase ??= SlotPhase.PrePrepared;
        if (pp.replica === id) {
          s.sentPrePrepare.set(slotKey(pp.view, pp.seq), pp.digest);
          if (pp.view === s.view) s.nextSeq = Math.max(s.nextSeq, pp.seq + 1);
        }
        break;
      }
      case "prepare":
        s.sentPrepare.set(slotKey(r.view, r.seq), r.digest);
        break;
      case "prepared": {
        const pp = r.proof.prePrepare;
        const cur = s.preparedProofs.get(pp.seq);
        if (!cur || cur.prePrepare.view <= pp.view) s.preparedProofs.set(pp.seq, r.proof);
        const slot = getSlot(s, pp.view, pp.seq);
        slot.prePrepare ??= pp;
        slot.phase = SlotPhase.Prepared;
        for (const p of r.proof.prepares) slot.prepares.add(p.digest, p.replica, p);
        break;
      }
      case "vote-lock":
        s.voteLocks.set(r.vote.round.toString(), voteDigest(r.vote));
        break;
      case "commit":
        s.sentCommit.set(slotKey(r.view, r.seq), r.digest);
        break;
      case "executed":
        s.lastExecuted = r.seq;
        s.stateDigest = r.stateDigest;
        for (const v of r.batch) {
          const d = voteDigest(v);
          s.executedVotes.add(d);
          s.executedAt.set(d, r.seq);
        }
        break;
      case "stable-checkpoint":
        if (r.seq > s.stableSeq) {
          s.stableSeq = r.seq;
          s.stableDigest = r.stateDigest;
          s.stableProof = r.proof;
          if (s.lastExecuted < r.seq) {
            s.lastExecuted = r.seq;
            s.stateDigest = r.stateDigest;
          }
          collectGarbage(s);
        }
        break;
    }
  }
  // Prepared but the commit record never made it: the commit was not sent, so resume() redoes it.
  for (const slot of s.slots.values()) {
    if (slot.phase === SlotPhase.Prepared && !s.sentCommit.has(slotKey(slot.view, slot.seq))) slot.phase = SlotPhase.PrePrepared;
  }
  s.nextSeq = Math.max(s.nextSeq, s.lastExecuted + 1);
  return s;
}
