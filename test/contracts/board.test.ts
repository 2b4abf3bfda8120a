/// <reference types="chai-as-promised" />
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256, toHex } from "viem";
import { NodeStatus, encodeRoundId } from "../../offchain/core/protocol.js";
import {
  certificate,
  deployFixture,
  eventsOf,
  expectEvent,
  localWallet,
  makeVote,
  OTHER_CID,
  POLICY_CID,
  registerNode,
  signVote,
} from "./fixture.js";

const MAX = (1n << 256n) - 1n;

/** Seven committee nodes (Registered: bootstrap) and a target node 8. */
async function committeeFixture() {
  const f = await deployFixture();
  const committee = [];
  for (let i = 1; i <= 7; i++) committee.push(await registerNode(f, i, i - 1));
  const target = await registerNode(f, 8, 7);
  const epoch = await f.clock.read.currentEpoch();
  return { f, committee, target, epoch };
}

describe("TrustBoard", () => {
  describe("submitCertificate", () => {
    it("records a verdict from 5 sorted signatures, updates status and reputation, emits VerdictRecorded", async () => {
      const { f, committee, target, epoch } = await loadFixture(committeeFixture);
      const vote = makeVote(epoch, target.id);
      const c = await certificate(f, committee.slice(0, 5).map((n) => n.keys.gateway), vote);
      const hash = await f.board.write.submitCertificate([vote, c.signatures, c.vrfOutputs]);
      const ev = await expectEvent(f.board, hash, "VerdictRecorded", {
        round: vote.round,
        node: target.id,
        verdict: 1,
        score: 90,
        evidenceCid: vote.evidenceCid,
        policyCid: POLICY_CID,
      });
      expect((ev.signers as string[]).map((a) => a.toLowerCase())).to.deep.equal(c.signers.map((s) => s.address.toLowerCase()));
      expect(ev.vrfOutputs).to.deep.equal(c.vrfOutputs);
      await expectEvent(f.registry, hash, "StatusChanged", { nodeId: target.id, oldStatus: NodeStatus.Registered, newStatus: NodeStatus.Trusted });
      await expectEvent(f.reputation, hash, "ScoreChanged", { nodeId: target.id, oldScore: 0n, newScore: 10_000n });
      const rec = await f.board.read.verdict([vote.round]);
      expect(rec.verdict).to.equal(1);
      expect(rec.score).to.equal(90);
      expect(rec.reputationDelta).to.equal(10_000);
      expect(await f.board.read.verdictCount()).to.equal(1n);
      expect(await f.board.read.nodeHistory([target.id])).to.deep.equal([1n, vote.round]);
      expect(await f.board.read.isFinal([vote.round])).to.equal(false);
      await time.increase(86400);
      expect(await f.board.read.isFinal([vote.round])).to.equal(true);
      // participated: opening of the commitment
      const signerAddrs = c.signers.map((s) => s.address);
      expect(await f.board.read.participated([vote.round, signerAddrs[0]!, signerAddrs, c.vrfOutputs])).to.equal(true);
      expect(await f.board.read.participated([vote.round, committee[6]!.keys.gateway.address, signerAddrs, c.vrfOutputs])).to.equal(false);
      expect(await f.board.read.participated([vote.round, signerAddrs[0]!, signerAddrs, c.vrfOutputs.slice().reverse()])).to.equal(false);
    });

    it("rejects duplicates, bad rounds, policies, signers and outputs with named errors", async () => {
      const { f, committee, target, epoch } = await loadFixture(committeeFixture);
      const gws = committee.map((n) => n.keys.gateway);
      const vote = makeVote(epoch, target.id);
      const c = await certificate(f, gws.slice(0, 5), vote);
      const submit = (v = vote, s = c.signatures, o = c.vrfOutputs) => f.board.write.submitCertificate([v, s, o]);

      await expect(submit(vote, c.signatures.slice(0, 4), c.vrfOutputs.slice(0, 4))).to.be.rejectedWith("TrustBoardNotEnoughSignatures");
      await expect(submit(vote, c.signatures, c.vrfOutputs.slice(0, 4))).to.be.rejectedWith("TrustBoardLengthMismatch");
      await expect(submit(vote, [c.signatures[0]!, c.signatures[0]!, ...c.signatures.slice(2)])).to.be.rejectedWith("TrustBoardSignersNotSorted");
      await expect(submit(vote, [...c.signatures.slice(0, 4), "0x1234"])).to.be.rejectedWith("TrustBoardInvalidSignature");
      const hi = [...c.vrfOutputs];
      hi[2] = toHex(MAX, { size: 32 });
      await expect(submit(vote, c.signatures, hi)).to.be.rejectedWith("TrustBoardOutputAboveThreshold");
      const wrongNode = { ...vote, node: 3n };
      await expect(submit(wrongNode)).to.be.rejectedWith("TrustBoardNodeMismatch");
      await expect(submit({ ...vote, verdict: 3 })).to.be.rejectedWith("TrustBoardInvalidVerdict");
      await expect(submit({ ...vote, round: vote.round | (1n << 200n) })).to.be.rejectedWith("RoundIdOutOfRange");
      const future = makeVote(epoch + 1n, target.id);
      await expect(submit(future)).to.be.rejectedWith("TrustBoardEpochNotOpen");
      const other = makeVote(epoch, target.id, 0n, { policyCid: OTHER_CID });
      const co = await certificate(f, gws.slice(0, 5), other);
      await expect(submit(other, co.signatures)).to.be.rejectedWith("TrustBoardPolicyMismatch");
      // the target may not sign for itself
      const self = await certificate(f, [...gws.slice(0, 4), target.keys.gateway], vote);
      await expect(submit(vote, self.signatures, self.vrfOutputs)).to.be.rejectedWith("TrustBoardSignerNotEligible");

      await submit();
      await expect(submit()).to.be.rejectedWith("TrustBoardRoundAlreadyRecorded");

      // late: more than maxRoundAge (2) epochs ago
      const late = makeVote(epoch, target.id, 9n);
      const cl = await certificate(f, gws.slice(0, 5), late);
      for (let i = 0; i < 3; i++) {
        await time.increase(3600);
        await f.clock.write.openEpoch();
      }
      await expect(submit(late, cl.signatures, cl.vrfOutputs)).to.be.rejectedWith("TrustBoardRoundTooLate");
    });

    it("the per-epoch round-check cache follows policy upgrades, in newer and older epochs", async () => {
      const { f, committee, target, epoch } = await loadFixture(committeeFixture);
      const gws = committee.map((n) => n.keys.gateway).slice(0, 5);
      const submit = async (e: bigint, seq: bigint, policyCid: `0x${string}`) => {
        const v = makeVote(e, target.id, seq, { policyCid });
        const c = await certificate(f, gws, v);
        return f.board.write.submitCertificate([v, c.signatures, c.vrfOutputs]);
      };
      await f.policy.write.scheduleUpgrade([OTHER_CID, epoch + 1n], { account: f.governor.account });
      await submit(epoch, 0n, POLICY_CID); // fills the cache for `epoch`
      await expect(submit(epoch, 1n, OTHER_CID)).to.be.rejectedWith("TrustBoardPolicyMismatch"); // cache hit
      await time.increase(3600);
      await f.clock.write.openEpoch();
      await expect(submit(epoch + 1n, 0n, POLICY_CID)).to.be.rejectedWith("TrustBoardPolicyMismatch"); // miss
      await submit(epoch + 1n, 1n, OTHER_CID); // fills the cache for epoch + 1
      // an older epoch misses the cache and keeps its own policy
      await expect(submit(epoch, 2n, OTHER_CID)).to.be.rejectedWith("TrustBoardPolicyMismatch");
      await submit(epoch, 3n, POLICY_CID);
      // and did not evict the newer epoch
      await expect(submit(epoch + 1n, 2n, POLICY_CID)).to.be.rejectedWith("TrustBoardPolicyMismatch");
      await submit(epoch + 1n, 3n, OTHER_CID);
      expect(await f.board.read.verdictCount()).to.equal(4n);
    });

    it("after bootstrap only Trusted signers count; a replay on another chainId fails", async () => {
      const { f, committee, target, epoch } = await loadFixture(committeeFixture);
      const gws = committee.map((n) => n.keys.gateway);
      // make committee nodes 1..5 Trusted via verdicts signed by the others (bootstrap)
      let seq = 0n;
      for (const n of committee.slice(0, 5)) {
        const signers = gws.filter((g) => g.address !== n.keys.gateway.address).slice(0, 5);
        const v = makeVote(epoch, n.id, seq++);
        const c = await certificate(f, signers, v);
        await f.board.write.submitCertificate([v, c.signatures, c.vrfOutputs]);
      }
      expect(await f.registry.read.eligibleVerifierCount()).to.equal(5n);
      const vote = makeVote(epoch, target.id, 1n);
      const withRegistered = await certificate(f, [gws[0]!, gws[1]!, gws[2]!, gws[3]!, gws[5]!], vote);
      await expect(f.board.write.submitCertificate([vote, withRegistered.signatures, withRegistered.vrfOutputs])).to.be.rejectedWith("TrustBoardSignerNotEligible");
      // signatures made for chain 1 recover to other addresses here
      const sorted = [...gws.slice(0, 5)].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
      const foreign = await Promise.all(sorted.map((s) => signVote(f, s, vote, 1)));
      const outs = sorted.map((_, i) => keccak256(toHex(i)));
      await expect(f.board.write.submitCertificate([vote, foreign, outs])).to.be.rejectedWith(/TrustBoardSignersNotSorted|TrustBoardSignerNotEligible/);
      const good = await certificate(f, gws.slice(0, 5), vote);
      await f.board.write.submitCertificate([vote, good.signatures, good.vrfOutputs]);
    });
  });

  describe("single votes", () => {
    it("relayed votes and castVote count per vote hash; quorum records the verdict", async () => {
      const { f, committee, target, epoch } = await loadFixture(committeeFixture);
      const vote = makeVote(epoch, target.id, 5n, { verdict: 2, score: 10 });
      const h = await f.board.read.voteHash([vote]);
      for (let i = 0; i < 4; i++) {
        const g = committee[i]!.keys.gateway;
        const out = keccak256(toHex(`o${i}`));
        const hash = await f.board.write.submitVote([vote, await signVote(f, g, vote), out]);
        await expectEvent(f.board, hash, "VoteCounted", { round: vote.round, signer: g.address, voteHash: h, count: BigInt(i + 1), vrfOutput: out, self: false });
        expect(await eventsOf(f.board, hash, "VerdictRecorded")).to.have.length(0);
      }
      await expect(f.board.write.submitVote([vote, await signVote(f, committee[0]!.keys.gateway, vote), keccak256("0x01")])).to.be.rejectedWith("TrustBoardAlreadyVoted");
      await expect(f.board.write.submitVote([vote, "0x00", keccak256("0x01")])).to.be.rejectedWith("TrustBoardInvalidSignature");
      // the fifth verifier sends its own vote
      const g5 = committee[4]!.keys.gateway;
      const w = await localWallet(g5);
      const own = keccak256(toHex("own"));
      const hash = await w.writeContract({ address: f.board.address, abi: f.board.abi, functionName: "castVote", args: [vote, own] });
      await expectEvent(f.board, hash, "VoteCounted", { signer: g5.address, count: 5n, self: true });
      await expectEvent(f.board, hash, "VerdictRecorded", { round: vote.round, node: target.id, verdict: 2, score: 10 });
      expect(await f.registry.read.statusOf([target.id])).to.equal(NodeStatus.Untrusted);
      expect((await f.board.read.votesFor([vote.round, h])).length).to.equal(5);
      expect(await f.board.read.selfCommittedOutput([vote.round, g5.address])).to.deep.equal([true, own]);
      expect((await f.board.read.selfCommittedOutput([vote.round, committee[0]!.keys.gateway.address]))[0]).to.equal(false);
      expect(await f.board.read.participated([vote.round, g5.address, [], []])).to.equal(true);
      expect(await f.board.read.participated([vote.round, committee[6]!.keys.gateway.address, [], []])).to.equal(false);
      const rec = await f.board.read.verdict([vote.round]);
      expect(rec.flags).to.equal(2);
      // an ineligible sender and an output above the threshold
      await expect(f.board.write.castVote([makeVote(epoch, target.id, 6n), own])).to.be.rejectedWith("TrustBoardSignerNotEligible");
      await expect(f.board.write.submitVote([vote, await signVote(f, committee[5]!.keys.gateway, vote), own])).to.be.rejectedWith("TrustBoardRoundAlreadyRecorded");
      const v2 = makeVote(epoch, target.id, 7n);
      await expect(f.board.write.submitVote([v2, await signVote(f, committee[5]!.keys.gateway, v2), toHex(MAX, { size: 32 })])).to.be.rejectedWith("TrustBoardOutputAboveThreshold");
    });
  });

  describe("voidVerdict and parameters", () => {
    it("voids within the challenge window only (DISPUTES_ROLE), reverting status and reputation", async () => {
      const { f, committee, target, epoch } = await loadFixture(committeeFixture);
      const vote = makeVote(epoch, target.id);
      const c = await certificate(f, committee.slice(0, 5).map((n) => n.keys.gateway), vote);
      await f.board.write.submitCertificate([vote, c.signatures, c.vrfOutputs]);
      await expect(f.board.write.voidVerdict([vote.round])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      const DISPUTES = await f.board.read.DISPUTES_ROLE();
      await f.board.write.grantRole([DISPUTES, f.deployer.account.address]);
      await expect(f.board.write.voidVerdict([vote.round + 1n])).to.be.rejectedWith("TrustBoardUnknownRound");
      const hash = await f.board.write.voidVerdict([vote.round]);
      await expectEvent(f.board, hash, "VerdictVoided", { round: vote.round, node: target.id, reputationDelta: 10_000n });
      await expectEvent(f.registry, hash, "StatusChanged", { oldStatus: NodeStatus.Trusted, newStatus: NodeStatus.Registered });
      await expectEvent(f.reputation, hash, "ScoreChanged", { oldScore: 10_000n, newScore: 0n, reason: 3 });
      await expect(f.board.write.voidVerdict([vote.round])).to.be.rejectedWith("TrustBoardAlreadyVoided");
      expect(await f.board.read.isFinal([vote.round])).to.equal(false);
      const v2 = makeVote(epoch, target.id, 1n);
      const c2 = await certificate(f, committee.slice(0, 5).map((n) => n.keys.gateway), v2);
      await f.board.write.submitCertificate([v2, c2.signatures, c2.vrfOutputs]);
      await time.increase(86400);
      await expect(f.board.write.voidVerdict([v2.round])).to.be.rejectedWith("TrustBoardChallengeWindowClosed");
    });

    it("setParams is GOVERNOR only, validated, and emits ParamsChanged", async () => {
      const { f } = await loadFixture(committeeFixture);
      await expect(f.board.write.setParams([3, 10, 1n])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      await expect(f.board.write.setParams([0, 10, 1n], { account: f.governor.account })).to.be.rejectedWith("TrustBoardInvalidParams");
      const hash = await f.board.write.setParams([3, 10, 1n], { account: f.governor.account });
      await expectEvent(f.board, hash, "ParamsChanged", { quorum: 3, challengeWindow: 10, maxRoundAge: 1n });
      expect(await f.board.read.params()).to.deep.equal([3, 10, 1n]);
    });

    it("digests match offchain/chain/eip712.ts and the round id encoding matches protocol.ts", async () => {
      const { f, target, epoch } = await loadFixture(committeeFixture);
      const { hashTypedData } = await import("viem");
      const { trustBoardDomain, voteTypes, vrfClaimTypes } = await import("../../offchain/chain/eip712.js");
      const vote = makeVote(epoch, target.id, 3n);
      expect(vote.round).to.equal(encodeRoundId({ epoch, node: target.id, sequence: 3n }));
      const domain = trustBoardDomain(f.chainId, f.board.address);
      expect(await f.board.read.voteDigest([vote])).to.equal(hashTypedData({ domain, types: voteTypes, primaryType: "Vote", message: vote }));
      const claim = { round: vote.round, role: 1, proof: "0xabcdef" as const };
      expect(await f.board.read.vrfClaimDigest([claim])).to.equal(hashTypedData({ domain, types: vrfClaimTypes, primaryType: "VrfClaim", message: claim }));
    });
  });
});
