/// <reference types="chai-as-promised" />
import hre from "hardhat";
import { existsSync } from "node:fs";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { bytesToHex, getContract, hexToBytes, keccak256, toHex, zeroAddress, type Hex } from "viem";
import doubleJson from "../../artifacts/contracts/test/VRFVerifierTestDouble.sol/VRFVerifierTestDouble.json" with { type: "json" };
import type { VRFVerifierTestDouble$Type } from "../../artifacts/contracts/test/VRFVerifierTestDouble.sol/VRFVerifierTestDouble.js";
import { NodeStatus, Role, sortitionAlpha } from "../../offchain/core/protocol.js";
import { computeFastVerifyParams, prove, proofToHash } from "../../offchain/core/vrf/index.js";
import {
  certificate,
  deployFixture,
  expectEvent,
  localWallet,
  makeVote,
  MIN_STAKE,
  registerNode,
  signClaim,
  signVote,
  type Fixture,
} from "./fixture.js";

const NO_OPENING = { signers: [], vrfOutputs: [] } as const;
const NO_HELPERS = { uPoint: [0n, 0n], vComponents: [0n, 0n, 0n, 0n] } as const;
const MAX = (1n << 256n) - 1n;
const Kind = { Equivocation: 1, VrfFraud: 2 } as const;
const Fraud = { Equivocation: 1, InvalidProof: 2, AboveThreshold: 3, OutputMismatch: 4 } as const;

async function setup() {
  const f = await deployFixture();
  const committee = [];
  for (let i = 1; i <= 7; i++) committee.push(await registerNode(f, i, i - 1));
  const target = await registerNode(f, 8, 7);
  const epoch = await f.clock.read.currentEpoch();
  const deployed = await hre.viem.deployContract("VRFVerifierTestDouble", []);
  // hardhat-viem's overloads do not carry this ABI's types; bind it with the generated type.
  const double = getContract({
    address: deployed.address,
    abi: doubleJson.abi as VRFVerifierTestDouble$Type["abi"],
    client: { public: f.publicClient, wallet: f.deployer },
  });
  return { f, committee, target, epoch, double, disputer: f.operators[9]! };
}

async function useDouble(f: Fixture, double: { address: Hex }) {
  await f.disputes.write.setVerifier([double.address], { account: f.governor.account });
}

describe("Disputes", () => {
  describe("equivocation", () => {
    it("slashes, rewards the disputer, zeroes reputation, bans, and voids the verdict the signer took part in", async () => {
      const { f, committee, target, epoch, disputer } = await loadFixture(setup);
      const gws = committee.map((n) => n.keys.gateway);
      const vote = makeVote(epoch, target.id);
      const c = await certificate(f, gws.slice(0, 5), vote);
      await f.board.write.submitCertificate([vote, c.signatures, c.vrfOutputs]);
      const cheat = c.signers[0]!;
      const cheatNode = await f.registry.read.nodeOfGateway([cheat.address]);
      const other = { ...vote, verdict: 2 };
      const sa = c.signatures[0]!;
      const sb = await signVote(f, cheat, other);
      const before = await f.token.read.balanceOf([disputer.account.address]);
      const opening = { signers: c.signers.map((s) => s.address), vrfOutputs: c.vrfOutputs };
      const hash = await f.disputes.write.disputeEquivocation([vote, sa, other, sb, opening], { account: disputer.account });
      const slashed = MIN_STAKE / 2n;
      const reward = slashed / 5n;
      await expectEvent(f.disputes, hash, "DisputeResolved", {
        round: vote.round, node: cheatNode, signer: cheat.address, kind: Kind.Equivocation, fraud: Fraud.Equivocation,
        disputer: disputer.account.address, slashed, reward, verdictVoided: true,
      });
      await expectEvent(f.board, hash, "VerdictVoided", { round: vote.round });
      await expectEvent(f.registry, hash, "NodeSlashed", { nodeId: cheatNode, slashed, reward });
      expect(await f.token.read.balanceOf([disputer.account.address])).to.equal(before + reward);
      expect(await f.registry.read.statusOf([cheatNode])).to.equal(NodeStatus.Banned);
      expect(await f.registry.read.statusOf([target.id])).to.equal(NodeStatus.Registered);
      expect(await f.reputation.read.score([cheatNode])).to.equal(0n);
      expect(await f.disputes.read.isPunished([cheat.address, vote.round, Kind.Equivocation])).to.equal(true);
      await expect(f.disputes.write.disputeEquivocation([vote, sa, other, sb, opening])).to.be.rejectedWith("DisputesAlreadyPunished");
    });

    it("rejects non-disputes with named errors", async () => {
      const { f, committee, target, epoch } = await loadFixture(setup);
      const g = committee[0]!.keys.gateway;
      const a = makeVote(epoch, target.id);
      const b = { ...a, score: 1 };
      const sa = await signVote(f, g, a);
      const sb = await signVote(f, g, b);
      const d = (x = a, y = b, s1: Hex = sa, s2: Hex = sb) => f.disputes.write.disputeEquivocation([x, s1, y, s2, NO_OPENING]);
      await expect(d(a, { ...b, round: a.round + 1n })).to.be.rejectedWith("DisputesRoundMismatch");
      await expect(d(a, a, sa, sa)).to.be.rejectedWith("DisputesNotConflicting");
      await expect(d(a, b, sa, "0x00")).to.be.rejectedWith("DisputesBadSignature");
      await expect(d(a, b, sa, await signVote(f, committee[1]!.keys.gateway, b))).to.be.rejectedWith("DisputesSignerMismatch");
      const stranger = (await import("viem/accounts")).privateKeyToAccount(keccak256("0x99"));
      await expect(d(a, b, await signVote(f, stranger, a), await signVote(f, stranger, b))).to.be.rejectedWith("DisputesUnknownSigner");
      const fut = makeVote(epoch + 5n, target.id);
      const fut2 = { ...fut, score: 3 };
      await expect(d(fut, fut2, await signVote(f, g, fut), await signVote(f, g, fut2))).to.be.rejectedWith("DisputesEpochNotOpen");
      // signatures for another chain do not recover to the signer
      await expect(d(a, b, await signVote(f, g, a, 1), sb)).to.be.rejectedWith(/DisputesSignerMismatch|DisputesUnknownSigner/);
      await f.disputes.write.setParams([5000, 2000, 100, 0n], { account: f.governor.account });
      await time.increase(3600);
      await f.clock.write.openEpoch();
      await expect(d()).to.be.rejectedWith("DisputesWindowClosed");
    });

    it("a verdict past its challenge window stays; the signer is still slashed", async () => {
      const { f, committee, target, epoch } = await loadFixture(setup);
      const vote = makeVote(epoch, target.id, 0n, { verdict: 2 });
      const g = committee[2]!.keys.gateway;
      for (const n of committee.slice(0, 5)) await f.board.write.submitVote([vote, await signVote(f, n.keys.gateway, vote), keccak256(n.keys.gateway.address)]);
      await time.increase(86400);
      const other = { ...vote, verdict: 1 };
      const hash = await f.disputes.write.disputeEquivocation([vote, await signVote(f, g, vote), other, await signVote(f, g, other), NO_OPENING]);
      await expectEvent(f.disputes, hash, "DisputeResolved", { verdictVoided: false, kind: Kind.Equivocation });
      expect(await f.board.read.isFinal([vote.round])).to.equal(true);
    });
  });

  describe("VRF fraud (scripted verifier double: Disputes' own branching)", () => {
    async function claimBy(f: Fixture, i: number, committee: Awaited<ReturnType<typeof setup>>["committee"], round: bigint, proof: Hex, role: number = Role.Verifier) {
      const claim = { round, role, proof };
      return { claim, sig: await signClaim(f, committee[i]!.keys.gateway, claim) };
    }
    const PROOF81 = toHex(new Uint8Array(81).fill(7));

    it("invalid proof: wrong length, undecodable, or rejected by the full verify", async () => {
      const { f, committee, target, epoch, double } = await loadFixture(setup);
      await useDouble(f, double);
      const round = makeVote(epoch, target.id).round;
      const short = await claimBy(f, 0, committee, round, "0x1234");
      const h1 = await f.disputes.write.disputeVrfFraud([short.claim, short.sig, NO_HELPERS, NO_OPENING]);
      await expectEvent(f.disputes, h1, "DisputeResolved", { kind: Kind.VrfFraud, fraud: Fraud.InvalidProof });
      await double.write.script([false, false, true, false, toHex(0n, { size: 32 })]);
      const c2 = await claimBy(f, 1, committee, round, PROOF81);
      await expectEvent(f.disputes, await f.disputes.write.disputeVrfFraud([c2.claim, c2.sig, NO_HELPERS, NO_OPENING]), "DisputeResolved", { fraud: Fraud.InvalidProof });
      await double.write.script([false, false, false, true, toHex(0n, { size: 32 })]);
      const c3 = await claimBy(f, 2, committee, round, PROOF81);
      await expectEvent(f.disputes, await f.disputes.write.disputeVrfFraud([c3.claim, c3.sig, NO_HELPERS, NO_OPENING]), "DisputeResolved", { fraud: Fraud.InvalidProof });
      expect(await f.registry.read.statusOf([committee[2]!.id])).to.equal(NodeStatus.Banned);
      await expect(f.disputes.write.disputeVrfFraud([c3.claim, c3.sig, NO_HELPERS, NO_OPENING])).to.be.rejectedWith("DisputesAlreadyPunished");
    });

    it("valid proof above the threshold, or not matching the self-committed output", async () => {
      const { f, committee, target, epoch, double } = await loadFixture(setup);
      await useDouble(f, double);
      const round = makeVote(epoch, target.id).round;
      await double.write.script([true, true, false, false, toHex(MAX, { size: 32 })]);
      const c1 = await claimBy(f, 0, committee, round, PROOF81);
      await expectEvent(f.disputes, await f.disputes.write.disputeVrfFraud([c1.claim, c1.sig, NO_HELPERS, NO_OPENING]), "DisputeResolved", { fraud: Fraud.AboveThreshold });
      // committee[1] casts its own vote with output X; its claim proves output Y
      const vote = makeVote(epoch, target.id);
      const w = await localWallet(committee[1]!.keys.gateway);
      await w.writeContract({ address: f.board.address, abi: f.board.abi, functionName: "castVote", args: [vote, keccak256("0x01")] });
      await double.write.script([true, true, false, false, keccak256("0x02")]);
      const c2 = await claimBy(f, 1, committee, round, PROOF81);
      await expectEvent(f.disputes, await f.disputes.write.disputeVrfFraud([c2.claim, c2.sig, NO_HELPERS, NO_OPENING]), "DisputeResolved", { fraud: Fraud.OutputMismatch });
      // a valid, selected, consistent claim is no fraud
      const c3 = await claimBy(f, 2, committee, round, PROOF81);
      await expect(f.disputes.write.disputeVrfFraud([c3.claim, c3.sig, NO_HELPERS, NO_OPENING])).to.be.rejectedWith("DisputesNoFraud");
      // fastVerify false but the full verify accepts: the helpers were wrong
      await double.write.script([true, false, false, false, keccak256("0x02")]);
      await expect(f.disputes.write.disputeVrfFraud([c3.claim, c3.sig, NO_HELPERS, NO_OPENING])).to.be.rejectedWith("DisputesBadHelpers");
    });

    it("rejects wrong roles, missing verifier, starved calls, unknown signers; governance setters", async () => {
      const { f, committee, target, epoch, double } = await loadFixture(setup);
      await useDouble(f, double);
      const round = makeVote(epoch, target.id).round;
      const wrong = await claimBy(f, 0, committee, round, PROOF81, Role.Executor);
      await expect(f.disputes.write.disputeVrfFraud([wrong.claim, wrong.sig, NO_HELPERS, NO_OPENING])).to.be.rejectedWith("DisputesWrongRole");
      await double.write.script([false, false, false, false, toHex(0n, { size: 32 })]);
      await double.write.setBurnGasInVerify([true]);
      const c = await claimBy(f, 0, committee, round, PROOF81);
      await expect(f.disputes.write.disputeVrfFraud([c.claim, c.sig, NO_HELPERS, NO_OPENING], { gas: 400_000n })).to.be.rejectedWith("DisputesInsufficientGas");
      const stranger = (await import("viem/accounts")).privateKeyToAccount(keccak256("0x98"));
      const claim = { round, role: Role.Verifier, proof: PROOF81 };
      await expect(f.disputes.write.disputeVrfFraud([claim, await signClaim(f, stranger, claim), NO_HELPERS, NO_OPENING])).to.be.rejectedWith("DisputesUnknownSigner");
      await expect(f.disputes.write.disputeVrfFraud([claim, "0x01", NO_HELPERS, NO_OPENING])).to.be.rejectedWith("DisputesBadSignature");
      await expect(f.disputes.write.setVerifier([zeroAddress])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      const hv = await f.disputes.write.setVerifier([zeroAddress], { account: f.governor.account });
      await expectEvent(f.disputes, hv, "VerifierChanged", { oldVerifier: double.address, newVerifier: zeroAddress });
      await expect(f.disputes.write.disputeVrfFraud([c.claim, c.sig, NO_HELPERS, NO_OPENING])).to.be.rejectedWith("DisputesNoVerifier");
      await expect(f.disputes.write.setParams([10_001, 0, 1, 1n], { account: f.governor.account })).to.be.rejectedWith("DisputesInvalidParams");
      await expect(f.disputes.write.setParams([1, 1, 1, 1n])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      const hp = await f.disputes.write.setParams([100, 50, 10, 3n], { account: f.governor.account });
      await expectEvent(f.disputes, hp, "ParamsChanged", { slashBps: 100, rewardBps: 50, banPeriod: 10, windowEpochs: 3n });
    });
  });

  const realVerifier = existsSync(new URL("../../contracts/vrf/VRFVerifier.sol", import.meta.url));
  describe("VRF fraud against the real ECVRF verifier (contracts/vrf/VRFVerifier.sol)", () => {
    before(function () {
      // Written to run once the verifier source exists; it does in this checkout.
      expect(realVerifier, "contracts/vrf/VRFVerifier.sol is part of the repository").to.equal(true);
    });

    it("a valid, selected proof is no fraud; a forged proof and a mismatched self-commitment are", async () => {
      const { f, committee, target, epoch } = await loadFixture(setup);
      expect((await f.disputes.read.verifier()).toLowerCase()).to.equal(f.deployment.contracts.VRFVerifier?.toLowerCase());
      const round = makeVote(epoch, target.id).round;
      const seed = await f.clock.read.epochSeed([epoch]);
      const alpha = sortitionAlpha(hexToBytes(seed), round, Role.Verifier);
      const n0 = committee[0]!;
      const proof = prove(n0.keys.vrfSecret, alpha);
      const helpers = computeFastVerifyParams(n0.keys.vrfPublicKey, proof, alpha);
      const claim = { round, role: Role.Verifier, proof: bytesToHex(proof) };
      await expect(f.disputes.write.disputeVrfFraud([claim, await signClaim(f, n0.keys.gateway, claim), helpers, NO_OPENING])).to.be.rejectedWith("DisputesNoFraud");

      // node 1's key cannot have produced node 0's proof: invalid for node 1 (full verify)
      const n1 = committee[1]!;
      const forged = await signClaim(f, n1.keys.gateway, claim);
      const h = await f.disputes.write.disputeVrfFraud([claim, forged, helpers, NO_OPENING], { gas: 15_000_000n });
      await expectEvent(f.disputes, h, "DisputeResolved", { signer: n1.keys.gateway.address, fraud: Fraud.InvalidProof });

      // node 2 commits an output on the board that is not its VRF output
      const n2 = committee[2]!;
      const w = await localWallet(n2.keys.gateway);
      await w.writeContract({ address: f.board.address, abi: f.board.abi, functionName: "castVote", args: [makeVote(epoch, target.id), keccak256("0x05")] });
      const p2 = prove(n2.keys.vrfSecret, alpha);
      const c2 = { round, role: Role.Verifier, proof: bytesToHex(p2) };
      expect(bytesToHex(proofToHash(p2))).to.not.equal(keccak256("0x05"));
      const h2 = await f.disputes.write.disputeVrfFraud([c2, await signClaim(f, n2.keys.gateway, c2), computeFastVerifyParams(n2.keys.vrfPublicKey, p2, alpha), NO_OPENING]);
      await expectEvent(f.disputes, h2, "DisputeResolved", { signer: n2.keys.gateway.address, fraud: Fraud.OutputMismatch });
    });
  });
});
