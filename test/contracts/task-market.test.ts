/// <reference types="chai-as-promised" />
import hre from "hardhat";
import { expect } from "chai";
import { loadFixture, takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import { bytesToHex as viemBytesToHex, hexToBytes, keccak256, parseSignature, toFunctionSelector, toHex, zeroAddress, zeroHash, type Hex } from "viem";
import { NodeStatus, Role, sortitionAlpha, taskRoundSequence } from "../../offchain/core/protocol.js";
import { permitTypes } from "../../offchain/chain/permit.js";
import { ROLES } from "../../offchain/chain/deploy.js";
import { committeeThreshold } from "../../offchain/core/sortition.js";
import { isPostRunRoundOf } from "../../offchain/task/chain.js";
import { eventsOf, expectEvent, MIN_STAKE, nodeKeys, registration } from "./fixture.js";
import {
  createTask,
  executorProof,
  makeSpec,
  marketFixture,
  PAYMENT,
  recordPostRun,
  recordRound,
  recordVerdict,
  RESULT_CID,
  RESULT_COMMITMENT,
  specHashOf,
  submit,
  taskRound,
  type Ctx,
  type Node,
} from "./task-market.helpers.js";

const Status = { None: 0, Open: 1, Submitted: 2, Settled: 3, Failed: 4, Refunded: 5 } as const;

/** x and y ordered by their VRF output for `taskId`: [higher, lower]. */
async function byOutput(ctx: Ctx, taskId: bigint): Promise<[Node, Node]> {
  const px = await executorProof(ctx, ctx.x, taskId);
  const py = await executorProof(ctx, ctx.y, taskId);
  return BigInt(px.output) > BigInt(py.output) ? [ctx.x, ctx.y] : [ctx.y, ctx.x];
}

/** A fresh task whose two candidates both hold a fresh Trusted verdict: [higher, lower] output. */
async function taskWithTwoCandidates() {
  const ctx = await loadFixture(marketFixture);
  const { id } = await createTask(ctx);
  await recordVerdict(ctx, ctx.x, 1);
  await recordVerdict(ctx, ctx.y, 1);
  const [high, low] = await byOutput(ctx, id);
  return { ctx, f: ctx.f, market: ctx.market, id, high, low };
}

async function creatorPermit(ctx: Ctx, value: bigint, deadline: bigint) {
  const { f, creator, market } = ctx;
  const sig = await creator.signTypedData({
    domain: { name: await f.token.read.name(), version: "1", chainId: f.chainId, verifyingContract: f.token.address },
    types: permitTypes,
    primaryType: "Permit",
    message: { owner: creator.account.address, spender: market.address, value, nonce: await f.token.read.nonces([creator.account.address]), deadline },
  });
  const { v, r, s } = parseSignature(sig);
  return { v: Number(v), r, s };
}

describe("TaskMarket", () => {
  describe("createTask", () => {
    it("escrows the payment, stores the packed task, emits TaskCreated and TaskInputs", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, creator } = ctx;
      expect(await market.read.nextTaskId()).to.equal(1n);
      const before = await f.token.read.balanceOf([creator.account.address]);
      const { id, spec, hash } = await createTask(ctx);
      expect(id).to.equal(1n);
      expect(await market.read.nextTaskId()).to.equal(2n);
      const specHash = specHashOf(ctx, spec);
      expect(await market.read.hashSpec([spec])).to.equal(specHash);
      // Two Trusted nodes, EXECUTOR_COMMITTEE = 2: everyone is a candidate.
      const threshold = committeeThreshold(2n, 2n);
      await expectEvent(market, hash, "TaskCreated", {
        taskId: 1n,
        creator: creator.account.address,
        functionCid: spec.functionCid,
        taskKey: spec.taskKey,
        timeLimitMs: spec.timeLimitMs,
        memoryLimitMb: spec.memoryLimitMb,
        minTier: spec.minTier,
        payment: PAYMENT,
        deadline: spec.deadline,
        seedEpoch: ctx.epoch,
        threshold,
        specHash,
      });
      const inputs = await expectEvent(market, hash, "TaskInputs", { taskId: 1n });
      expect(inputs.inputCids).to.deep.equal(spec.inputCids);
      expect(inputs.inputCommitments).to.deep.equal(spec.inputCommitments);
      expect(inputs.recipientKeys).to.deep.equal(spec.recipientKeys);
      await expectEvent(f.token, hash, "Transfer", { from: creator.account.address, to: market.address, value: PAYMENT });

      const t = await market.read.getTask([1n]);
      const block = await f.publicClient.getBlock({ blockNumber: (await f.publicClient.getTransactionReceipt({ hash })).blockNumber });
      expect(t.creator.toLowerCase()).to.equal(creator.account.address.toLowerCase());
      expect(t).to.deep.include({
        deadline: spec.deadline,
        minTier: spec.minTier,
        status: Status.Open,
        seedEpoch: ctx.epoch,
        createdAt: Number(block.timestamp),
        executor: 0n,
        historyCount: 0,
        submittedAt: 0,
        payment: PAYMENT,
        threshold,
        specHash,
        vrfOutput: zeroHash,
        resultCommitment: zeroHash,
      });
      expect(await f.token.read.balanceOf([creator.account.address])).to.equal(before - PAYMENT);
      expect(await f.token.read.balanceOf([market.address])).to.equal(PAYMENT);
      expect(await market.read.escrowed()).to.equal(PAYMENT);
    });

    it("the executor threshold is fixed at creation from the eligible count", async () => {
      const ctx = await loadFixture(marketFixture);
      await recordVerdict(ctx, ctx.committee[6]!, 1); // three Trusted nodes now
      const { id, hash } = await createTask(ctx);
      const threshold = committeeThreshold(2n, 3n);
      await expectEvent(ctx.market, hash, "TaskCreated", { taskId: id, threshold });
      await recordVerdict(ctx, ctx.committee[5]!, 1);
      expect((await ctx.market.read.getTask([id])).threshold).to.equal(threshold);
    });

    it("rejects every malformed spec with a named error", async () => {
      const ctx = await loadFixture(marketFixture);
      const now = BigInt(await time.latest());
      const bad = async (over: Parameters<typeof makeSpec>[0], error: string) => {
        const spec = await makeSpec(over);
        await expect(ctx.market.write.createTask([spec], { account: ctx.creator.account }), error).to.be.rejectedWith(error);
      };
      const long = toHex(new Uint8Array(129));
      await bad({ functionCid: "0x" }, "TaskMarketEmptyCid");
      await bad({ functionCid: long }, "TaskMarketCidTooLong");
      await bad({ inputCids: ["0x01", "0x"] }, "TaskMarketEmptyCid");
      await bad({ inputCids: [], inputCommitments: [] }, "TaskMarketBadInputCount");
      await bad({ inputCids: Array(17).fill("0x01"), inputCommitments: Array(17).fill(keccak256("0x01")) }, "TaskMarketBadInputCount");
      await bad({ inputCommitments: [keccak256("0x01")] }, "TaskMarketLengthMismatch");
      await bad({ inputCommitments: [keccak256("0x01"), zeroHash] }, "TaskMarketZeroValue");
      await bad({ taskKey: zeroHash }, "TaskMarketZeroValue");
      await bad({ recipientKeys: [] }, "TaskMarketBadRecipientCount");
      await bad({ recipientKeys: Array(17).fill(keccak256("0x02")) }, "TaskMarketBadRecipientCount");
      await bad({ recipientKeys: [keccak256("0x02"), zeroHash] }, "TaskMarketZeroValue");
      await bad({ timeLimitMs: 0 }, "TaskMarketZeroLimit");
      await bad({ memoryLimitMb: 0 }, "TaskMarketZeroLimit");
      await bad({ minTier: 3 }, "TaskMarketInvalidTier");
      await bad({ payment: 0n }, "TaskMarketZeroPayment");
      await bad({ deadline: now }, "TaskMarketDeadlineInPast");
      // 16 inputs and recipients are fine
      const ok = await makeSpec({
        inputCids: Array(16).fill(INPUT),
        inputCommitments: Array(16).fill(keccak256("0x01")),
        recipientKeys: Array(16).fill(keccak256("0x02")),
        minTier: 2,
      });
      await ctx.market.write.createTask([ok], { account: ctx.creator.account });
      // no allowance
      const other = ctx.f.operators[0]!;
      await expect(ctx.market.write.createTask([await makeSpec()], { account: other.account })).to.be.rejectedWith("ERC20InsufficientAllowance");
    });

    it("createTaskWithPermit pays by EIP-2612 permit; a front-run permit is tolerated; no allowance reverts", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, creator } = ctx;
      await f.token.write.approve([market.address, 0n], { account: creator.account });
      const spec = await makeSpec();
      const deadline = BigInt(await time.latest()) + 600n;
      const p = await creatorPermit(ctx, spec.payment, deadline);
      const hash = await market.write.createTaskWithPermit([spec, deadline, p.v, p.r, p.s], { account: creator.account });
      await expectEvent(market, hash, "TaskCreated", { taskId: 1n, payment: spec.payment });
      await expectEvent(f.token, hash, "Approval", { owner: creator.account.address, spender: market.address, value: spec.payment });
      expect(await f.token.read.balanceOf([market.address])).to.equal(spec.payment);

      // someone front-runs the permit: the allowance is there, so the task is still created
      const p2 = await creatorPermit(ctx, spec.payment, deadline);
      await f.token.write.permit([creator.account.address, market.address, spec.payment, deadline, p2.v, p2.r, p2.s]);
      await market.write.createTaskWithPermit([spec, deadline, p2.v, p2.r, p2.s], { account: creator.account });
      expect(await market.read.nextTaskId()).to.equal(3n);

      // a garbage permit and no allowance: the transfer decides
      await expect(
        market.write.createTaskWithPermit([spec, deadline, 27, zeroHash, zeroHash], { account: creator.account }),
      ).to.be.rejectedWith("ERC20InsufficientAllowance");
    });
  });

  describe("submitResult", () => {
    it("records a result proven by a real ECVRF proof and emits ResultSubmitted", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, x } = ctx;
      // (freshness compares block times; blocks may share a second here, so leave one)
      await time.increase(1);
      const { id } = await createTask(ctx);
      // without a verdict recorded since the task's creation there is no pre-run attestation
      await expect(submit(ctx, x, id)).to.be.rejectedWith("TaskMarketNoFreshAttestation");
      await recordVerdict(ctx, x, 1);
      // the alpha the contract uses is the one offchain/core/protocol.ts builds
      const seed = hexToBytes(await f.clock.read.epochSeed([ctx.epoch]));
      expect(await market.read.executorAlpha([id])).to.equal(viemBytesToHex(sortitionAlpha(seed, id, Role.Executor)));
      const p = await executorProof(ctx, x, id);
      const [count] = await f.board.read.nodeHistory([x.id]);
      const hash = await submit(ctx, x, id, { proof: p });
      const submittedAt = Number((await f.publicClient.getBlock({ blockNumber: (await f.publicClient.getTransactionReceipt({ hash })).blockNumber })).timestamp);
      await expectEvent(market, hash, "ResultSubmitted", {
        taskId: id,
        node: x.id,
        gateway: x.keys.gateway.address,
        vrfOutput: p.output,
        resultCid: RESULT_CID,
        resultCommitment: RESULT_COMMITMENT,
        historyCount: count,
      });
      expect(await eventsOf(market, hash, "ResultReplaced")).to.have.length(0);
      expect(await market.read.getTask([id])).to.deep.include({
        status: Status.Submitted,
        executor: x.id,
        historyCount: Number(count),
        submittedAt,
        vrfOutput: p.output,
        resultCommitment: RESULT_COMMITMENT,
      });
    });

    it("a strictly lower output replaces the result (ResultReplaced); equal or higher is rejected", async () => {
      const { ctx, f, market, id, high, low } = await taskWithTwoCandidates();
      const ph = await executorProof(ctx, high, id);
      const pl = await executorProof(ctx, low, id);
      await submit(ctx, high, id, { proof: ph });
      await expect(submit(ctx, high, id, { proof: ph })).to.be.rejectedWith("TaskMarketNotLower");
      const [lowCount] = await f.board.read.nodeHistory([low.id]);
      const hash = await submit(ctx, low, id, { proof: pl, commitment: keccak256("0x99") });
      await expectEvent(market, hash, "ResultReplaced", { taskId: id, oldNode: high.id, newNode: low.id, oldOutput: ph.output, newOutput: pl.output });
      await expectEvent(market, hash, "ResultSubmitted", { taskId: id, node: low.id, vrfOutput: pl.output, resultCommitment: keccak256("0x99"), historyCount: lowCount });
      expect(await market.read.getTask([id])).to.deep.include({ executor: low.id, vrfOutput: pl.output, historyCount: Number(lowCount), resultCommitment: keccak256("0x99") });
      await expect(submit(ctx, high, id, { proof: ph })).to.be.rejectedWith("TaskMarketNotLower");
      await expect(submit(ctx, low, id, { proof: pl })).to.be.rejectedWith("TaskMarketNotLower");
      // the replaced executor's post-run round does not settle the new executor's result
      const highRound = await recordPostRun(ctx, high, id, 1);
      await expect(market.write.settle([id, highRound])).to.be.rejectedWith("TaskMarketNotPostRunRound");
      const round = await recordPostRun(ctx, low, id, 1);
      await expectEvent(market, await market.write.settle([id, round]), "TaskSettled", { taskId: id, node: low.id, operator: low.operator.account.address, round });
    });

    it("a result with a post-run verdict is locked: a lower output no longer replaces it", async () => {
      const { ctx, f, market, id, high, low } = await taskWithTwoCandidates();
      await submit(ctx, high, id);
      const round = await recordPostRun(ctx, high, id, 2);
      await expect(submit(ctx, low, id)).to.be.rejectedWith("TaskMarketResultLocked");
      // a voided post-run verdict unlocks it again
      await f.board.write.grantRole([ROLES.DISPUTES, f.deployer.account.address]);
      await f.board.write.voidVerdict([round]);
      await expectEvent(market, await submit(ctx, low, id), "ResultReplaced", { taskId: id, oldNode: high.id, newNode: low.id });
    });

    it("any verdict on the executor since the result locks it, a scheduled one too (the board shows only the latest)", async () => {
      const { ctx, market, id, high, low } = await taskWithTwoCandidates();
      await submit(ctx, high, id);
      const round = await recordVerdict(ctx, high, 1);
      await expect(submit(ctx, low, id)).to.be.rejectedWith("TaskMarketResultLocked");
      // locked but not settle-able: the scheduled round judged no cleanup
      await expect(market.write.settle([id, round])).to.be.rejectedWith("TaskMarketNotPostRunRound");
    });

    it("rejects unknown tasks, wrong callers, untrusted nodes, low tiers, bad proofs and late results", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, x, y, committee } = ctx;
      await time.increase(1); // y's fixture verdict must predate the task by a second
      const { id } = await createTask(ctx, { minTier: 2 });
      await recordVerdict(ctx, x, 1);
      const px = await executorProof(ctx, x, id);
      await expect(submit(ctx, x, 99n, { proof: px })).to.be.rejectedWith("TaskMarketUnknownTask");
      // y's gateway submitting for node x, and x's operator (not its gateway)
      await expect(submit(ctx, x, id, { proof: px, from: y })).to.be.rejectedWith("TaskMarketNotGateway");
      const asOperator = market.write.submitResult([id, x.id, px.proof, px.uPoint, px.vComponents, RESULT_CID, RESULT_COMMITMENT], { account: x.operator.account });
      await expect(asOperator).to.be.rejectedWith("TaskMarketNotGateway");
      await expect(submit(ctx, x, id, { proof: px, nodeId: 77n })).to.be.rejectedWith("TaskMarketNotGateway");
      // a Registered (not Trusted) node
      await expect(submit(ctx, committee[0]!, id)).to.be.rejectedWith("TaskMarketNodeNotTrusted");
      // a Trusted node of tier 1 on a tier-2 task
      const k = nodeKeys(20);
      const op = f.operators[8]!;
      await f.token.write.approve([f.registry.address, MIN_STAKE], { account: op.account });
      await f.registry.write.register([registration(k, MIN_STAKE, 1)], { account: op.account });
      const low: Node = { id: await f.registry.read.nodeOfGateway([k.gateway.address]), keys: k, operator: op };
      await recordVerdict(ctx, low, 1);
      await expect(submit(ctx, low, id)).to.be.rejectedWith("TaskMarketTierTooLow");
      // y is Trusted but its latest verdict predates the task: no pre-run attestation
      await expect(submit(ctx, y, id)).to.be.rejectedWith("TaskMarketNoFreshAttestation");
      // bad proofs: y's proof under x's key, x's proof for another task, broken helpers, garbage points
      const py = await executorProof(ctx, y, id);
      await expect(submit(ctx, x, id, { proof: py })).to.be.rejectedWith("TaskMarketInvalidProof");
      const { id: other } = await createTask(ctx);
      await expect(submit(ctx, x, id, { proof: await executorProof(ctx, x, other) })).to.be.rejectedWith("TaskMarketInvalidProof");
      await expect(submit(ctx, x, id, { proof: { ...px, uPoint: [px.uPoint[0], px.uPoint[1] + 1n] } })).to.be.rejectedWith("TaskMarketInvalidProof");
      await expect(submit(ctx, x, id, { proof: { ...px, proof: [1n, 2n, 3n, 4n] } })).to.be.rejectedWith("TaskMarketInvalidProof");
      // empty result CID and zero commitment
      await expect(submit(ctx, x, id, { proof: px, cid: "0x" })).to.be.rejectedWith("TaskMarketEmptyCid");
      await expect(submit(ctx, x, id, { proof: px, commitment: zeroHash })).to.be.rejectedWith("TaskMarketZeroValue");
      // no verifier configured
      await market.write.setVerifier([zeroAddress], { account: f.governor.account });
      await expect(submit(ctx, x, id, { proof: px })).to.be.rejectedWith("TaskMarketNoVerifier");
      await market.write.setVerifier([f.deployment.contracts.VRFVerifier!], { account: f.governor.account });
      // after the deadline
      const t = await market.read.getTask([id]);
      await time.increaseTo(t.deadline + 1n);
      await expect(submit(ctx, x, id, { proof: px })).to.be.rejectedWith("TaskMarketDeadlinePassed");
    });

    it("rejects a valid proof whose output is not under the task's threshold", async () => {
      const ctx = await loadFixture(marketFixture);
      // Four Trusted nodes: threshold = half the range (and Registered committee nodes can still sign).
      const extra = [ctx.committee[6]!, ctx.committee[5]!];
      for (const n of extra) await recordVerdict(ctx, n, 1);
      const nodes = [ctx.x, ctx.y, ...extra];
      for (let attempt = 0; attempt < 5; attempt++) {
        const { id } = await createTask(ctx);
        const t = await ctx.market.read.getTask([id]);
        expect(t.threshold).to.equal(committeeThreshold(2n, 4n));
        for (const n of nodes) {
          await recordVerdict(ctx, n, 1);
          const p = await executorProof(ctx, n, id);
          if (BigInt(p.output) >= t.threshold) {
            await expect(submit(ctx, n, id, { proof: p })).to.be.rejectedWith("TaskMarketAboveThreshold");
            return;
          }
        }
      }
      expect.fail("no node above the threshold in five tasks (probability 2^-20)");
    });
  });

  describe("settle", () => {
    it("happy path: create -> result -> Trusted post-run task round -> payment to the executor's operator", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, x } = ctx;
      const { id } = await createTask(ctx);
      const post = taskRound(ctx, x, id);
      await expect(market.write.settle([id, post])).to.be.rejectedWith("TaskMarketInvalidStatus");
      await expect(market.write.settle([42n, post])).to.be.rejectedWith("TaskMarketUnknownTask");
      await recordVerdict(ctx, x, 1); // pre-run attestation
      await submit(ctx, x, id);
      await expect(market.write.settle([id, post])).to.be.rejectedWith("TaskMarketNoPostRunVerdict");
      const round = await recordPostRun(ctx, x, id, 1);
      expect(round).to.equal(post);
      const before = await f.token.read.balanceOf([x.operator.account.address]);
      const hash = await market.write.settle([id, round], { account: f.operators[3]!.account }); // anyone
      await expectEvent(market, hash, "TaskSettled", { taskId: id, node: x.id, operator: x.operator.account.address, payment: PAYMENT, round });
      await expectEvent(f.token, hash, "Transfer", { from: market.address, to: x.operator.account.address, value: PAYMENT });
      expect(await f.token.read.balanceOf([x.operator.account.address])).to.equal(before + PAYMENT);
      expect(await f.token.read.balanceOf([market.address])).to.equal(0n);
      expect(await market.read.escrowed()).to.equal(0n);
      expect((await market.read.getTask([id])).status).to.equal(Status.Settled);
      await expect(market.write.settle([id, round])).to.be.rejectedWith("TaskMarketInvalidStatus");
      await time.increase(7200);
      await expect(market.write.refund([id])).to.be.rejectedWith("TaskMarketInvalidStatus");
      await expect(submit(ctx, ctx.y, id)).to.be.rejectedWith("TaskMarketInvalidStatus");
    });

    it("settles on the post-run round even when a scheduled verdict of the other sign lands after it", async () => {
      const ctx = await loadFixture(marketFixture);
      const { market, x, creator } = ctx;
      const { id } = await createTask(ctx);
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      const round = await recordPostRun(ctx, x, id, 2);
      const scheduled = await recordVerdict(ctx, x, 1); // latest on the board, no cleanup check
      await expect(market.write.settle([id, scheduled])).to.be.rejectedWith("TaskMarketNotPostRunRound");
      await expectEvent(market, await market.write.settle([id, round]), "TaskFailed", { taskId: id, node: x.id, creator: creator.account.address, round });
    });

    it("refuses every round that is not the executor's post-run task round of this task", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, x, y } = ctx;
      const { id } = await createTask(ctx);
      const { id: other } = await createTask(ctx);
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      const notPostRun = async (round: bigint, why: string) => {
        await expect(market.write.settle([id, round]), why).to.be.rejectedWith(`TaskMarketNotPostRunRound(${id}, ${round})`);
        // the off-chain finder (TaskMarketChain.postRunRound) applies the same rule
        expect(isPostRunRoundOf(round, id, x.id), why).to.equal(false);
      };
      // each of these is recorded on the board after the result, Trusted
      await notPostRun(await recordVerdict(ctx, x, 1), "a scheduled round");
      await notPostRun(await recordRound(ctx, x, taskRoundSequence({ taskId: id, phase: "pre-run", attempt: 0 }), 1), "a pre-run task round");
      await notPostRun(await recordPostRun(ctx, x, other, 1), "a post-run round of another task");
      await notPostRun(await recordPostRun(ctx, y, id, 1), "a post-run round of another node");
      const attempt4 = (1n << 63n) | (1n << 62n) | (4n << 32n) | id;
      await notPostRun(await recordRound(ctx, x, attempt4, 1), "attempt 4");
      // the same node and sequence with bits above 192 (TrustBoard cannot record it either)
      await notPostRun((1n << 192n) | taskRound(ctx, x, id), "bits above 192");
      await notPostRun(taskRound(ctx, x, id) + (5n << 32n), "attempt 5 (unrecorded: the shape is checked first)");
      // none of those settled it: the real post-run round still does (attempt 3 is the last one served)
      await expect(market.write.settle([id, taskRound(ctx, x, id, "post-run", 3)])).to.be.rejectedWith("TaskMarketNoPostRunVerdict");
      const round = await recordPostRun(ctx, x, id, 1, 3);
      expect(isPostRunRoundOf(round, id, x.id)).to.equal(true);
      await expectEvent(market, await market.write.settle([id, round]), "TaskSettled", { taskId: id, node: x.id, round });
      expect(await f.board.read.verdict([round])).to.deep.include({ verdict: 1 });
    });

    it("refuses a post-run round recorded before the result was submitted", async () => {
      const ctx = await loadFixture(marketFixture);
      const { market, x } = ctx;
      await time.increase(1);
      const { id } = await createTask(ctx);
      // A committee certifies x's post-run round of the task before x submitted anything
      // (honest verifiers never serve it then); it also counts as x's fresh pre-run verdict.
      const early = await recordPostRun(ctx, x, id, 1);
      await time.increase(10);
      await submit(ctx, x, id);
      const t = await market.read.getTask([id]);
      const rec = await ctx.f.board.read.verdict([early]);
      expect(rec.recordedAt).to.be.lessThan(t.submittedAt);
      await expect(market.write.settle([id, early])).to.be.rejectedWith(`TaskMarketVerdictBeforeResult(${id}, ${early}, ${rec.recordedAt}, ${t.submittedAt})`);
      // the next attempt, recorded after the result, settles
      const round = await recordPostRun(ctx, x, id, 1, 1);
      await expectEvent(market, await market.write.settle([id, round]), "TaskSettled", { taskId: id, round });
    });

    it("Untrusted post-run round: the executor is slashed (reward to the creator) and the creator refunded", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, x, creator } = ctx;
      const { id } = await createTask(ctx);
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      const round = await recordPostRun(ctx, x, id, 2);
      const stake = (await f.registry.read.getNode([x.id])).stake;
      const slashed = (stake * 5_000n) / 10_000n;
      const reward = (slashed * 2_000n) / 10_000n;
      const before = await f.token.read.balanceOf([creator.account.address]);
      const hash = await market.write.settle([id, round]);
      await expectEvent(market, hash, "TaskFailed", { taskId: id, node: x.id, creator: creator.account.address, refund: PAYMENT, round, slashed, reward });
      await expectEvent(f.registry, hash, "NodeSlashed", { nodeId: x.id, slashed, reward, beneficiary: creator.account.address });
      expect(await f.registry.read.statusOf([x.id])).to.equal(NodeStatus.Banned);
      expect(await f.token.read.balanceOf([creator.account.address])).to.equal(before + PAYMENT + reward);
      expect(await f.token.read.balanceOf([market.address])).to.equal(0n);
      expect((await market.read.getTask([id])).status).to.equal(Status.Failed);
      await expect(market.write.settle([id, round])).to.be.rejectedWith("TaskMarketInvalidStatus");
    });

    it("Untrusted post-run round on a node that already withdrew: refund without slash", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, x, creator } = ctx;
      const { id } = await createTask(ctx, { deadline: BigInt(await time.latest()) + 30n * 86400n });
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      await f.registry.write.requestExit([x.id], { account: x.operator.account });
      await time.increase(14 * 86400 + 1);
      await f.registry.write.withdraw([x.id], { account: x.operator.account });
      const round = await recordPostRun(ctx, x, id, 2);
      const before = await f.token.read.balanceOf([creator.account.address]);
      const hash = await market.write.settle([id, round]);
      await expectEvent(market, hash, "TaskFailed", { taskId: id, round, refund: PAYMENT, slashed: 0n, reward: 0n });
      expect(await eventsOf(f.registry, hash, "NodeSlashed")).to.have.length(0);
      expect(await f.token.read.balanceOf([creator.account.address])).to.equal(before + PAYMENT);
    });

    it("a failing slash (role revoked) emits SlashFailed and still refunds the creator", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, x, creator } = ctx;
      const { id } = await createTask(ctx);
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      const round = await recordPostRun(ctx, x, id, 2);
      await f.registry.write.revokeRole([ROLES.SLASHER, market.address]);
      const before = await f.token.read.balanceOf([creator.account.address]);
      const hash = await market.write.settle([id, round]);
      const ev = await expectEvent(market, hash, "SlashFailed", { taskId: id, node: x.id });
      // AccessControlUnauthorizedAccount(address,bytes32)
      expect((ev.reason as Hex).slice(0, 10)).to.equal(toFunctionSelector("AccessControlUnauthorizedAccount(address,bytes32)"));
      await expectEvent(market, hash, "TaskFailed", { taskId: id, round, refund: PAYMENT, slashed: 0n, reward: 0n });
      expect(await f.registry.read.statusOf([x.id])).to.equal(NodeStatus.Untrusted);
      expect(await f.token.read.balanceOf([creator.account.address])).to.equal(before + PAYMENT);
    });

    it("a voided post-run round blocks settle; the next attempt settles; or the refund after the deadline", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, x, creator } = ctx;
      const { id, spec } = await createTask(ctx);
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      const round = await recordPostRun(ctx, x, id, 1);
      await f.board.write.grantRole([ROLES.DISPUTES, f.deployer.account.address]);
      await f.board.write.voidVerdict([round]);
      await expect(market.write.settle([id, round])).to.be.rejectedWith(`TaskMarketVerdictVoided(${id}, ${round})`);
      await time.increaseTo(spec.deadline + 1n);
      const snapshot = await takeSnapshot();
      const retry = await recordPostRun(ctx, x, id, 1, 1);
      await expectEvent(market, await market.write.settle([id, retry]), "TaskSettled", { taskId: id, round: retry });
      await snapshot.restore();
      const hash = await market.write.refund([id]);
      await expectEvent(market, hash, "TaskRefunded", { taskId: id, creator: creator.account.address, payment: PAYMENT });
    });

    it("settles after the deadline when the post-run round is the executor's latest verdict (refund refused)", async () => {
      const ctx = await loadFixture(marketFixture);
      const { market, x } = ctx;
      const { id, spec } = await createTask(ctx);
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      const round = await recordPostRun(ctx, x, id, 1);
      await time.increaseTo(spec.deadline + 1n);
      await expect(market.write.refund([id])).to.be.rejectedWith(`TaskMarketVerdictExists(${id}, ${round})`);
      await market.write.settle([id, round]);
      expect((await market.read.getTask([id])).status).to.equal(Status.Settled);
    });
  });

  describe("refund", () => {
    it("returns the payment of an open task after its deadline, to the creator, whoever calls", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market, creator } = ctx;
      const { id, spec } = await createTask(ctx);
      await expect(market.write.refund([7n])).to.be.rejectedWith("TaskMarketUnknownTask");
      await expect(market.write.refund([id])).to.be.rejectedWith("TaskMarketDeadlineNotReached");
      await time.increaseTo(spec.deadline);
      await expect(market.write.refund([id])).to.be.rejectedWith("TaskMarketDeadlineNotReached");
      await time.increase(1);
      const before = await f.token.read.balanceOf([creator.account.address]);
      const hash = await market.write.refund([id], { account: f.operators[2]!.account });
      await expectEvent(market, hash, "TaskRefunded", { taskId: id, creator: creator.account.address, payment: PAYMENT });
      await expectEvent(f.token, hash, "Transfer", { from: market.address, to: creator.account.address, value: PAYMENT });
      expect(await f.token.read.balanceOf([creator.account.address])).to.equal(before + PAYMENT);
      expect((await market.read.getTask([id])).status).to.equal(Status.Refunded);
      expect(await market.read.escrowed()).to.equal(0n);
      await expect(market.write.refund([id])).to.be.rejectedWith("TaskMarketInvalidStatus");
      await expect(market.write.settle([id, taskRound(ctx, ctx.x, id)])).to.be.rejectedWith("TaskMarketInvalidStatus");
    });

    it("refunds a submitted task without a post-run round after the deadline (a scheduled verdict does not count)", async () => {
      const ctx = await loadFixture(marketFixture);
      const { market, x } = ctx;
      const { id, spec } = await createTask(ctx);
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      await expect(market.write.refund([id])).to.be.rejectedWith("TaskMarketDeadlineNotReached");
      await recordVerdict(ctx, x, 1); // scheduled, after the result: settles nothing
      await time.increaseTo(spec.deadline + 1n);
      await expectEvent(market, await market.write.refund([id]), "TaskRefunded", { taskId: id, payment: PAYMENT });
      // a late post-run round changes nothing
      const round = await recordPostRun(ctx, x, id, 1);
      await expect(market.write.settle([id, round])).to.be.rejectedWith("TaskMarketInvalidStatus");
    });

    it("a settle-able round hidden behind a later verdict no longer blocks the refund (documented limit)", async () => {
      const ctx = await loadFixture(marketFixture);
      const { market, x } = ctx;
      const { id, spec } = await createTask(ctx);
      await recordVerdict(ctx, x, 1);
      await submit(ctx, x, id);
      await recordPostRun(ctx, x, id, 1);
      await recordVerdict(ctx, x, 1);
      await time.increaseTo(spec.deadline + 1n);
      await expectEvent(market, await market.write.refund([id]), "TaskRefunded", { taskId: id, payment: PAYMENT });
    });
  });

  describe("governance and construction", () => {
    it("setParams and setVerifier: governor only, bps bounded, events", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market } = ctx;
      await expect(market.write.setParams([100, 100, 10])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      await expect(market.write.setVerifier([zeroAddress])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      await expect(market.write.setParams([10_001, 0, 0], { account: f.governor.account })).to.be.rejectedWith("TaskMarketInvalidParams");
      await expect(market.write.setParams([0, 10_001, 0], { account: f.governor.account })).to.be.rejectedWith("TaskMarketInvalidParams");
      const h = await market.write.setParams([1_000, 0, 3600], { account: f.governor.account });
      await expectEvent(market, h, "ParamsChanged", { slashBps: 1_000, rewardBps: 0, banPeriod: 3600 });
      expect(await market.read.params()).to.deep.equal([1_000, 0, 3600]);
      const v = f.deployment.contracts.VRFVerifier!;
      const h2 = await market.write.setVerifier([zeroAddress], { account: f.governor.account });
      await expectEvent(market, h2, "VerifierChanged", { oldVerifier: v, newVerifier: zeroAddress });
      // the new penalty applies: 10% slash, nothing to the creator
      await market.write.setVerifier([v], { account: f.governor.account });
      const { id } = await createTask(ctx);
      await recordVerdict(ctx, ctx.x, 1);
      await submit(ctx, ctx.x, id);
      const round = await recordPostRun(ctx, ctx.x, id, 2);
      const stake = (await f.registry.read.getNode([ctx.x.id])).stake;
      await expectEvent(market, await market.write.settle([id, round]), "TaskFailed", { slashed: stake / 10n, reward: 0n });
    });

    it("is wired by deployTrustMesh: SLASHER_ROLE on the registry, same clock/board/token/verifier", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f, market } = ctx;
      const c = f.deployment.contracts;
      expect(await f.registry.read.hasRole([ROLES.SLASHER, market.address])).to.equal(true);
      expect((await market.read.token()).toLowerCase()).to.equal(c.TrustToken.toLowerCase());
      expect((await market.read.registry()).toLowerCase()).to.equal(c.NodeRegistry.toLowerCase());
      expect((await market.read.clock()).toLowerCase()).to.equal(c.EpochClock.toLowerCase());
      expect((await market.read.board()).toLowerCase()).to.equal(c.TrustBoard.toLowerCase());
      expect((await market.read.verifier()).toLowerCase()).to.equal(c.VRFVerifier!.toLowerCase());
      expect(await market.read.hasRole([ROLES.GOVERNOR, f.governor.account.address])).to.equal(true);
      expect(await market.read.EXECUTOR_COMMITTEE()).to.equal(2n);
      await expect(market.read.executorAlpha([1n])).to.be.rejectedWith("TaskMarketUnknownTask");
      expect((await market.read.getTask([1n])).status).to.equal(Status.None);
    });

    it("the constructor rejects zero addresses", async () => {
      const ctx = await loadFixture(marketFixture);
      const { f } = ctx;
      const c = f.deployment.contracts;
      const me = f.deployer.account.address;
      const params = { slashBps: 1, rewardBps: 1, banPeriod: 1 };
      const args: unknown[] = [c.TrustToken, c.NodeRegistry, c.EpochClock, c.TrustBoard, zeroAddress, params, me, me];
      for (const i of [0, 1, 2, 3, 6, 7]) {
        const a = [...args];
        a[i] = zeroAddress;
        await expect(hre.viem.deployContract("TaskMarket", a), `arg ${i}`).to.be.rejectedWith("TaskMarketZeroAddress");
      }
      const badParams = [...args];
      badParams[5] = { ...params, slashBps: 20_000 };
      await expect(hre.viem.deployContract("TaskMarket", badParams)).to.be.rejectedWith("TaskMarketInvalidParams");
      // zero verifier is allowed (submitResult is disabled until one is set)
      const { address } = await hre.viem.deployContract("TaskMarket", args);
      const m = await hre.viem.getContractAt("TaskMarket", address);
      expect(await m.read.verifier()).to.equal(zeroAddress);
    });
  });
});

const INPUT: Hex = "0x01551220d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4";
