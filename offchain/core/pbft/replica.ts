/**
 * One PBFT replica (Castro-Liskov, n = 3f+1) as a single-owner state machine: `step(input)`
 * consumes one input and returns what to do. Inputs are processed strictly one at a time even
 * when callers do not await (an internal queue), so a signer that is async cannot interleave
 * two handlers.
 *
 * Journal before sign: every `persist` output precedes, in the returned list, the signed
 * messages that depend on it. A driver writes persist records durably before sending anything
 * that follows them; a replica restored from that journal never signs a conflicting prepare,
 * commit or Vote (see state.ts).
 */
import type { Address, Hex } from "viem";
import { ZERO_BYTES32, batchDigest, nextStateDigest as nextStateDigestOf, signMessage, signingBytes, voteDigest } from "./codec.js";
import { buildCertificate } from "./certificate.js";
import { primaryOf } from "./proofs.js";
import { collectGarbage as collectGarbageOf, getSlot, initialState, restoreState, slotKey, type ReplicaState, type Slot } from "./state.js";
import {
  PbftError,
  ReplicaMode,
  SlotPhase,
  type Certificate,
  type CheckpointMsg,
  type CommitMsg,
  type JournalRecord,
  type PbftMessage,
  type PrePrepareMsg,
  type PrepareMsg,
  type RequestMsg,
  type ReplicaConfig,
  type ReplicaInput,
  type ReplicaOutput,
  type ReplicaStatus,
  type TimerId,
  type Unsigned,
  type Vote,
  type VoteEndorsement,
} from "./types.js";
import { CatchUp } from "./catch-up.js";
import { ViewChanges } from "./view-change.js";
import { resolveConfig, type ResolvedConfig } from "./config.js";
import { Outbox } from "./outbox.js";

export { Outbox };

const FUTURE_BUFFER_LIMIT = 4096;

export class Replica {
  readonly cfg: ResolvedConfig;
  readonly s: ReplicaState;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly vc: ViewChanges;
  private readonly catchUp: CatchUp;
  private readonly helped = new Map<string, number>();

  constructor(config: ReplicaConfig, journal?: readonly JournalRecord[]) {
    this.cfg = resolveConfig(config);
    this.s = journal ? restoreState(journal, this.cfg.id, this.cfg.viewChangeTimeoutMs) : initialState(this.cfg.viewChangeTimeoutMs);
    this.vc = new ViewChanges(this);
    this.catchUp = new CatchUp(this);
  }

  get id(): number {
    return this.cfg.id;
  }

  /** Consume one input; outputs in the order the driver must act on them. */
  step(input: ReplicaInput): Promise<ReplicaOutput[]> {
    const run = this.queue.then(async () => {
      const out = new Outbox();
      await this.handle(input, out);
      return out.items;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * After a restart from a journal: re-announce the view change in progress (if any) and
   * re-arm timers. Signing here repeats only messages the journal already allows.
   */
  resume(): Promise<ReplicaOutput[]> {
    const run = this.queue.then(async () => {
      const out = new Outbox();
      if (this.s.mode === ReplicaMode.ViewChange) {
        await this.vc.announce(out);
      } else {
        for (const slot of [...this.s.slots.values()]) if (slot.view === this.s.view) await this.checkPrepared(slot, out);
        this.armRequestTimer(out, true);
      }
      return out.items;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  status(): ReplicaStatus {
    const s = this.s;
    return {
      id: this.id,
      view: s.view,
      primary: primaryOf(s.view, this.cfg.n),
      mode: s.mode,
      lastExecuted: s.lastExecuted,
      stableSeq: s.stableSeq,
      lowWatermark: s.stableSeq,
      highWatermark: s.stableSeq + this.cfg.watermarkWindow,
      pendingRequests: s.pending.size,
      logSize: s.slots.size,
    };
  }

  // ---- helpers shared with ViewChanges ----

  isPrimary(view = this.s.view): boolean {
    return primaryOf(view, this.cfg.n) === this.id;
  }

  inWindow(seq: number): boolean {
    return seq > this.s.stableSeq && seq <= this.s.stableSeq + this.cfg.watermarkWindow;
  }

  sign<M extends PbftMessage>(m: Unsigned<M>): Promise<M> {
    return signMessage<M>(m, (bytes) => this.cfg.auth.sign(bytes));
  }

  readonly verify = async (m: PbftMessage): Promise<boolean> => {
    if (!Number.isInteger(m.replica) || m.replica < 0 || m.replica >= this.cfg.n) return false;
    try {
      return await this.cfg.auth.verify(m.replica, signingBytes(m), m.sig);
    } catch {
      return false;
    }
  };

  // ---- dispatch ----

  private async handle(input: ReplicaInput, out: Outbox): Promise<void> {
    switch (input.type) {
      case "request":
        return this.onLocalRequest(input.vote, out);
      case "timeout":
        return this.onTimeout(input.timer, out);
      case "message": {
        const m = input.message;
        if (!Number.isInteger(m.replica) || m.replica < 0 || m.replica >= this.cfg.n) {
          out.reject(typeof m.replica === "number" ? m.replica : -1, "unknown-replica", m.type);
          return;
        }
        if (m.replica === this.id) return;
        if (!(await this.verify(m))) {
          out.reject(m.replica, "auth", m.type);
          return;
        }
        return this.dispatch(m, out, input.relayed === true);
      }
    }
  }

  /**
   * Handle an authenticated message. `relayed` (ReplicaInput): this copy is not its author's
   * own broadcast, so a duplicate of it earns the author no help.
   */
  async dispatch(m: PbftMessage, out: Outbox, relayed = false): Promise<void> {
    switch (m.type) {
      case "request":
        return this.onRequest(m.vote, m.replica, out, relayed);
      case "pre-prepare":
        return this.onPrePrepare(m, out, relayed);
      case "prepare":
        return this.onPrepare(m, out, relayed);
      case "commit":
        return this.onCommit(m, out, relayed);
      case "checkpoint":
        return this.onCheckpoint(m, out);
      case "view-change":
        return this.vc.onViewChange(m, out);
      case "new-view":
        return this.vc.onNewView(m, out, relayed);
    }
  }

  bufferFuture(m: PbftMessage): void {
    this.s.future.push(m);
    if (this.s.future.length > FUTURE_BUFFER_LIMIT) this.s.future.shift();
  }

  // ---- requests and batching ----

  private addPending(vote: Vote): boolean {
    const d = voteDigest(vote);
    if (this.s.executedVotes.has(d) || this.s.pending.has(d)) return false;
    this.s.pending.set(d, vote);
    return true;
  }

  private async onLocalRequest(vote: Vote, out: Outbox): Promise<void> {
    if (!this.cfg.validateRequest(vote)) throw new PbftError("PBFT_INVALID_REQUEST", `proposal for round ${vote.round} fails validation`);
    if (!this.addPending(vote)) return;
    out.broadcast(await this.sign<RequestMsg>({ type: "request", replica: this.id, vote }));
    this.armRequestTimer(out, false);
    await this.tryPropose(out, false);
  }

  private async onRequest(vote: Vote, from: number, out: Outbox, relayed: boolean): Promise<void> {
    if (!this.cfg.validateRequest(vote)) {
      out.reject(from, "invalid-request", "request");
      return;
    }
    const d = voteDigest(vote);
    const executedSeq = this.s.executedAt.get(d);
    if (executedSeq !== undefined) {
      // A retransmitted request we already executed: the sender lags, show it the decision.
      if (!relayed) this.helpLaggard(from, executedSeq, out);
      return;
    }
    if (this.s.executedVotes.has(d)) {
      if (this.s.stableProof.length > 0) for (const c of this.s.stableProof) out.send(from, c);
      return;
    }
    if (!this.addPending(vote)) return;
    this.armRequestTimer(out, false);
    await this.tryPropose(out, false);
  }

  /** Primary: cut batches from pending proposals while the window has room. */
  async tryPropose(out: Outbox, flush: boolean): Promise<void> {
    const s = this.s;
    if (s.mode !== ReplicaMode.Normal || !this.isPrimary()) return;
    for (;;) {
      if (s.nextSeq > s.stableSeq + this.cfg.watermarkWindow) return;
      const batch: Vote[] = [];
      for (const [d, v] of s.pending) {
        if (s.assigned.has(d)) continue;
        batch.push(v);
        if (batch.length >= this.cfg.maxBatch) break;
      }
      if (batch.length === 0) return;
      // An idle pipeline proposes at once: waiting for company only pays while an earlier
      // batch is still being agreed on (what arrives meanwhile would wait for it anyway).
      const idle = s.nextSeq <= s.lastExecuted + 1;
      if (batch.length < this.cfg.maxBatch && !flush && !idle && this.cfg.batchTimeoutMs > 0) {
        if (!s.batchTimerArmed) {
          s.batchTimerArmed = true;
          out.setTimer({ kind: "batch", view: s.view }, this.cfg.batchTimeoutMs);
        }
        return;
      }
      await this.propose(batch, out);
    }
  }

  private async propose(batch: Vote[], out: Outbox): Promise<void> {
    const s = this.s;
    const seq = s.nextSeq++;
    const digest = batchDigest(batch);
    const unsigned: Unsigned<PrePrepareMsg> = { type: "pre-prepare", replica: this.id, view: s.view, seq, digest, batch };
    const pp = await this.sign<PrePrepareMsg>(unsigned);
    out.persist({ type: "pre-prepare", message: pp });
    s.sentPrePrepare.set(slotKey(s.view, seq), digest);
    const slot = getSlot(s, s.view, seq);
    slot.prePrepare = pp;
    slot.phase = SlotPhase.PrePrepared;
    for (const v of batch) s.assigned.add(voteDigest(v));
    out.broadcast(pp);
    await this.checkPrepared(slot, out);
  }

  // ---- normal case ----

  private async onPrePrepare(pp: PrePrepareMsg, out: Outbox, relayed: boolean): Promise<void> {
    const s = this.s;
    if (pp.view < s.view) {
      this.vc.helpOldView(pp.replica, pp.view, out);
      return this.catchUp.offer(pp, out);
    }
    if (pp.view > s.view || s.mode !== ReplicaMode.Normal) return this.bufferFuture(pp);
    if (pp.replica !== primaryOf(s.view, this.cfg.n)) return out.reject(pp.replica, "not-primary", pp.type);
    if (!this.inWindow(pp.seq)) return pp.seq > s.stableSeq ? out.reject(pp.replica, "out-of-window", pp.type) : undefined;
    if (pp.digest !== batchDigest(pp.batch)) return out.reject(pp.replica, "bad-digest", pp.type);
    await this.acceptPrePrepare(pp, out, relayed);
  }

  /** Backup accepts a pre-prepare of the current view (from the primary or a new-view message). */
  async acceptPrePrepare(pp: PrePrepareMsg, out: Outbox, relayed: boolean): Promise<void> {
    const s = this.s;
    const key = slotKey(pp.view, pp.seq);
    const slot = getSlot(s, pp.view, pp.seq);
    if (slot.prePrepare && slot.prePrepare.digest !== pp.digest) {
      out.reject(pp.replica, "conflicting-pre-prepare", pp.type);
      // Forwarded with commits, it may prove that the quorum decided a batch we were not shown.
      return this.catchUp.offer(pp, out);
    }
    const sent = s.sentPrepare.get(key);
    if (sent !== undefined && sent !== pp.digest) return out.reject(pp.replica, "conflicting-pre-prepare", pp.type);
    if (slot.prePrepare && (sent !== undefined || pp.replica === this.id)) {
      if (slot.phase === SlotPhase.Committed && !relayed) this.helpLaggard(pp.replica, pp.seq, out);
      return;
    }
    if (!pp.batch.every((v) => this.cfg.validateRequest(v))) return out.reject(pp.replica, "invalid-request", pp.type);
    slot.prePrepare = pp;
    slot.phase ??= SlotPhase.PrePrepared;
    for (const v of pp.batch) {
      const d = voteDigest(v);
      s.assigned.add(d);
      if (!s.executedVotes.has(d) && !s.pending.has(d)) s.pending.set(d, v);
    }
    if (pp.replica !== this.id) {
      out.persist({ type: "pre-prepare", message: pp });
      out.persist({ type: "prepare", view: pp.view, seq: pp.seq, digest: pp.digest });
      s.sentPrepare.set(key, pp.digest);
      const prepare = await this.sign<PrepareMsg>({ type: "prepare", replica: this.id, view: pp.view, seq: pp.seq, digest: pp.digest });
      slot.prepares.add(pp.digest, this.id, prepare);
      out.broadcast(prepare);
    }
    for (const c of slot.early.values()) await this.addCommit(slot, c, out);
    slot.early.clear();
    this.armRequestTimer(out, false);
    await this.checkPrepared(slot, out);
  }

  private async onPrepare(p: PrepareMsg, out: Outbox, relayed: boolean): Promise<void> {
    const s = this.s;
    if (p.view < s.view) return this.vc.helpOldView(p.replica, p.view, out);
    if (p.view > s.view || s.mode !== ReplicaMode.Normal) return this.bufferFuture(p);
    if (p.replica === primaryOf(p.view, this.cfg.n)) return out.reject(p.replica, "not-primary", p.type);
    if (!this.inWindow(p.seq)) return;
    const slot = getSlot(s, p.view, p.seq);
    if (!slot.prepares.add(p.digest, p.replica, p)) {
      if (slot.phase === SlotPhase.Committed && !relayed) this.helpLaggard(p.replica, p.seq, out);
      return;
    }
    await this.checkPrepared(slot, out);
  }

  private async onCommit(c: CommitMsg, out: Outbox, relayed: boolean): Promise<void> {
    const s = this.s;
    if (c.view < s.view) {
      this.vc.helpOldView(c.replica, c.view, out);
      return this.catchUp.offer(c, out);
    }
    if (c.view > s.view || s.mode !== ReplicaMode.Normal) return this.bufferFuture(c);
    if (!this.inWindow(c.seq)) return;
    const slot = getSlot(s, c.view, c.seq);
    if (slot.commits.has(c.digest, c.replica) || slot.early.has(c.replica)) {
      if (slot.phase === SlotPhase.Committed && !relayed) this.helpLaggard(c.replica, c.seq, out);
      return;
    }
    if (!slot.prePrepare) {
      if (slot.early.size < this.cfg.n) slot.early.set(c.replica, c);
      return;
    }
    await this.addCommit(slot, c, out);
  }

  /** Count a commit once its endorsements (Vote signatures) check out against the batch. */
  private async addCommit(slot: Slot, c: CommitMsg, out: Outbox): Promise<void> {
    const pp = slot.prePrepare;
    // Once committed, later commits matter to nobody: skip their (costly) signature checks.
    if (pp && c.digest !== pp.digest) return this.catchUp.offer(c, out);
    if (!pp) return;
    if (slot.phase === SlotPhase.Committed) return this.completeCertificates(slot, c, out);
    if (!(await this.endorsementsValid(c, pp.batch))) return out.reject(c.replica, "bad-endorsement", c.type);
    if (!slot.commits.add(c.digest, c.replica, c)) return;
    await this.checkCommitted(slot, out);
  }

  /** A pre-prepare of an older view that could be part of a committed certificate. */
  async acceptableOldPrePrepare(pp: PrePrepareMsg): Promise<boolean> {
    return pp.replica === primaryOf(pp.view, this.cfg.n) && pp.digest === batchDigest(pp.batch);
  }

  async endorsementsValid(c: CommitMsg, batch: readonly Vote[]): Promise<boolean> {
    if (c.endorsements.length !== batch.length) return false;
    if (this.cfg.endorsementCheck === "at-certificate") return true;
    const signer = this.cfg.members[c.replica] as Address;
    for (let i = 0; i < batch.length; i++) {
      const e = c.endorsements[i];
      if (e === null || e === undefined) continue;
      try {
        if (!(await this.cfg.voteVerifier.verifyVote(batch[i]!, e.signature, signer))) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  async checkPrepared(slot: Slot, out: Outbox): Promise<void> {
    const s = this.s;
    const pp = slot.prePrepare;
    if (!pp || slot.phase !== SlotPhase.PrePrepared || slot.view !== s.view || s.mode !== ReplicaMode.Normal) return;
    const prepares = slot.prepares.items(pp.digest);
    if (prepares.length < 2 * this.cfg.f) return;
    slot.phase = SlotPhase.Prepared;
    const proof = { prePrepare: pp, prepares: prepares.slice(0, 2 * this.cfg.f) };
    s.preparedProofs.set(pp.seq, proof);
    out.persist({ type: "prepared", proof });
    const key = slotKey(pp.view, pp.seq);
    const endorsements = await this.endorse(pp.batch, out);
    out.persist({ type: "commit", view: pp.view, seq: pp.seq, digest: pp.digest });
    s.sentCommit.set(key, pp.digest);
    const commit = await this.sign<CommitMsg>({ type: "commit", replica: this.id, view: pp.view, seq: pp.seq, digest: pp.digest, endorsements });
    slot.commits.add(pp.digest, this.id, commit);
    out.broadcast(commit);
    await this.checkCommitted(slot, out);
  }

  /**
   * Sign each vote of the batch, unless this replica already locked a different vote for that
   * round: the lock is journaled before the first signature, so no restart can undo it.
   */
  private async endorse(batch: readonly Vote[], out: Outbox): Promise<(VoteEndorsement | null)[]> {
    const result: (VoteEndorsement | null)[] = [];
    for (const vote of batch) {
      const round = vote.round.toString();
      const d = voteDigest(vote);
      const lock = this.s.voteLocks.get(round);
      if (lock !== undefined && lock !== d) {
        result.push(null);
        continue;
      }
      if (lock === undefined) {
        out.persist({ type: "vote-lock", vote });
        this.s.voteLocks.set(round, d);
      }
      const signature = await this.cfg.voteSigner.signVote(vote);
      const vrfOutput = this.cfg.voteSigner.vrfOutput ? await this.cfg.voteSigner.vrfOutput(vote.round) : ZERO_BYTES32;
      result.push({ signature, vrfOutput });
    }
    return result;
  }

  private async checkCommitted(slot: Slot, out: Outbox): Promise<void> {
    const pp = slot.prePrepare;
    if (!pp || slot.phase !== SlotPhase.Prepared) return;
    const commits = slot.commits.items(pp.digest);
    if (commits.length < this.cfg.quorum) return;
    slot.phase = SlotPhase.Committed;
    if (pp.seq > this.s.lastExecuted && !this.s.committed.has(pp.seq)) {
      this.s.committed.set(pp.seq, { view: pp.view, digest: pp.digest, batch: pp.batch, commits });
    }
    await this.executeReady(out);
  }

  /** Execute whatever is committed in order (used by catch-up too). */
  executeCommitted(out: Outbox): Promise<void> {
    return this.executeReady(out);
  }

  private async executeReady(out: Outbox): Promise<void> {
    const s = this.s;
    let progressed = false;
    for (;;) {
      const seq = s.lastExecuted + 1;
      const entry = s.committed.get(seq);
      if (!entry) break;
      s.lastExecuted = seq;
      s.stateDigest = nextStateDigestOf(s.stateDigest, seq, entry.digest);
      for (const v of entry.batch) {
        const d = voteDigest(v);
        s.executedVotes.add(d);
        s.executedAt.set(d, seq);
        s.pending.delete(d);
        s.assigned.delete(d);
      }
      out.persist({ type: "executed", seq, digest: entry.digest, stateDigest: s.stateDigest, batch: entry.batch });
      const certificates = await this.certificates(entry.batch, entry.commits);
      if (this.cfg.buildCertificates) entry.missing = new Set(certificates.flatMap((c, i) => (c === null ? [i] : [])));
      out.push({
        type: "decide",
        decision: {
          view: entry.view,
          seq,
          digest: entry.digest,
          batch: entry.batch,
          certificates,
        },
      });
      progressed = true;
      s.viewChangeTimeoutMs = this.cfg.viewChangeTimeoutMs;
      if (seq % this.cfg.checkpointInterval === 0) {
        const cp = await this.sign<CheckpointMsg>({ type: "checkpoint", replica: this.id, seq, stateDigest: s.stateDigest });
        out.broadcast(cp);
        await this.addCheckpoint(cp, out);
      }
    }
    if (progressed) {
      this.armRequestTimer(out, true);
      await this.tryPropose(out, false);
    }
  }

  /** A commit that arrived after the decision may complete a certificate that was short of 2f+1 signatures. */
  private async completeCertificates(slot: Slot, c: CommitMsg, out: Outbox): Promise<void> {
    const entry = this.s.committed.get(slot.seq);
    if (!entry?.missing?.size || entry.view !== slot.view || entry.commits.some((x) => x.replica === c.replica)) return;
    if (!(await this.endorsementsValid(c, entry.batch))) return out.reject(c.replica, "bad-endorsement", c.type);
    entry.commits.push(c);
    for (const i of [...entry.missing]) {
      if (!c.endorsements[i]) continue;
      const certificate = (await this.certificates([entry.batch[i]!], entry.commits.map((x) => ({ ...x, endorsements: [x.endorsements[i] ?? null] }))))[0];
      if (!certificate) continue;
      entry.missing.delete(i);
      out.push({ type: "certificate", seq: slot.seq, index: i, certificate });
    }
  }

  private async certificates(batch: readonly Vote[], commits: readonly CommitMsg[]): Promise<(Certificate | null)[]> {
    if (!this.cfg.buildCertificates) return batch.map(() => null);
    if (this.cfg.endorsementCheck === "on-receipt") return batch.map((v, i) => buildCertificate(v, i, commits, this.cfg.members));
    const result: (Certificate | null)[] = [];
    for (let i = 0; i < batch.length; i++) {
      const vote = batch[i]!;
      const valid: CommitMsg[] = [];
      for (const c of commits) {
        if (valid.length >= this.cfg.quorum) break;
        const e = c.endorsements[i];
        if (!e) continue;
        try {
          if (await this.cfg.voteVerifier.verifyVote(vote, e.signature, this.cfg.members[c.replica] as Address)) valid.push(c);
        } catch {
          // an unverifiable endorsement just does not count
        }
      }
      result.push(buildCertificate(vote, i, valid, this.cfg.members));
    }
    return result;
  }

  // ---- checkpoints and garbage collection ----

  private async onCheckpoint(c: CheckpointMsg, out: Outbox): Promise<void> {
    if (c.seq <= this.s.stableSeq) return;
    if (c.seq % this.cfg.checkpointInterval !== 0) return out.reject(c.replica, "malformed", c.type);
    if (c.seq > this.s.stableSeq + 2 * this.cfg.watermarkWindow) return out.reject(c.replica, "out-of-window", c.type);
    await this.addCheckpoint(c, out);
  }

  private async addCheckpoint(c: CheckpointMsg, out: Outbox): Promise<void> {
    const key = `${c.seq}:${c.stateDigest}`;
    this.s.checkpoints.add(key, c.replica, c);
    if (this.s.checkpoints.count(key) >= this.cfg.quorum && c.seq > this.s.stableSeq) {
      await this.makeStable(c.seq, c.stateDigest, this.s.checkpoints.items(key), out);
    }
  }

  /** A checkpoint with 2f+1 matching proofs: move the low watermark and drop the log below it. */
  async makeStable(seq: number, stateDigest: Hex, proof: CheckpointMsg[], out: Outbox): Promise<void> {
    const s = this.s;
    s.stableSeq = seq;
    s.stableDigest = stateDigest;
    s.stableProof = proof;
    out.persist({ type: "stable-checkpoint", seq, stateDigest, proof });
    out.push({ type: "stable-checkpoint", seq, stateDigest });
    if (s.lastExecuted < seq) {
      out.push({ type: "state-transfer", fromSeq: s.lastExecuted, toSeq: seq, stateDigest });
      s.lastExecuted = seq;
      s.stateDigest = stateDigest;
    }
    collectGarbageOf(s);
    this.catchUp.prune(seq);
    if (s.nextSeq <= seq) s.nextSeq = seq + 1;
    await this.executeReady(out);
    await this.tryPropose(out, false);
  }

  // ---- timers ----

  /**
   * Every replica watches for progress while proposals are pending (`restart` after progress):
   * a backup eventually suspects the primary, the primary retransmits.
   */
  armRequestTimer(out: Outbox, restart: boolean): void {
    const s = this.s;
    const timer: TimerId = { kind: "request", view: s.view };
    if (s.mode !== ReplicaMode.Normal || s.pending.size === 0) {
      if (s.requestTimerArmed) out.cancelTimer(timer);
      s.requestTimerArmed = false;
      return;
    }
    if (s.requestTimerArmed && !restart) return;
    if (s.requestTimerArmed) out.cancelTimer(timer);
    s.requestTimerArmed = true;
    s.requestStrikes = 0;
    out.setTimer(timer, this.cfg.requestTimeoutMs);
  }

  private async onTimeout(t: TimerId, out: Outbox): Promise<void> {
    const s = this.s;
    if (t.view !== s.view) return;
    switch (t.kind) {
      case "batch":
        if (s.mode !== ReplicaMode.Normal || !s.batchTimerArmed) return;
        s.batchTimerArmed = false;
        return this.tryPropose(out, true);
      case "request":
        if (s.mode !== ReplicaMode.Normal || !s.requestTimerArmed) return;
        s.requestTimerArmed = false;
        if (s.pending.size === 0) return;
        // The primary never accuses itself, but it may be the one that lags: it only retransmits.
        if (s.requestStrikes === 0 || this.isPrimary()) {
          // First expiry: messages may simply have been lost; retransmit before accusing the primary.
          await this.retransmit(out);
          s.requestTimerArmed = true;
          s.requestStrikes = 1;
          out.setTimer(t, this.cfg.requestTimeoutMs);
          return;
        }
        return this.vc.start(s.view + 1, out);
      case "view-change":
        if (s.mode !== ReplicaMode.ViewChange) return;
        return this.vc.onTimer(out);
    }
  }

  /** Re-send pending proposals and this replica's own votes for unexecuted slots of this view. */
  async retransmit(out: Outbox): Promise<void> {
    const s = this.s;
    let n = 0;
    for (const vote of s.pending.values()) {
      if (n++ >= 64) break;
      out.broadcast(await this.sign<RequestMsg>({ type: "request", replica: this.id, vote }));
    }
    for (const slot of s.slots.values()) {
      if (slot.view !== s.view || slot.seq <= s.lastExecuted || !slot.prePrepare) continue;
      const d = slot.prePrepare.digest;
      if (slot.prePrepare.replica === this.id) out.broadcast(slot.prePrepare);
      const mine = slot.prepares.entries(d).find(([r]) => r === this.id);
      if (mine) out.broadcast(mine[1]);
      const myCommit = slot.commits.entries(d).find(([r]) => r === this.id);
      if (myCommit) out.broadcast(myCommit[1]);
    }
  }

  /**
   * Send a lagging replica what it needs to execute up to `seq` itself: for every committed slot
   * still in the log, the pre-prepare, prepares and commits (each carries its author's
   * authenticator, so forwarding them is safe).
   */
  helpLaggard(to: number, seq: number, out: Outbox): void {
    // Bounded, so duplicates or replays can never make two replicas echo each other forever.
    const key = `${this.s.view}:${seq}:${to}`;
    const times = this.helped.get(key) ?? 0;
    if (times >= 2) return;
    if (this.helped.size > 10_000) this.helped.clear();
    this.helped.set(key, times + 1);
    // It may also have missed the view change that produced these slots.
    if (this.s.lastNewView && this.s.lastNewView.view === this.s.view && this.s.mode === ReplicaMode.Normal) out.send(to, this.s.lastNewView);
    const slots = [...this.s.slots.values()]
      .filter((x) => x.seq <= seq && x.phase === SlotPhase.Committed && x.prePrepare)
      .sort((a, b) => a.seq - b.seq);
    for (const slot of slots) {
      const d = slot.prePrepare!.digest;
      out.send(to, slot.prePrepare!);
      for (const p of slot.prepares.items(d)) if (p.replica !== to) out.send(to, p);
      for (const c of slot.commits.items(d)) if (c.replica !== to) out.send(to, c);
    }
  }
}

export function createReplica(config: ReplicaConfig, journal?: readonly JournalRecord[]): Replica {
  return new Replica(config, journal);
}
