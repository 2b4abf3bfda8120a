import { expect } from "chai";
import { NodeStatus, Role, sortitionAlpha } from "../../offchain/core/protocol.js";
import { MAX_UINT256, committeeThreshold } from "../../offchain/core/sortition.js";
import { bytesToBigInt, evaluate, prove } from "../../offchain/core/vrf/index.js";
import { EXECUTOR_COMMITTEE, checkExecutorProof, drawExecutorTicket, executorAlpha, executorThreshold, standingProblem } from "../../offchain/task/selection.js";
import { buildSpec } from "../../offchain/task/client.js";
import { TaskError } from "../../offchain/task/errors.js";
import { generateCapsuleKeyPair } from "../../offchain/core/capsule/keys.js";
import { SEED, makeNode } from "./fixtures.js";

describe("executor selection", () => {
  it("uses the shared sortition alpha with the task id and Role.Executor (= abi.encodePacked(seed, taskId, uint8(2)))", () => {
    const a = executorAlpha(SEED, 0x1234n);
    expect(a).to.deep.equal(sortitionAlpha(SEED, 0x1234n, Role.Executor));
    expect(a).to.have.length(65);
    expect(a[64]).to.equal(2);
    expect(Buffer.from(a.subarray(32, 64)).toString("hex")).to.equal("1234".padStart(64, "0"));
  });

  it("threshold = EpochClock.thresholdFor(EXECUTOR_COMMITTEE, eligible)", () => {
    expect(EXECUTOR_COMMITTEE).to.equal(2n);
    expect(executorThreshold(7n)).to.equal(committeeThreshold(2n, 7n));
    expect(executorThreshold(2n)).to.equal(MAX_UINT256);
    expect(executorThreshold(0n)).to.equal(MAX_UINT256);
  });

  it("a node is selected exactly when its output is under the threshold; only then does it get a proof", () => {
    const n = makeNode(1n);
    let selected = 0;
    for (let taskId = 1n; taskId <= 40n; taskId++) {
      const threshold = executorThreshold(7n);
      const t = drawExecutorTicket(n.vrfSecret, { seed: SEED, taskId, threshold });
      const out = bytesToBigInt(evaluate(n.vrfSecret, executorAlpha(SEED, taskId)));
      expect(t.selected).to.equal(out < threshold);
      expect(t.proof !== undefined).to.equal(t.selected);
      if (t.selected) {
        selected++;
        expect(checkExecutorProof(n.facts.vrfPublicKey, { seed: SEED, taskId, threshold }, t.proof!).ok).to.equal(true);
      }
    }
    // 2 of 7 expected: 40 draws give ~11; a bound far from both ends catches a broken threshold.
    expect(selected).to.be.within(2, 24);
  });

  it("a proof checks only for its own task, key and threshold; garbage bytes are an invalid proof", () => {
    const n = makeNode(1n);
    const proof = prove(n.vrfSecret, executorAlpha(SEED, 5n));
    const ctx = { seed: SEED, taskId: 5n, threshold: MAX_UINT256 };
    expect(checkExecutorProof(n.facts.vrfPublicKey, ctx, proof).ok).to.equal(true);
    expect(checkExecutorProof(n.facts.vrfPublicKey, { ...ctx, taskId: 6n }, proof)).to.deep.equal({ ok: false, reason: "invalid-proof" });
    expect(checkExecutorProof(makeNode(2n).facts.vrfPublicKey, ctx, proof)).to.deep.equal({ ok: false, reason: "invalid-proof" });
    expect(checkExecutorProof(n.facts.vrfPublicKey, ctx, new Uint8Array(81))).to.deep.equal({ ok: false, reason: "invalid-proof" });
    const r = checkExecutorProof(n.facts.vrfPublicKey, { ...ctx, threshold: 1n }, proof);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.reason).to.equal("above-threshold");
  });

  it("standing: Trusted with tier >= minTier", () => {
    expect(standingProblem({ status: NodeStatus.Trusted, tier: 2 }, 2)).to.equal(null);
    expect(standingProblem({ status: NodeStatus.Trusted, tier: 1 }, 2)).to.equal("tier-too-low");
    for (const s of [NodeStatus.Registered, NodeStatus.Untrusted, NodeStatus.Banned, NodeStatus.Exiting]) {
      expect(standingProblem({ status: s, tier: 2 }, 0)).to.equal("not-trusted");
    }
  });
});

describe("task spec (creator side)", () => {
  const k = generateCapsuleKeyPair().publicKey;
  const input = { cid: undefined as never, chain: { cid: "0x0155" as const, commitment: `0x${"ab".repeat(32)}` as const } };
  const base = { functionCid: "0x0155" as const, inputs: [input], taskKey: k, recipients: [k], timeLimitMs: 1000, memoryLimitMb: 32, minTier: 0, payment: 1n, deadline: 100n };

  it("builds the on-chain spec from capsule records and keys", () => {
    const s = buildSpec(base);
    expect(s.inputCids).to.deep.equal(["0x0155"]);
    expect(s.inputCommitments).to.deep.equal([input.chain.commitment]);
    expect(s.taskKey).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("refuses what TaskMarket would revert on, with TASK_SPEC", () => {
    const bad = [
      { inputs: [] },
      { inputs: Array(17).fill(input) },
      { recipients: [] },
      { timeLimitMs: 0 },
      { memoryLimitMb: 1.5 },
      { minTier: 3 },
      { payment: 0n },
      { deadline: 0n },
    ];
    for (const b of bad) {
      expect(() => buildSpec({ ...base, ...b }), JSON.stringify(Object.keys(b))).to.throw(TaskError).with.property("code", "TASK_SPEC");
    }
  });
});
