import { expect } from "chai";
import fc from "fast-check";
import { voteDigest } from "../../offchain/core/pbft/codec.js";
import { faultTolerance, quorumSize } from "../../offchain/core/pbft/quorum.js";
import { BYZANTINE_BEHAVIOURS, type Behaviour } from "../../offchain/core/pbft/sim/byzantine.js";
import { checkSafety, decidedVotes, runSimulation, type SimConfig, type SimRequest, type SimResult } from "../../offchain/core/pbft/sim/cluster.js";
import type { Partition } from "../../offchain/core/pbft/sim/network.js";
import type { Vote } from "../../offchain/core/pbft/types.js";

function proposal(round: number, verdict: number): Vote {
  return { round: BigInt(round), node: 3n, verdict, score: verdict === 1 ? 90 : 20, evidenceCid: "0x0155", policyCid: "0x0166" };
}

const REPLICA = { requestTimeoutMs: 40, viewChangeTimeoutMs: 40, maxViewChangeTimeoutMs: 640, checkpointInterval: 4, batchTimeoutMs: 2 };

/** A random adversarial scenario: up to f Byzantine replicas, lossy network, partitions, conflicting proposals. */
function scenario(n: number, gst: number) {
  const f = faultTolerance(n);
  return fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    byz: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: f }),
    behaviours: fc.array(fc.constantFrom(...BYZANTINE_BEHAVIOURS), { minLength: f, maxLength: f }),
    dropRate: fc.double({ min: 0, max: 0.25, noNaN: true }),
    duplicateRate: fc.double({ min: 0, max: 0.2, noNaN: true }),
    maxDelay: fc.integer({ min: 1, max: 20 }),
    partition: fc.option(
      fc.record({ start: fc.integer({ min: 0, max: gst }), length: fc.integer({ min: 10, max: gst }), cut: fc.integer({ min: 1, max: n - 1 }) }),
    ),
    maxBatch: fc.constantFrom(1, 2, 8),
    requests: fc.array(
      fc.record({ at: fc.integer({ min: 0, max: gst }), round: fc.integer({ min: 1, max: 4 }), verdict: fc.constantFrom(1, 2), to: fc.integer({ min: 1, max: 2 ** n - 1 }) }),
      { minLength: 1, maxLength: 6 },
    ),
  });
}

type Scenario = ReturnType<typeof scenario> extends fc.Arbitrary<infer T> ? T : never;

function toConfig(n: number, s: Scenario, gst: number, until: number, extra: SimRequest[] = []): SimConfig {
  const byzantine: Record<number, Behaviour> = {};
  s.byz.forEach((r, k) => (byzantine[r] = s.behaviours[k]!));
  const partitions: Partition[] = [];
  if (s.partition) {
    const ids = [...Array(n).keys()];
    partitions.push({ start: s.partition.start, end: s.partition.start + s.partition.length, groups: [ids.slice(0, s.partition.cut), ids.slice(s.partition.cut)] });
  }
  const requests: SimRequest[] = s.requests.map((r) => ({
    at: r.at,
    to: [...Array(n).keys()].filter((i) => (r.to >> i) & 1),
    vote: proposal(r.round, r.verdict),
  }));
  return {
    seed: s.seed,
    n,
    byzantine,
    network: { minDelay: 1, maxDelay: s.maxDelay, dropRate: s.dropRate, duplicateRate: s.duplicateRate, partitions, gst },
    requests: [...requests, ...extra],
    replica: { ...REPLICA, maxBatch: s.maxBatch },
    until,
    maxEvents: 60_000,
  };
}

let runs = 0;

/** Replica i decided v itself, or adopted a stable checkpoint past the sequence where another honest replica decided it. */
function covered(r: SimResult, i: number, v: Vote): boolean {
  const d = voteDigest(v);
  if (decidedVotes(r, i).has(d)) return true;
  for (const j of r.honest) {
    for (const dec of r.decisions.get(j)!.values()) {
      if (dec.batch.some((x) => voteDigest(x) === d)) return r.replicas.get(i)!.status().stableSeq >= dec.seq;
    }
  }
  return false;
}

async function safe(n: number, s: Scenario): Promise<void> {
  const result = await runSimulation(toConfig(n, s, 200, 3_000));
  runs++;
  const violations = await checkSafety(result, quorumSize(n));
  expect(violations, JSON.stringify(violations)).to.deep.equal([]);
}

describe("pbft simulation properties (fast-check, seeded)", function () {
  this.timeout(300_000);
  after(() => console.log(`      ${runs} simulated clusters in total`));

  it("safety at n=4 with up to f=1 Byzantine replica: no divergent decisions, no double-signed round (2,000 runs)", async () => {
    await fc.assert(fc.asyncProperty(scenario(4, 200), (s) => safe(4, s)), { numRuns: 2000, seed: 4004 });
  });

  it("safety at n=7 with up to f=2 Byzantine replicas (150 runs)", async () => {
    await fc.assert(fc.asyncProperty(scenario(7, 200), (s) => safe(7, s)), { numRuns: 150, seed: 7007 });
  });

  async function live(n: number, s: Scenario): Promise<void> {
    const gst = 300;
    const honest = [...Array(n).keys()].filter((i) => !s.byz.includes(i));
    const fresh = [0, 1, 2].map((k) => proposal(100 + k, 1));
    const extra = fresh.map((vote, k) => ({ at: gst + 10 + 5 * k, to: honest, vote }));
    const settled = (r: SimResult) => honest.every((i) => fresh.every((v) => covered(r, i, v)));
    const result = await runSimulation({ ...toConfig(n, s, gst, 30_000, extra), stopWhen: settled });
    runs++;
    expect(await checkSafety(result, quorumSize(n))).to.deep.equal([]);
    for (const i of honest) {
      for (const v of fresh) {
        const st = result.replicas.get(i)!.status();
        expect(covered(result, i, v), `replica ${i} (status ${JSON.stringify(st)}) has round ${v.round}`).to.equal(true);
      }
    }
  }

  it("liveness at n=4: after the network heals (GST) every honest replica decides the new proposals (400 runs)", async () => {
    await fc.assert(fc.asyncProperty(scenario(4, 300), (s) => live(4, s)), { numRuns: 400, seed: 4242 });
  });

  it("liveness at n=7 with up to 2 Byzantine replicas (60 runs)", async () => {
    await fc.assert(fc.asyncProperty(scenario(7, 300), (s) => live(7, s)), { numRuns: 60, seed: 7272 });
  });

  it("real secp256k1 authenticators and EIP-712 votes: forging and equivocating replicas are rejected, certificates verify (2 seeded runs)", async () => {
    for (const [seed, behaviour] of [
      [11, "forging"],
      [12, "equivocating-backup"],
    ] as const) {
      const result = await runSimulation({
        seed,
        n: 4,
        crypto: "secp256k1",
        byzantine: { 3: behaviour },
        network: { minDelay: 1, maxDelay: 5, dropRate: 0.05, duplicateRate: 0.05, partitions: [], gst: 100 },
        requests: [1, 2, 3].map((k) => ({ at: 5 * k, to: [0, 1, 2], vote: proposal(k, 1) })),
        replica: { ...REPLICA, maxBatch: 2 },
        until: 5_000,
        stopWhen: (r) => r.honest.every((i) => decidedVotes(r, i).size >= 3),
      });
      runs++;
      expect(await checkSafety(result, 3)).to.deep.equal([]);
      for (const i of result.honest) expect(decidedVotes(result, i).size).to.equal(3);
      const certs = [...result.decisions.get(0)!.values()].flatMap((d) => d.certificates).filter((c) => c !== null);
      expect(certs.length).to.be.greaterThan(0);
      if (behaviour === "forging") expect(result.rejects.get("auth") ?? 0).to.be.greaterThan(0);
    }
  });
});
