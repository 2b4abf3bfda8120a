/**
 * Learning decisions from views this replica has already left. A replica that announced a
 * view change must not prepare or commit in older views again, but a pre-prepare with 2f+1
 * matching, authenticated commits is a committed certificate: that batch is the decision for
 * its sequence number in every later view, so executing it is safe whatever the view. This is
 * how a replica that raced ahead into a view change (e.g. after a partition) keeps up.
 */
import type { Outbox } from "./outbox.js";
import type { Replica } from "./replica.js";
import { VoteCounter } from "./quorum.js";
import type { CommitMsg, PrePrepareMsg } from "./types.js";
import { rememberBounded } from "../bounded-map.js";

interface Pending {
  /** by digest: an equivocating primary may have shown us a different batch than the quorum committed */
  prePrepares: Map<string, PrePrepareMsg>;
  commits: VoteCounter<CommitMsg>;
}

const LIMIT = 256;

export class CatchUp {
  private readonly slots = new Map<string, Pending>();

  constructor(private readonly r: Replica) {}

  private slot(view: number, seq: number): Pending {
    const key = `${view}:${seq}`;
    let p = this.slots.get(key);
    if (!p) {
      p = rememberBounded(this.slots, key, { prePrepares: new Map(), commits: new VoteCounter() }, LIMIT);
    }
    return p;
  }

  /**
   * An authenticated pre-prepare or commit from an older view, or one of the current view that
   * conflicts with the batch this replica was shown.
   */
  async offer(m: PrePrepareMsg | CommitMsg, out: Outbox): Promise<void> {
    const s = this.r.s;
    if (m.seq <= s.lastExecuted || !this.r.inWindow(m.seq) || s.committed.has(m.seq)) return;
    const p = this.slot(m.view, m.seq);
    if (m.type === "pre-prepare") {
      if (!(await this.r.acceptableOldPrePrepare(m))) return;
      if (!p.prePrepares.has(m.digest) && p.prePrepares.size < 4) p.prePrepares.set(m.digest, m);
    } else {
      p.commits.add(m.digest, m.replica, m);
    }
    const pp = p.prePrepares.get(m.digest);
    if (!pp) return;
    const valid: CommitMsg[] = [];
    for (const c of p.commits.items(pp.digest)) if (await this.r.endorsementsValid(c, pp.batch)) valid.push(c);
    if (valid.length < this.r.cfg.quorum) return;
    this.slots.delete(`${m.view}:${m.seq}`);
    s.committed.set(pp.seq, { view: pp.view, digest: pp.digest, batch: pp.batch, commits: valid });
    await this.r.executeCommitted(out);
  }

  prune(stableSeq: number): void {
    for (const key of this.slots.keys()) if (Number(key.split(":")[1]) <= stableSeq) this.slots.delete(key);
  }
}
