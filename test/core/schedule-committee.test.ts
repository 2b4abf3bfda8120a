import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { retryWorthwhile, roundSchedule } from "../../offchain/core/schedule.js";
import { BUSY_CORE_CAP_FACTOR, busyCore, formCommittee, joinChoice, primaryOf, revealWaitOver } from "../../offchain/core/committee.js";
import { decodeRoundId, encodeRoundId, sortitionAlpha, Role } from "../../offchain/core/protocol.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";

describe("protocol encodings", () => {
  it("round ids round-trip and reject out-of-range fields", () => {
    const parts = { epoch: 7n, node: 3n, sequence: 2n ** 64n - 1n };
    expect(decodeRoundId(encodeRoundId(parts))).to.deep.equal(parts);
    expect(() => encodeRoundId({ epoch: 2n ** 64n, node: 1n, sequence: 0n })).to.throw().satisfy((e: unknown) =>
      isTrustmeshError(e, "ROUND_FIELD_RANGE"),
    );
    expect(() => decodeRoundId(1n << 200n)).to.throw(/bits above 192/);
  });

  it("sortition alpha is seed || round (32 bytes big-endian) || role", () => {
    const seed = new Uint8Array(32).fill(0xab);
    const alpha = sortitionAlpha(seed, 0x0102n, Role.Executor);
    expect(alpha.length).to.equal(65);
    expect(alpha[31]).to.equal(0xab);
    expect(alpha[62]).to.equal(0x01);
    expect(alpha[63]).to.equal(0x02);
    expect(alpha[64]).to.equal(2);
    expect(() => sortitionAlpha(new Uint8Array(31), 1n, Role.Verifier)).to.throw(/32 bytes/);
  });
});

describe("attestation schedule", () => {
  const base = { epoch: 4n, node: 9n, epochStartMs: 1_000_000, epochLengthMs: 60_000, meanIntervalMs: 2_000 };

  it("is the same on every gateway for one seed and different for another", () => {
    const seed = new Uint8Array(randomBytes(32));
    const a = roundSchedule({ ...base, seed });
    const b = roundSchedule({ ...base, seed });
    expect(a).to.deep.equal(b);
    const c = roundSchedule({ ...base, seed: new Uint8Array(randomBytes(32)) });
    expect(c.map((r) => r.startMs)).to.not.deep.equal(a.map((r) => r.startMs));
  });

  it("stays inside the epoch, is increasing, and averages the configured rate", () => {
    let total = 0;
    const epochs = 200;
    for (let i = 0; i < epochs; i++) {
      const rounds = roundSchedule({ ...base, seed: new Uint8Array(randomBytes(32)) });
      total += rounds.length;
      for (let j = 0; j < rounds.length; j++) {
        const r = rounds[j]!;
        expect(r.startMs).to.be.within(base.epochStartMs, base.epochStartMs + base.epochLengthMs - 1);
        if (j > 0) expect(r.startMs).to.be.at.least(rounds[j - 1]!.startMs);
        expect(decodeRoundId(r.round)).to.deep.equal({ epoch: base.epoch, node: base.node, sequence: r.sequence });
      }
    }
    // Poisson process with rate 1/2s over 60 s: mean 30 rounds per epoch.
    expect(total / epochs).to.be.within(27, 33);
  });

  it("caps the number of rounds and rejects nonsense parameters", () => {
    const seed = new Uint8Array(32);
    expect(roundSchedule({ ...base, seed, meanIntervalMs: 1, maxRounds: 5 })).to.have.length(5);
    expect(() => roundSchedule({ ...base, seed, meanIntervalMs: 0 })).to.throw(/positive/);
  });
});

describe("retries of failed rounds", () => {
  it("retries only when the node's next scheduled round would start after the retry", () => {
    expect(retryWorthwhile(undefined, 10_000), "last round of the epoch").to.equal(true);
    expect(retryWorthwhile(25_000, 10_000), "next round after the retry").to.equal(true);
    expect(retryWorthwhile(4_000, 10_000), "next round before the retry").to.equal(false);
    expect(retryWorthwhile(10_000, 10_000), "next round at the retry's start").to.equal(false);
  });

  it("at a short mean interval almost no round is retried; at a long one most are", () => {
    const seed = new Uint8Array(32).fill(7);
    const retried = (meanIntervalMs: number): number => {
      const rounds = roundSchedule({ seed, epoch: 3n, node: 2n, epochStartMs: 0, epochLengthMs: 600_000, meanIntervalMs });
      const worth = rounds.filter((r, k) => retryWorthwhile(rounds[k + 1]?.startMs, r.startMs + 10_000)).length;
      return worth / rounds.length;
    };
    expect(retried(700)).to.be.below(0.01);
    expect(retried(60_000)).to.be.above(0.7);
  });
});

describe("committee formation", () => {
  const reveal = (node: bigint, output: bigint) => ({ node, gateway: `0x${node.toString(16).padStart(40, "0")}`, output });

  it("orders members by VRF output, drops outputs above the threshold, rotates the primary", () => {
    const c = formCommittee([reveal(1n, 50n), reveal(2n, 10n), reveal(3n, 30n), reveal(4n, 20n), reveal(5n, 999n)], 100n, 3);
    expect(c.members.map((m) => m.node)).to.deep.equal([2n, 4n, 3n, 1n]);
    expect(c.f).to.equal(1);
    expect(c.quorum).to.equal(3);
    expect(primaryOf(c, 0).node).to.equal(2n);
    expect(primaryOf(c, 5).node).to.equal(4n);
  });

  it("never asks for fewer commits than the on-chain quorum", () => {
    const reveals = [1n, 2n, 3n, 4n, 5n, 6n, 7n].map((n) => reveal(n, n));
    expect(formCommittee(reveals, 100n, 5).quorum).to.equal(5);
    expect(() => formCommittee(reveals.slice(0, 4), 100n, 5)).to.throw().satisfy((e: unknown) =>
      isTrustmeshError(e, "COMMITTEE_TOO_SMALL"),
    );
  });

  it("rejects a node with two different outputs and dedups identical reveals", () => {
    expect(formCommittee([reveal(1n, 5n), reveal(1n, 5n), reveal(2n, 6n), reveal(3n, 7n)], 100n, 3).members).to.have.length(3);
    expect(() => formCommittee([reveal(1n, 5n), reveal(1n, 6n)], 100n, 1)).to.throw(/two different VRF outputs/);
  });
});

describe("waiting for reveals", () => {
  const base = { deadline: 10_000, graceMs: 500, possible: 4 };
  it("ends at the deadline plus the grace, whatever was heard", () => {
    expect(revealWaitOver({ ...base, now: 10_499, revealed: [1n], declined: [] })).to.equal(false);
    expect(revealWaitOver({ ...base, now: 10_500, revealed: [], declined: [] })).to.equal(true);
  });

  it("ends early once every possible node revealed or declined, each node counted once", () => {
    expect(revealWaitOver({ ...base, now: 0, revealed: [1n, 2n, 3n, 4n], declined: [] })).to.equal(true);
    expect(revealWaitOver({ ...base, now: 0, revealed: [1n, 2n], declined: [3n, 4n] })).to.equal(true);
    expect(revealWaitOver({ ...base, now: 0, revealed: [1n, 2n, 3n], declined: [] }), "one silent node").to.equal(false);
    // A node that declined and revealed anyway is one node, not two.
    expect(revealWaitOver({ ...base, now: 0, revealed: [1n, 2n, 3n], declined: [3n] })).to.equal(false);
  });
});

describe("busy verifiers: the draw that carries a round", () => {
  const candidates = [1n, 2n, 3n, 5n, 6n, 7n];

  it("draws exactly quorum candidates, the same for every caller, whatever the order given", () => {
    const core = busyCore(42n, candidates, 4);
    expect(core.size).to.equal(4);
    for (const n of core) expect(candidates).to.include(n);
    expect([...busyCore(42n, [...candidates].reverse(), 4)].sort()).to.deep.equal([...core].sort());
    expect(busyCore(42n, [...candidates, 3n, 3n], 4)).to.deep.equal(core);
  });

  it("moves with the round, so over many rounds every candidate carries about its share", () => {
    const carried = new Map<bigint, number>(candidates.map((n) => [n, 0]));
    const rounds = 6_000;
    for (let r = 0n; r < BigInt(rounds); r++) for (const n of busyCore(r, candidates, 4)) carried.set(n, (carried.get(n) ?? 0) + 1);
    // Each candidate is drawn in 4 of 6 rounds: 4,000 expected, binomial sd ~37.
    for (const [, times] of carried) expect(times).to.be.within(3_800, 4_200);
  });

  it("draws everyone when there are no more candidates than the quorum, and no one for quorum 0", () => {
    expect([...busyCore(7n, [2n, 3n, 4n], 4)].sort()).to.deep.equal([2n, 3n, 4n]);
    expect(busyCore(7n, candidates, 0).size).to.equal(0);
  });

  it("joins below the cap, carries only drawn rounds past it, and declines every round at the harder cap", async () => {
    let asked = 0;
    const drawn = (answer: boolean) => () => {
      asked++;
      return answer;
    };
    expect(await joinChoice(5, 6, drawn(false))).to.equal("join");
    expect(asked, "the draw is not read below the cap").to.equal(0);
    expect(await joinChoice(6, 6, drawn(true))).to.equal("carry");
    expect(await joinChoice(6, 6, drawn(false))).to.equal("decline");
    expect(await joinChoice(BUSY_CORE_CAP_FACTOR * 6 - 1, 6, async () => true)).to.equal("carry");
    asked = 0;
    expect(await joinChoice(BUSY_CORE_CAP_FACTOR * 6, 6, drawn(true))).to.equal("decline");
    expect(asked, "nor at the harder cap").to.equal(0);
    expect(await joinChoice(0, 0, drawn(true)), "a cap of 0 sheds everything").to.equal("decline");
  });
});
