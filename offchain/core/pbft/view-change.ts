/**
 * View changes: suspecting the primary, collecting 2f+1 view-change messages, the new
 * primary's new-view message (re-issuing every batch that may have been prepared), and its
 * installation at the backups. The view-change wait doubles after every failed attempt
 * (see Replica.onTimeout) so that correct replicas eventually overlap in one view after GST.
 */
import { batchDigest, voteDigest as voteDigestOf } from "./codec.js";
import { checkViewChange, planNewView, primaryOf, type NewViewPlan } from "./proofs.js";
import type { Outbox } from "./outbox.js";
import type { Replica } from "./replica.js";
import { getSlot, slotKey } from "./state.js";
import { ReplicaMode, SlotPhase, type NewViewMsg, type PrePrepareMsg, type ViewChangeMsg } from "./types.js";

export class ViewChanges {
  /** `${view}:${replica}` -> times we sent our new-view to a replica stuck in an older view */
  private readonly helped = new Map<string, number>();

  constructor(private readonly r: Replica) {}

  /** Leave the current view for `target` (> current) and announce it. */
  async start(target: number, out: Outbox): Promise<void> {
    const s = this.r.s;
    if (target <= s.view) return;
    if (s.requestTimerArmed) out.cancelTimer({ kind: "request", view: s.view });
    if (s.batchTimerArmed) out.cancelTimer({ kind: "batch", view: s.view });
    if (s.mode === ReplicaMode.ViewChange) out.cancelTimer({ kind: "view-change", view: s.view });
    s.requestTimerArmed = false;
    s.batchTimerArmed = false;
    s.view = target;
    s.mode = ReplicaMode.ViewChange;
    out.persist({ type: "view", view: target, mode: ReplicaMode.ViewChange });
    await this.announce(out);
  }

  /** Broadcast this replica's view-change for the view it waits for, and start the wait. */
  async announce(out: Outbox): Promise<void> {
    const r = this.r;
    const s = r.s;
    const prepared = [...s.preparedProofs.values()]
      .filter((p) => r.inWindow(p.prePrepare.seq) && p.prePrepare.view < s.view)
      .sort((a, b) => a.prePrepare.seq - b.prePrepare.seq);
    const vc = await r.sign<ViewChangeMsg>({
      type: "view-change",
      replica: r.id,
      view: s.view,
      stableSeq: s.stableSeq,
      checkpointProof: s.stableSeq > 0 ? s.stableProof : [],
      prepared,
    });
    if (!s.viewChanges.has(String(s.view), r.id)) s.viewChanges.add(String(s.view), r.id, vc);
    out.broadcast(vc);
    out.setTimer({ kind: "view-change", view: s.view }, s.viewChangeTimeoutMs);
    await this.maybeSendNewView(out);
  }

  /**
   * The view-change timer. With 2f+1 view changes for our target the new primary had its chance:
   * double the wait and try the next view (Castro-Liskov). With fewer, moving on would only race
   * ahead of the others, so re-announce and ask again for the decisions we may have missed.
   */
  async onTimer(out: Outbox): Promise<void> {
    const r = this.r;
    const s = r.s;
    if (s.viewChanges.count(String(s.view)) >= r.cfg.quorum) {
      s.viewChangeTimeoutMs = Math.min(2 * s.viewChangeTimeoutMs, r.cfg.maxViewChangeTimeoutMs);
      return this.start(s.view + 1, out);
    }
    await r.retransmit(out);
    await this.announce(out);
  }

  async onViewChange(vc: ViewChangeMsg, out: Outbox): Promise<void> {
    const r = this.r;
    const s = r.s;
    if (vc.view < s.view || (vc.view === s.view && s.mode === ReplicaMode.Normal)) {
      this.helpOldView(vc.replica, vc.view - 1, out);
      return;
    }
    if (s.viewChanges.has(String(vc.view), vc.replica)) return;
    if (!(await checkViewChange(vc, r.cfg.n, r.cfg.watermarkWindow, r.verify))) {
      out.reject(vc.replica, "bad-proof", vc.type);
      return;
    }
    s.viewChanges.add(String(vc.view), vc.replica, vc);
    const target = this.joinTarget();
    if (target !== null) await this.start(target, out);
    await this.maybeSendNewView(out);
  }

  /**
   * f+1 replicas asking for views above ours include at least one correct replica: join the
   * smallest view all of them are at or beyond, instead of waiting for our own timer.
   */
  private joinTarget(): number | null {
    const r = this.r;
    const s = r.s;
    const best = new Map<number, number>();
    for (const key of s.viewChanges.keys()) {
      const view = Number(key);
      if (!(view > s.view)) continue;
      for (const [sender] of s.viewChanges.entries(key)) {
        if (sender !== r.id && view > (best.get(sender) ?? -1)) best.set(sender, view);
      }
    }
    if (best.size < r.cfg.f + 1) return null;
    return Math.min(...best.values());
  }

  private async maybeSendNewView(out: Outbox): Promise<void> {
    const r = this.r;
    const s = r.s;
    const v = s.view;
    if (s.mode !== ReplicaMode.ViewChange || !r.isPrimary(v) || s.sentNewView.has(v)) return;
    const all = s.viewChanges.items(String(v));
    if (all.length < r.cfg.quorum) return;
    const chosen = all.sort((a, b) => a.replica - b.replica).slice(0, r.cfg.quorum);
    const plan = planNewView(chosen);
    const prePrepares: PrePrepareMsg[] = [];
    for (const slot of plan.slots) {
      prePrepares.push(
        await r.sign<PrePrepareMsg>({ type: "pre-prepare", replica: r.id, view: v, seq: slot.seq, digest: slot.digest, batch: slot.batch }),
      );
    }
    const nv = await r.sign<NewViewMsg>({ type: "new-view", replica: r.id, view: v, viewChanges: chosen, prePrepares });
    s.sentNewView.add(v);
    await this.install(nv, plan, out);
  }

  async onNewView(nv: NewViewMsg, out: Outbox, relayed = false): Promise<void> {
    const r = this.r;
    const s = r.s;
    if (nv.view < s.view || (nv.view === s.view && s.mode === ReplicaMode.Normal)) return;
    if (nv.replica !== primaryOf(nv.view, r.cfg.n)) return out.reject(nv.replica, "not-primary", nv.type);
    const plan = await this.checkNewView(nv);
    if (!plan) return out.reject(nv.replica, "bad-proof", nv.type);
    await this.install(nv, plan, out, relayed);
  }

  /** Recompute the new primary's choice from the view changes it cites; any difference is a lie. */
  private async checkNewView(nv: NewViewMsg): Promise<NewViewPlan | null> {
    const r = this.r;
    const seen = new Set<number>();
    for (const vc of nv.viewChanges) {
      if (vc.view !== nv.view || seen.has(vc.replica)) return null;
      if (!(await r.verify(vc))) return null;
      if (!(await checkViewChange(vc, r.cfg.n, r.cfg.watermarkWindow, r.verify))) return null;
      seen.add(vc.replica);
    }
    if (seen.size < r.cfg.quorum) return null;
    const plan = planNewView(nv.viewChanges);
    if (nv.prePrepares.length !== plan.slots.length) return null;
    for (let i = 0; i < plan.slots.length; i++) {
      const pp = nv.prePrepares[i]!;
      const want = plan.slots[i]!;
      if (pp.view !== nv.view || pp.replica !== nv.replica || pp.seq !== want.seq || pp.digest !== want.digest) return null;
      if (batchDigest(pp.batch) !== pp.digest) return null;
      if (!(await r.verify(pp))) return null;
    }
    return plan;
  }

  private async install(nv: NewViewMsg, plan: NewViewPlan, out: Outbox, relayed = false): Promise<void> {
    const r = this.r;
    const s = r.s;
    if (s.mode === ReplicaMode.ViewChange) out.cancelTimer({ kind: "view-change", view: s.view });
    if (s.requestTimerArmed) out.cancelTimer({ kind: "request", view: s.view });
    if (s.batchTimerArmed) out.cancelTimer({ kind: "batch", view: s.view });
    s.requestTimerArmed = false;
    s.batchTimerArmed = false;
    // Adopt the newest stable checkpoint while still out of normal mode, so nothing is proposed early.
    s.mode = ReplicaMode.ViewChange;
    if (plan.checkpoint && plan.minSeq > s.stableSeq) {
      await r.makeStable(plan.minSeq, plan.checkpoint.stateDigest, plan.checkpoint.proof, out);
    }
    s.view = nv.view;
    s.mode = ReplicaMode.Normal;
    s.lastNewView = nv;
    s.assigned.clear();
    s.nextSeq = Math.max(plan.maxSeq, s.stableSeq) + 1;
    for (const [key, slot] of s.slots) if (slot.view < nv.view) s.slots.delete(key);
    for (const key of s.viewChanges.keys()) if (Number(key) < nv.view) s.viewChanges.delete(key);
    for (const key of this.helped.keys()) if (Number(key.split(":")[0]) < nv.view) this.helped.delete(key);
    out.persist({ type: "view", view: nv.view, mode: ReplicaMode.Normal });
    const primary = r.isPrimary(nv.view);
    if (primary) {
      for (const pp of nv.prePrepares) {
        if (pp.seq <= s.stableSeq) continue;
        out.persist({ type: "pre-prepare", message: pp });
        s.sentPrePrepare.set(slotKey(pp.view, pp.seq), pp.digest);
        const slot = getSlot(s, pp.view, pp.seq);
        slot.prePrepare = pp;
        slot.phase = SlotPhase.PrePrepared;
        for (const v of pp.batch) s.assigned.add(voteDigestOf(v));
      }
      out.broadcast(nv);
    }
    out.push({ type: "new-view-installed", view: nv.view, primary: primaryOf(nv.view, r.cfg.n) });
    if (!primary) for (const pp of nv.prePrepares) if (pp.seq > s.stableSeq) await r.acceptPrePrepare(pp, out, relayed);
    const buffered = s.future;
    s.future = [];
    for (const m of buffered) await r.dispatch(m, out);
    r.armRequestTimer(out, true);
    await r.tryPropose(out, false);
  }

  /** A replica still in an older view sent us something: show it the new-view (a few times at most). */
  helpOldView(to: number, theirView: number, out: Outbox): void {
    const s = this.r.s;
    const nv = s.lastNewView;
    if (s.mode !== ReplicaMode.Normal || !nv || nv.view !== s.view || theirView >= s.view) return;
    const key = `${s.view}:${to}`;
    const times = this.helped.get(key) ?? 0;
    if (times >= 2) return;
    this.helped.set(key, times + 1);
    out.send(to, nv);
  }
}
