import { expect } from "chai";
import { Cluster, vote } from "./harness.js";

describe("pbft checkpoints, watermarks and batching", () => {
  it("2f+1 matching checkpoints make a checkpoint stable and garbage-collect the log below it", async () => {
    const c = new Cluster(4, { checkpointInterval: 2, watermarkWindow: 4 });
    for (let r = 1; r <= 3; r++) {
      await c.request(vote(r), [0]);
      await c.run();
    }
    for (let i = 0; i < 4; i++) {
      const st = c.replicas[i]!.status();
      expect(st).to.include({ lastExecuted: 3, stableSeq: 2, lowWatermark: 2, highWatermark: 6 });
      const seqs = [...c.replicas[i]!.s.slots.values()].map((s) => s.seq);
      expect(seqs.every((s) => s > 2), `replica ${i} keeps only seqs above 2: ${seqs}`).to.equal(true);
      expect(c.outputs[i]!.some((o) => o.type === "stable-checkpoint" && o.seq === 2)).to.equal(true);
      expect(c.journals[i]!.some((r) => r.type === "stable-checkpoint" && r.seq === 2 && r.proof.length >= 3)).to.equal(true);
    }
  });

  it("the primary stops at the high watermark until a checkpoint becomes stable", async () => {
    const c = new Cluster(4, { checkpointInterval: 2, watermarkWindow: 2, maxBatch: 1 });
    // No checkpoint messages get through: the window (0, 2] can never move.
    c.filter = (_f, _t, m) => m.type !== "checkpoint";
    for (let r = 1; r <= 4; r++) await c.request(vote(r), [0]);
    await c.run();
    const pps = c.outputs[0]!.filter((o) => o.type === "broadcast" && o.message.type === "pre-prepare");
    expect(pps).to.have.length(2);
    expect(c.replicas[1]!.status().lastExecuted).to.equal(2);
    c.filter = () => true;
    // Replay the checkpoints now: the window moves to (2, 4] and proposing resumes.
    for (let i = 0; i < 4; i++) {
      for (const o of c.outputs[i]!) if (o.type === "broadcast" && o.message.type === "checkpoint") for (let to = 0; to < 4; to++) if (to !== i) c.queue.push({ from: i, to, message: o.message });
    }
    await c.run();
    expect(c.replicas[1]!.status()).to.include({ stableSeq: 4, lastExecuted: 4 });
  });

  it("a replica that missed batches adopts a stable checkpoint and asks for state transfer", async () => {
    const c = new Cluster(4, { checkpointInterval: 2 });
    c.down.add(3);
    for (let r = 1; r <= 2; r++) {
      await c.request(vote(r), [0]);
      await c.run();
    }
    c.down.delete(3);
    // replica 3 only sees the checkpoint messages
    for (let i = 0; i < 3; i++) for (const o of c.outputs[i]!) if (o.type === "broadcast" && o.message.type === "checkpoint") c.queue.push({ from: i, to: 3, message: o.message });
    await c.run();
    expect(c.outputs[3]!.some((o) => o.type === "state-transfer" && o.fromSeq === 0 && o.toSeq === 2)).to.equal(true);
    expect(c.replicas[3]!.status()).to.include({ lastExecuted: 2, stableSeq: 2 });
    expect(c.replicas[3]!.s.stateDigest).to.equal(c.replicas[0]!.s.stateDigest);
  });

  it("batching: an idle primary proposes at once; while a batch is in flight, a full batch goes out at once, a partial one when the batch timer fires", async () => {
    const c = new Cluster(4, { maxBatch: 3, batchTimeoutMs: 5 });
    const pps = () => c.outputs[0]!.flatMap((o) => (o.type === "broadcast" && o.message.type === "pre-prepare" ? [o.message] : []));
    await c.request(vote(1), [0]);
    expect(pps().map((pp) => pp.batch.map((v) => Number(v.round))), "nothing in flight: no wait").to.deep.equal([[1]]);
    await c.request(vote(2), [0]);
    await c.request(vote(3), [0]);
    expect(pps()).to.have.length(1);
    expect([...c.timers[0]!.values()].map((t) => [t.timer.kind, t.ms])).to.deep.include(["batch", 5]);
    await c.request(vote(4), [0]);
    expect(pps()).to.have.length(2);
    expect(pps()[1]!.batch.map((v) => Number(v.round))).to.deep.equal([2, 3, 4]);
    await c.request(vote(5), [0]);
    expect(pps()).to.have.length(2);
    await c.fire(0, "batch");
    expect(pps()).to.have.length(3);
    expect(pps()[2]!.batch.map((v) => Number(v.round))).to.deep.equal([5]);
    await c.run();
    for (let i = 0; i < 4; i++) {
      const d = c.decisions[i]!;
      expect([...d.values()].map((x) => x.batch.length)).to.deep.equal([1, 3, 1]);
      expect(d.get(2)!.certificates.every((x) => x !== null && x.signatures.length >= 3)).to.equal(true);
    }
  });

  it("without batching (maxBatch 1) every proposal gets its own sequence number", async () => {
    const c = new Cluster(4, { maxBatch: 1 });
    for (let r = 1; r <= 3; r++) await c.request(vote(r), [0]);
    await c.run();
    expect([...c.decisions[2]!.values()].map((d) => d.batch.length)).to.deep.equal([1, 1, 1]);
  });
});
