/**
 * Checks of the certificates that travel inside view changes (checkpoint proofs, prepared
 * proofs) and the deterministic choice of the pre-prepares a new view re-issues. Every
 * embedded message is authenticated by its own author, so a proof can be forwarded by anyone
 * and still be checked.
 */
import type { Hex } from "viem";
import { NULL_BATCH_DIGEST, batchDigest } from "./codec.js";
import { faultTolerance, quorumSize } from "./quorum.js";
import type { CheckpointMsg, PbftMessage, PrePrepareMsg, PreparedProof, ViewChangeMsg, Vote } from "./types.js";

export type VerifyMessage = (m: PbftMessage) => Promise<boolean>;

export function primaryOf(view: number, n: number): number {
  return view % n;
}

function validIndex(i: number, n: number): boolean {
  return Number.isInteger(i) && i >= 0 && i < n;
}

/** 2f+1 authentic checkpoints from distinct replicas for the same (seq, stateDigest). */
export async function checkCheckpointProof(
  proof: readonly CheckpointMsg[],
  seq: number,
  n: number,
  verify: VerifyMessage,
): Promise<Hex | null> {
  if (seq === 0) return null;
  const first = proof[0];
  if (!first) return null;
  const seen = new Set<number>();
  for (const c of proof) {
    if (c.seq !== seq || c.stateDigest !== first.stateDigest || !validIndex(c.replica, n) || seen.has(c.replica)) return null;
    if (!(await verify(c))) return null;
    seen.add(c.replica);
  }
  return seen.size >= quorumSize(n) ? first.stateDigest : null;
}

/** A pre-prepare from the primary of its view plus 2f matching prepares from distinct backups. */
export async function checkPreparedProof(proof: PreparedProof, n: number, verify: VerifyMessage): Promise<boolean> {
  const pp = proof.prePrepare;
  if (pp.replica !== primaryOf(pp.view, n) || pp.digest !== batchDigest(pp.batch)) return false;
  if (!(await verify(pp))) return false;
  const seen = new Set<number>();
  for (const p of proof.prepares) {
    if (p.view !== pp.view || p.seq !== pp.seq || p.digest !== pp.digest) return false;
    if (!validIndex(p.replica, n) || p.replica === pp.replica || seen.has(p.replica)) return false;
    if (!(await verify(p))) return false;
    seen.add(p.replica);
  }
  return seen.size >= 2 * faultTolerance(n);
}

/** Full check of a view-change message's content (its own authenticator is checked by the caller). */
export async function checkViewChange(vc: ViewChangeMsg, n: number, window: number, verify: VerifyMessage): Promise<boolean> {
  if (vc.stableSeq > 0) {
    if ((await checkCheckpointProof(vc.checkpointProof, vc.stableSeq, n, verify)) === null) return false;
  } else if (vc.checkpointProof.length !== 0) {
    return false;
  }
  const seqs = new Set<number>();
  for (const p of vc.prepared) {
    const pp = p.prePrepare;
    if (pp.view >= vc.view || pp.seq <= vc.stableSeq || pp.seq > vc.stableSeq + window || seqs.has(pp.seq)) return false;
    seqs.add(pp.seq);
    if (!(await checkPreparedProof(p, n, verify))) return false;
  }
  return true;
}

export interface NewViewPlan {
  /** Highest stable checkpoint among the view changes (and its proof). */
  minSeq: number;
  checkpoint: { stateDigest: Hex; proof: CheckpointMsg[] } | null;
  maxSeq: number;
  /** (seq, digest, batch) for every seq in (minSeq, maxSeq]: highest-view prepared batch, or the null batch. */
  slots: { seq: number; digest: Hex; batch: Vote[] }[];
}

/**
 * Castro-Liskov's O set: a batch prepared in some earlier view by f+1 honest replicas shows up
 * in at least one of any 2f+1 view changes, so it is re-proposed and never replaced.
 */
export function planNewView(viewChanges: readonly ViewChangeMsg[]): NewViewPlan {
  let minSeq = 0;
  let checkpoint: NewViewPlan["checkpoint"] = null;
  for (const vc of viewChanges) {
    const cp = vc.checkpointProof[0];
    if (vc.stableSeq > minSeq && cp) {
      minSeq = vc.stableSeq;
      checkpoint = { stateDigest: cp.stateDigest, proof: vc.checkpointProof };
    }
  }
  const best = new Map<number, PrePrepareMsg>();
  let maxSeq = minSeq;
  for (const vc of viewChanges) {
    for (const p of vc.prepared) {
      const pp = p.prePrepare;
      if (pp.seq <= minSeq) continue;
      maxSeq = Math.max(maxSeq, pp.seq);
      const cur = best.get(pp.seq);
      if (!cur || pp.view > cur.view) best.set(pp.seq, pp);
    }
  }
  const slots: NewViewPlan["slots"] = [];
  for (let seq = minSeq + 1; seq <= maxSeq; seq++) {
    const pp = best.get(seq);
    slots.push(pp ? { seq, digest: pp.digest, batch: pp.batch } : { seq, digest: NULL_BATCH_DIGEST, batch: [] });
  }
  return { minSeq, checkpoint, maxSeq, slots };
}
