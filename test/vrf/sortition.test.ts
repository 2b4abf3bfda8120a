import { expect } from "chai";
import { sha256 } from "@noble/hashes/sha2.js";
import { Role, sortitionAlpha } from "../../offchain/core/protocol.js";
import {
  MAX_UINT256,
  SortitionError,
  checkClaim,
  committeeThreshold,
  drawTicket,
  isSelected,
  selectExecutor,
  stakeWeightedThreshold,
} from "../../offchain/core/sortition.js";
import { bytesToBigInt, derivePublicKey, evaluate, prove, verify } from "../../offchain/core/vrf/index.js";

// Deterministic keys and seeds: the statistics below are the same on every run.
const keyOf = (i: number) => sha256(new TextEncoder().encode(`sortition-key-${i}`));
const seedOf = (i: number) => sha256(new TextEncoder().encode(`epoch-seed-${i}`));

describe("VRF sortition", () => {
  describe("thresholds", () => {
    it("matches EpochClock.thresholdFor: floor(size * (2^256-1) / eligible), saturating", () => {
      expect(committeeThreshold(10, 100)).to.equal((MAX_UINT256 * 10n) / 100n);
      expect(committeeThreshold(7, 7)).to.equal(MAX_UINT256);
      expect(committeeThreshold(9, 7)).to.equal(MAX_UINT256);
      expect(committeeThreshold(1, 0)).to.equal(MAX_UINT256); // max(eligible, 1)
      expect(committeeThreshold(0, 5)).to.equal(0n);
      expect(committeeThreshold(1, 3)).to.equal(MAX_UINT256 / 3n);
      expect(() => committeeThreshold(-1, 3)).to.throw(SortitionError);
    });
    it("scales by stake / meanStake and saturates", () => {
      const base = committeeThreshold(10, 100);
      expect(stakeWeightedThreshold(base, 5n, 5n)).to.equal(base);
      expect(stakeWeightedThreshold(base, 10n, 5n)).to.equal((base * 2n));
      expect(stakeWeightedThreshold(base, 0n, 5n)).to.equal(0n);
      expect(stakeWeightedThreshold(MAX_UINT256, 2n, 1n)).to.equal(MAX_UINT256);
      expect(() => stakeWeightedThreshold(base, 1n, 0n)).to.throw(SortitionError);
    });
    it("selects strictly below the threshold", () => {
      expect(isSelected(4n, 5n)).to.equal(true);
      expect(isSelected(5n, 5n)).to.equal(false);
    });
  });

  describe("tickets and claims", () => {
    const seed = seedOf(1);
    const input = { seed, round: 77n, role: Role.Verifier };

    it("reveals a proof only when selected, and the proof checks out", () => {
      const sk = keyOf(1);
      const yes = drawTicket(sk, input, MAX_UINT256);
      expect(yes.selected).to.equal(true);
      expect(yes.proof).to.have.length(81);
      const no = drawTicket(sk, input, 0n);
      expect(no.selected).to.equal(false);
      expect(no.proof).to.equal(undefined);
      expect(no.outputInt).to.equal(yes.outputInt);
      expect(yes.alpha).to.deep.equal(sortitionAlpha(seed, 77n, Role.Verifier));
      const check = checkClaim(derivePublicKey(sk), input, yes.proof!, MAX_UINT256);
      expect(check.ok && check.outputInt).to.equal(yes.outputInt);
    });
    it("the output binds seed, round and role", () => {
      const sk = keyOf(2);
      const a = evaluate(sk, sortitionAlpha(seed, 1n, Role.Verifier));
      expect(evaluate(sk, sortitionAlpha(seed, 2n, Role.Verifier))).to.not.deep.equal(a);
      expect(evaluate(sk, sortitionAlpha(seed, 1n, Role.Executor))).to.not.deep.equal(a);
      expect(evaluate(sk, sortitionAlpha(seedOf(2), 1n, Role.Verifier))).to.not.deep.equal(a);
      const r = verify(derivePublicKey(sk), prove(sk, sortitionAlpha(seed, 1n, Role.Verifier)), sortitionAlpha(seed, 1n, Role.Verifier));
      expect(r.valid && r.beta).to.deep.equal(a);
    });
    it("flags claims above the threshold and proofs for another round or key", () => {
      const sk = keyOf(3);
      const t = drawTicket(sk, input, MAX_UINT256);
      const above = checkClaim(derivePublicKey(sk), input, t.proof!, t.outputInt);
      expect(above).to.deep.equal({ ok: false, reason: "above-threshold", outputInt: t.outputInt });
      expect(checkClaim(derivePublicKey(sk), { ...input, round: 78n }, t.proof!, MAX_UINT256)).to.deep.equal({
        ok: false,
        reason: "invalid-proof",
      });
      expect(checkClaim(derivePublicKey(keyOf(4)), input, t.proof!, MAX_UINT256).ok).to.equal(false);
    });
  });

  describe("statistics (deterministic seeds)", function () {
    this.timeout(120_000);
    const nodes = 40;
    const expected = 6;
    const epochs = 50;
    const threshold = committeeThreshold(expected, nodes);
    const outputs: bigint[][] = [];
    before(() => {
      for (let e = 0; e < epochs; e++) {
        const alpha = sortitionAlpha(seedOf(e), BigInt(e), Role.Verifier);
        outputs.push(Array.from({ length: nodes }, (_, i) => bytesToBigInt(evaluate(keyOf(i), alpha))));
      }
    });
    it("the mean committee size is close to the expected size", () => {
      const sizes = outputs.map((o) => o.filter((v) => isSelected(v, threshold)).length);
      const mean = sizes.reduce((a, b) => a + b, 0) / epochs;
      // Binomial(40, 0.15): sd of the mean over 50 epochs is ~0.32; allow ~4 sd.
      expect(mean).to.be.within(expected - 1.3, expected + 1.3);
      // Committees really vary from epoch to epoch (not a constant set).
      expect(new Set(outputs.map((o) => o.map((v) => (isSelected(v, threshold) ? 1 : 0)).join(""))).size).to.be.greaterThan(epochs - 3);
    });
    it("stake weighting: a node with 3x the mean stake sits about 3x as often", () => {
      const heavy = stakeWeightedThreshold(threshold, 3n, 1n);
      let light = 0;
      let weighted = 0;
      for (const o of outputs) for (const v of o) {
        if (isSelected(v, threshold)) light++;
        if (isSelected(v, heavy)) weighted++;
      }
      const ratio = weighted / light;
      expect(ratio).to.be.within(2.5, 3.5);
    });
    it("the executor (lowest output) is spread over nodes", () => {
      const winners = outputs.map((o) => o.indexOf(o.reduce((a, b) => (b < a ? b : a))));
      // 50 draws over 40 nodes: expect ~28 distinct winners; far fewer would mean bias.
      expect(new Set(winners).size).to.be.greaterThan(18);
    });
  });

  describe("executor selection", () => {
    const seed = seedOf(9);
    const round = 5n;
    const alpha = sortitionAlpha(seed, round, Role.Executor);
    const cands = [0, 1, 2, 3, 4].map((i) => ({
      node: BigInt(i + 1),
      publicKey: derivePublicKey(keyOf(100 + i)),
      proof: prove(keyOf(100 + i), alpha),
      trusted: true,
      out: bytesToBigInt(evaluate(keyOf(100 + i), alpha)),
    }));
    const lowest = (cs: typeof cands) => cs.reduce((a, b) => (b.out < a.out ? b : a));

    it("picks the lowest output among trusted nodes with valid proofs", () => {
      const best = lowest(cands);
      expect(selectExecutor(seed, round, cands)).to.deep.equal({ node: best.node, outputInt: best.out });
    });
    it("skips untrusted nodes, invalid proofs and malformed reveals", () => {
      const best = lowest(cands);
      const others = cands.filter((c) => c !== best);
      const next = lowest(others);
      const untrusted = cands.map((c) => (c === best ? { ...c, trusted: false } : c));
      expect(selectExecutor(seed, round, untrusted)?.node).to.equal(next.node);
      const wrongProof = cands.map((c) => (c === best ? { ...c, proof: prove(keyOf(999), alpha) } : c));
      expect(selectExecutor(seed, round, wrongProof)?.node).to.equal(next.node);
      const malformed = cands.map((c) => (c === best ? { ...c, proof: new Uint8Array(10) } : c));
      expect(selectExecutor(seed, round, malformed)?.node).to.equal(next.node);
      // A Verifier-role proof is not an Executor-role proof.
      const wrongRole = cands.map((c) =>
        c === best ? { ...c, proof: prove(keyOf(100 + Number(best.node) - 1), sortitionAlpha(seed, round, Role.Verifier)) } : c,
      );
      expect(selectExecutor(seed, round, wrongRole)?.node).to.equal(next.node);
      expect(selectExecutor(seed, round, cands.map((c) => ({ ...c, trusted: false })))).to.equal(null);
    });
  });
});
