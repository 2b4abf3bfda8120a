import { expect } from "chai";
import { NULL_BATCH_DIGEST, batchDigest } from "../../offchain/core/pbft/codec.js";
import { ReplicaMode } from "../../offchain/core/pbft/types.js";
import { Cluster, vote } from "./harness.js";

describe("pbft view change", () => {
  it("a silent primary is replaced: retransmit first, then view change, new view, decision", async () => {
    const c = new Cluster(4);
    c.down.add(0);
    await c.request(vote(1));
    await c.run();
    expect(c.decisions[1]!.size).to.equal(0);
    await c.fireAll("request"); // first expiry: retransmit only
    await c.run();
    expect(c.replicas[1]!.status().mode).to.equal(ReplicaMode.Normal);
    await c.fireAll("request"); // second expiry: suspect the primary
    await c.run();
    for (const i of [1, 2, 3]) {
      expect(c.replicas[i]!.status()).to.include({ view: 1, primary: 1, mode: ReplicaMode.Normal });
      expect(c.decisions[i]!.get(1)!.batch).to.deep.equal([vote(1)]);
      expect(c.outputs[i]!.some((o) => o.type === "new-view-installed" && o.view === 1)).to.equal(true);
    }
  });

  it("a batch prepared in the old view is carried into the new view with the same digest", async () => {
    const c = new Cluster(4);
    // Commits never get through in view 0: replicas 1..3 become prepared but never commit.
    c.filter = (_f, _t, m) => !(m.type === "commit" && m.view === 0);
    await c.request(vote(1), [0, 1, 2, 3]);
    await c.run();
    for (const i of [1, 2, 3]) expect(c.replicas[i]!.s.preparedProofs.get(1)?.prePrepare.digest).to.equal(batchDigest([vote(1)]));
    expect(c.decisions.every((d) => d.size === 0)).to.equal(true);
    c.down.add(0);
    await c.fireAll("request");
    await c.fireAll("request");
    await c.run();
    const nv = c.outputs[1]!.find((o) => o.type === "broadcast" && o.message.type === "new-view");
    expect(nv, "replica 1 is the new primary").to.not.equal(undefined);
    if (nv?.type === "broadcast" && nv.message.type === "new-view") {
      expect(nv.message.prePrepares.map((p) => [p.seq, p.digest])).to.deep.equal([[1, batchDigest([vote(1)])]]);
      expect(nv.message.viewChanges.some((vc) => vc.prepared.length === 1)).to.equal(true);
    }
    for (const i of [1, 2, 3]) {
      const d = c.decisions[i]!.get(1)!;
      expect(d.view).to.equal(1);
      expect(d.batch).to.deep.equal([vote(1)]);
      // Same vote re-signed in the new view: still exactly one vote per round.
      expect(c.signed[i]!.get("1")!.size).to.equal(1);
    }
  });

  it("a sequence number with no prepared certificate gets the null batch in the new view", async () => {
    const c = new Cluster(4);
    // seq 1 decided; seq 2 pre-prepared only at replica 1 (never prepared); seq 3 prepared, never committed.
    await c.request(vote(1), [0]);
    await c.run();
    c.filter = (_f, to, m) => !(m.type === "pre-prepare" && m.seq === 2 && to !== 1) && !(m.type === "commit" && m.seq >= 2);
    await c.request(vote(2), [0]);
    await c.run();
    await c.request(vote(3), [0]);
    await c.run();
    c.filter = () => true;
    c.down.add(0);
    await c.request(vote(4), [1, 2, 3]);
    await c.fireAll("request");
    await c.fireAll("request");
    await c.run();
    const nv = c.outputs[1]!.find((o) => o.type === "broadcast" && o.message.type === "new-view");
    if (nv?.type !== "broadcast" || nv.message.type !== "new-view") throw new Error("no new-view");
    expect(nv.message.prePrepares.map((p) => [p.seq, p.batch.length])).to.deep.equal([
      [1, 1],
      [2, 0],
      [3, 1],
    ]);
    expect(nv.message.prePrepares[1]!.digest).to.equal(NULL_BATCH_DIGEST);
    for (const i of [1, 2, 3]) {
      expect(c.decisions[i]!.get(2)!.batch).to.deep.equal([]);
      expect(c.decisions[i]!.get(3)!.batch).to.deep.equal([vote(3)]);
      const later = [...c.decisions[i]!.values()].flatMap((d) => d.batch.map((v) => Number(v.round)));
      expect(later).to.include.members([1, 2, 3, 4]);
    }
  });

  it("backs off exponentially while 2f+1 replicas wait for a new view that never comes, then f+1 pull the laggard along", async () => {
    const c = new Cluster(4, { viewChangeTimeoutMs: 100 });
    // Primary 0 is silent; replica 1 (primary of view 1) installs view 1 but its new-view never arrives.
    c.filter = (from, _to, m) => from !== 0 && m.type !== "new-view";
    await c.request(vote(1), [1, 2, 3]);
    await c.fireAll("request");
    await c.fireAll("request");
    await c.run();
    const vcTimer = (i: number) => [...c.timers[i]!.values()].find((t) => t.timer.kind === "view-change");
    expect(c.replicas[1]!.status()).to.include({ view: 1, mode: ReplicaMode.Normal });
    expect(c.replicas[2]!.status()).to.include({ view: 1, mode: ReplicaMode.ViewChange });
    expect(vcTimer(2)).to.deep.include({ ms: 100 });
    await c.fire(2, "view-change");
    expect(vcTimer(2)).to.deep.include({ ms: 200 });
    expect(vcTimer(2)!.timer.view).to.equal(2);
    // Only replica 2 is in view 2 so far: without 2f+1 view changes the timer re-announces, no new view.
    await c.fire(2, "view-change");
    expect(c.replicas[2]!.status().view).to.equal(2);
    expect(vcTimer(2)).to.deep.include({ ms: 200 });
    await c.fire(3, "view-change");
    expect(c.replicas[3]!.status().view).to.equal(2);
    c.filter = (from) => from !== 0;
    await c.run();
    // Replicas 2 and 3 (f+1) asked for view 2: replica 1 joins, 2 becomes primary, the proposal is decided.
    for (const i of [1, 2, 3]) {
      expect(c.replicas[i]!.status()).to.include({ view: 2, mode: ReplicaMode.Normal });
      expect(c.decisions[i]!.get(1)?.batch).to.deep.equal([vote(1)]);
    }
  });

  it("f+1 view changes for a higher view make a replica join it", async () => {
    const c = new Cluster(7);
    c.down.add(0);
    await c.request(vote(1));
    // replicas 1 and 2 (f+1 = 3 needed at n=7: use 1,2,3) suspect the primary
    for (const i of [1, 2, 3]) {
      await c.fire(i, "request");
      await c.fire(i, "request");
    }
    await c.run();
    for (const i of [1, 2, 3, 4, 5, 6]) expect(c.replicas[i]!.status().view).to.equal(1);
    for (const i of [1, 2, 3, 4, 5, 6]) expect(c.decisions[i]!.get(1)?.batch).to.deep.equal([vote(1)]);
  });
});
