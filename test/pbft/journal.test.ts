import { expect } from "chai";
import { batchDigest, signMessage } from "../../offchain/core/pbft/codec.js";
import { ReplicaMode, type JournalRecord, type PrePrepareMsg, type PrepareMsg, type ReplicaOutput } from "../../offchain/core/pbft/types.js";
import { Cluster, vote } from "./harness.js";

/** Outputs a driver had acted on when it crashed right after the k-th persist record. */
function journalUpTo(outs: ReplicaOutput[], pred: (r: JournalRecord) => boolean): JournalRecord[] {
  const j: JournalRecord[] = [];
  for (const o of outs) {
    if (o.type !== "persist") continue;
    if (pred(o.record)) break;
    j.push(o.record);
  }
  return j;
}

describe("pbft journal and restore", () => {
  async function prePrepare(c: Cluster, seq: number, batch = [vote(1)], view = 0) {
    const auth = c.keys.auth(view % c.n);
    return signMessage<PrePrepareMsg>({ type: "pre-prepare", replica: view % c.n, view, seq, digest: batchDigest(batch), batch }, (b) => auth.sign(b));
  }
  async function prepare(c: Cluster, from: number, seq: number, batch = [vote(1)], view = 0) {
    const auth = c.keys.auth(from);
    return signMessage<PrepareMsg>({ type: "prepare", replica: from, view, seq, digest: batchDigest(batch) }, (b) => auth.sign(b));
  }

  it("persists the vote lock and the commit before the signed commit in the same output list", async () => {
    const c = new Cluster(4);
    await c.input(1, { type: "message", message: await prePrepare(c, 1) });
    // own prepare + replica 2's = 2f: prepared, so this step commits
    const outs = await c.input(1, { type: "message", message: await prepare(c, 2, 1) });
    const kinds = outs.map((o) => (o.type === "persist" ? `persist:${o.record.type}` : o.type === "broadcast" ? `send:${o.message.type}` : o.type));
    const sendCommit = kinds.indexOf("send:commit");
    expect(sendCommit).to.be.greaterThan(-1);
    for (const k of ["persist:prepared", "persist:vote-lock", "persist:commit"]) {
      expect(kinds.indexOf(k), k).to.be.within(0, sendCommit - 1);
    }
  });

  it("crash after signing: the restored replica never signs a different vote for that round", async () => {
    const c = new Cluster(4);
    await c.input(1, { type: "message", message: await prePrepare(c, 1) });
    await c.input(1, { type: "message", message: await prepare(c, 2, 1) });
    expect(c.signed[1]!.get("1")!.size).to.equal(1);
    // Crash: all journal records survive; rebuild from them alone.
    const restored = c.make(1, [...c.journals[1]!]);
    c.replicas[1] = restored;
    expect(restored.status().view).to.equal(0);
    // A (Byzantine) primary now orders a different verdict for round 1 at seq 2.
    const other = [vote(1, 2, 10)];
    await c.input(1, { type: "message", message: await prePrepare(c, 2, other) });
    const outs = await c.input(1, { type: "message", message: await prepare(c, 2, 2, other) });
    const commit = outs.find((o) => o.type === "broadcast" && o.message.type === "commit");
    if (commit?.type !== "broadcast" || commit.message.type !== "commit") throw new Error("no commit");
    expect(commit.message.endorsements).to.deep.equal([null]);
    expect(c.signed[1]!.get("1")!.size).to.equal(1);
    // And it refuses to prepare a different batch at a (view, seq) it already prepared.
    const conflicting = await prePrepare(c, 1, [vote(9)]);
    const fresh = c.make(1, [...c.journals[1]!]);
    c.replicas[1] = fresh;
    expect(await c.input(1, { type: "message", message: conflicting })).to.deep.include({ type: "reject", from: 0, reason: "conflicting-pre-prepare", messageType: "pre-prepare" });
  });

  it("crash between the journal write and the send: the restored replica re-signs only the same vote", async () => {
    const c = new Cluster(4);
    await c.input(1, { type: "message", message: await prePrepare(c, 1) });
    // own prepare + replica 2's = 2f: prepared, so this step commits
    const outs = await c.input(1, { type: "message", message: await prepare(c, 2, 1) });
    // The driver wrote the persist records but died before sending the commit.
    const journal = [...c.journals[1]!];
    expect(journal.some((r) => r.type === "vote-lock")).to.equal(true);
    expect(outs.some((o) => o.type === "broadcast" && o.message.type === "commit")).to.equal(true);
    const restored = c.make(1, journal);
    c.replicas[1] = restored;
    const round1 = [vote(1, 2, 10)];
    await c.input(1, { type: "message", message: await prePrepare(c, 2, round1) });
    const outs2 = await c.input(1, { type: "message", message: await prepare(c, 2, 2, round1) });
    const commit = outs2.find((o) => o.type === "broadcast" && o.message.type === "commit");
    if (commit?.type !== "broadcast" || commit.message.type !== "commit") throw new Error("no commit");
    expect(commit.message.endorsements).to.deep.equal([null]);
    expect(c.signed[1]!.get("1")!.size).to.equal(1);
  });

  it("crash before the vote lock was written: nothing was signed or sent, so the restored replica is free", async () => {
    const c = new Cluster(4);
    await c.input(1, { type: "message", message: await prePrepare(c, 1) });
    const outs = await c.replicas[1]!.step({ type: "message", message: await prepare(c, 2, 1) });
    const journal = [...c.journals[1]!, ...journalUpTo(outs, (r) => r.type === "vote-lock")];
    expect(journal.some((r) => r.type === "vote-lock")).to.equal(false);
    // The commit (and its Vote signature) came after the lock in the output list: never sent.
    const restored = c.make(1, journal);
    c.replicas[1] = restored;
    c.apply(1, await restored.resume());
    const commit = c.outputs[1]!.find((o) => o.type === "broadcast" && o.message.type === "commit");
    if (commit?.type !== "broadcast" || commit.message.type !== "commit") throw new Error("restored replica did not commit");
    expect(commit.message.endorsements[0]).to.not.equal(null);
    expect(c.signed[1]!.get("1")!.size).to.equal(1);
  });

  it("restores view, execution and stable checkpoint, and keeps deciding with the others", async () => {
    const c = new Cluster(4, { checkpointInterval: 2 });
    for (let r = 1; r <= 3; r++) {
      await c.request(vote(r), [0]);
      await c.run();
    }
    const before = c.replicas[2]!.status();
    const restored = c.make(2, [...c.journals[2]!]);
    c.replicas[2] = restored;
    expect(restored.status()).to.include({ view: before.view, lastExecuted: 3, stableSeq: 2 });
    expect(restored.s.stateDigest).to.equal(c.replicas[0]!.s.stateDigest);
    await c.request(vote(4), [0]);
    await c.run();
    expect(c.decisions[2]!.get(4)!.batch).to.deep.equal([vote(4)]);
  });

  it("a replica restored in the middle of a view change re-announces it on resume", async () => {
    const c = new Cluster(4);
    c.down.add(0);
    await c.request(vote(1), [1]);
    await c.fire(1, "request");
    await c.fire(1, "request");
    expect(c.replicas[1]!.status()).to.include({ view: 1, mode: ReplicaMode.ViewChange });
    const restored = c.make(1, [...c.journals[1]!]);
    c.replicas[1] = restored;
    expect(restored.status()).to.include({ view: 1, mode: ReplicaMode.ViewChange });
    const outs = await restored.resume();
    expect(outs.some((o) => o.type === "broadcast" && o.message.type === "view-change" && o.message.view === 1)).to.equal(true);
    expect(outs.some((o) => o.type === "set-timer" && o.timer.kind === "view-change")).to.equal(true);
  });
});
