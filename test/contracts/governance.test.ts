/// <reference types="chai-as-promised" />
import hre from "hardhat";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { encodeAbiParameters, keccak256, zeroAddress } from "viem";
import { ROLES } from "../../offchain/chain/deploy.js";
import { deployFixture, expectEvent, OTHER_CID, POLICY_CID, registerNode } from "./fixture.js";

const MAX = (1n << 256n) - 1n;

describe("EpochClock", () => {
  it("opens epoch 1 at deployment; openEpoch after the duration with the chained seed and threshold", async () => {
    const f = await loadFixture(deployFixture);
    expect(await f.clock.read.currentEpoch()).to.equal(1n);
    expect(await f.clock.read.epochThreshold([1n])).to.equal(MAX);
    await expect(f.clock.write.openEpoch()).to.be.rejectedWith("EpochClockTooEarly");
    const at = await f.clock.read.nextEpochAt();
    expect(at).to.equal((await f.clock.read.epochStart([1n])) + 3600n);
    await time.increaseTo(at);
    const prev = await f.clock.read.epochSeed([1n]);
    const hash = await f.clock.write.openEpoch();
    const block = await f.publicClient.getBlock({ blockNumber: (await f.publicClient.getTransactionReceipt({ hash })).blockNumber });
    const seed = keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }, { type: "uint64" }], [BigInt(block.mixHash), prev, 2n]));
    await expectEvent(f.clock, hash, "EpochOpened", { epoch: 2n, seed, threshold: MAX, eligibleCount: 0n });
    expect(await f.clock.read.epochSeed([2n])).to.equal(seed);
    expect(await f.clock.read.currentEpoch()).to.equal(2n);
  });

  it("threshold = committee * (2^256-1) / eligible, saturating", async () => {
    const f = await loadFixture(deployFixture);
    expect(await f.clock.read.thresholdFor([7n, 0n])).to.equal(MAX);
    expect(await f.clock.read.thresholdFor([7n, 7n])).to.equal(MAX);
    expect(await f.clock.read.thresholdFor([7n, 14n])).to.equal(MAX / 2n);
    expect(await f.clock.read.thresholdFor([1n, 3n])).to.equal(MAX / 3n);
  });

  it("governor sets duration and committee size, validated, with events", async () => {
    const f = await loadFixture(deployFixture);
    await expect(f.clock.write.setEpochDuration([10n])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
    await expect(f.clock.write.setEpochDuration([0n], { account: f.governor.account })).to.be.rejectedWith("EpochClockZeroDuration");
    await expect(f.clock.write.setExpectedCommitteeSize([0n], { account: f.governor.account })).to.be.rejectedWith("EpochClockZeroCommitteeSize");
    await expectEvent(f.clock, await f.clock.write.setEpochDuration([10n], { account: f.governor.account }), "EpochDurationChanged", { oldDuration: 3600n, newDuration: 10n });
    await expectEvent(f.clock, await f.clock.write.setExpectedCommitteeSize([3n], { account: f.governor.account }), "ExpectedCommitteeSizeChanged", { oldSize: 7n, newSize: 3n });
    await expect(
      hre.viem.deployContract("EpochClock", [zeroAddress, 1n, 1n, f.deployer.account.address, f.governor.account.address]),
    ).to.be.rejectedWith("EpochClockZeroAddress");
  });
});

describe("ScoringPolicy", () => {
  it("schedules future policies only, keeps the full history and answers per epoch", async () => {
    const f = await loadFixture(deployFixture);
    expect(await f.policy.read.activeCid([1n])).to.equal(POLICY_CID);
    expect(await f.policy.read.activeCidHash([1n])).to.equal(keccak256(POLICY_CID));
    await expect(f.policy.write.scheduleUpgrade([OTHER_CID, 3n])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
    await expect(f.policy.write.scheduleUpgrade([OTHER_CID, 1n], { account: f.governor.account })).to.be.rejectedWith("ScoringPolicyEpochNotInFuture");
    await expect(f.policy.write.scheduleUpgrade(["0x", 3n], { account: f.governor.account })).to.be.rejectedWith("ScoringPolicyEmptyCid");
    const h = await f.policy.write.scheduleUpgrade([OTHER_CID, 3n], { account: f.governor.account });
    await expectEvent(f.policy, h, "PolicyScheduled", { index: 1n, effectiveEpoch: 3n, cidHash: keccak256(OTHER_CID), cid: OTHER_CID });
    await expect(f.policy.write.scheduleUpgrade([POLICY_CID, 2n], { account: f.governor.account })).to.be.rejectedWith("ScoringPolicyEpochBeforeScheduled");
    expect(await f.policy.read.activeCid([2n])).to.equal(POLICY_CID);
    expect(await f.policy.read.activeCid([3n])).to.equal(OTHER_CID);
    expect(await f.policy.read.policyCount()).to.equal(2n);
    const e = await f.policy.read.policyAt([1n]);
    expect(e.effectiveEpoch).to.equal(3n);
    expect(e.cid).to.equal(OTHER_CID);
    await expect(f.policy.read.policyAt([2n])).to.be.rejectedWith("ScoringPolicyIndexOutOfRange");
  });
});

describe("Reputation", () => {
  async function withRole() {
    const f = await deployFixture();
    await f.reputation.write.grantRole([ROLES.VERDICT, f.deployer.account.address]);
    await f.reputation.write.grantRole([ROLES.SLASHER, f.deployer.account.address]);
    return f;
  }

  it("gains additively up to the cap, loses multiplicatively, zeroes on slash, counts history", async () => {
    const f = await loadFixture(withRole);
    await f.reputation.write.setParams([25_000n, 10_000n, 5000], { account: f.governor.account });
    for (let i = 0; i < 3; i++) await f.reputation.write.applyVerdict([1n, true]);
    expect(await f.reputation.read.score([1n])).to.equal(25_000n);
    const h = await f.reputation.write.applyVerdict([1n, false]);
    await expectEvent(f.reputation, h, "ScoreChanged", { nodeId: 1n, oldScore: 25_000n, newScore: 12_500n, updates: 4n, reason: 2 });
    await f.reputation.write.revertDelta([1n, -12_500n]);
    expect(await f.reputation.read.score([1n])).to.equal(25_000n);
    const z = await f.reputation.write.zero([1n]);
    await expectEvent(f.reputation, z, "ScoreChanged", { newScore: 0n, reason: 4 });
    await f.reputation.write.revertDelta([1n, 5n]);
    expect(await f.reputation.read.score([1n])).to.equal(0n);
    expect(await f.reputation.read.historyLength([1n])).to.equal(7n);
    expect((await f.reputation.read.record([1n])).updates).to.equal(7n);
  });

  it("roles and parameters are enforced", async () => {
    const f = await loadFixture(deployFixture);
    const op = f.operators[0]!.account;
    await expect(f.reputation.write.applyVerdict([1n, true], { account: op })).to.be.rejectedWith("AccessControlUnauthorizedAccount");
    await expect(f.reputation.write.revertDelta([1n, 1n], { account: op })).to.be.rejectedWith("AccessControlUnauthorizedAccount");
    await expect(f.reputation.write.zero([1n], { account: op })).to.be.rejectedWith("AccessControlUnauthorizedAccount");
    await expect(f.reputation.write.setParams([0n, 0n, 0], { account: f.governor.account })).to.be.rejectedWith("ReputationInvalidParams");
    await expect(f.reputation.write.setParams([10n, 11n, 0], { account: f.governor.account })).to.be.rejectedWith("ReputationInvalidParams");
    await expect(f.reputation.write.setParams([10n, 1n, 10_001], { account: f.governor.account })).to.be.rejectedWith("ReputationInvalidParams");
    const h = await f.reputation.write.setParams([10n, 1n, 100], { account: f.governor.account });
    await expectEvent(f.reputation, h, "ParamsChanged", { maxScore: 10n, trustedGain: 1n, untrustedLossBps: 100 });
  });
});

describe("ImageRegistry", () => {
  it("approves, re-approves, revokes via governance with events", async () => {
    const f = await loadFixture(deployFixture);
    const d = keccak256("0x1234");
    await expect(f.images.write.approve([d, 1, POLICY_CID])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
    const g = { account: f.governor.account };
    await expect(f.images.write.approve([keccak256("0x") === d ? d : `0x${"00".repeat(32)}`, 1, POLICY_CID], g)).to.be.rejectedWith("ImageRegistryZeroDigest");
    await expect(f.images.write.approve([d, 0, POLICY_CID], g)).to.be.rejectedWith("ImageRegistryInvalidKind");
    await expect(f.images.write.approve([d, 1, "0x"], g)).to.be.rejectedWith("ImageRegistryEmptyGoldenCid");
    const h = await f.images.write.approve([d, 1, POLICY_CID], g);
    await expectEvent(f.images, h, "ImageApproved", { digest: d, kind: 1, goldenCid: POLICY_CID });
    expect(await f.images.read.isApproved([d])).to.equal(true);
    await f.images.write.approve([d, 1, OTHER_CID], g);
    expect((await f.images.read.imageInfo([d])).goldenCid).to.equal(OTHER_CID);
    expect(await f.images.read.imageCount()).to.equal(1n);
    expect(await f.images.read.imageAt([0n])).to.equal(d);
    const r = await f.images.write.revoke([d], g);
    await expectEvent(f.images, r, "ImageRevoked", { digest: d, kind: 1 });
    expect(await f.images.read.isApproved([d])).to.equal(false);
    await expect(f.images.write.revoke([d], g)).to.be.rejectedWith("ImageRegistryNotApproved");
    await expect(f.images.write.revoke([d])).to.be.rejectedWith("AccessControlUnauthorizedAccount");
  });
});

describe("EpochClock with Trusted verifiers", () => {
  it("snapshots the eligible count into the next epoch's threshold", async () => {
    const f = await loadFixture(deployFixture);
    await f.registry.write.grantRole([ROLES.VERDICT, f.deployer.account.address]);
    for (let i = 1; i <= 14; i++) {
      const n = await registerNode(f, i, i % 10);
      await f.registry.write.applyVerdict([n.id, true]);
    }
    await time.increase(3600);
    const h = await f.clock.write.openEpoch();
    await expectEvent(f.clock, h, "EpochOpened", { epoch: 2n, eligibleCount: 14n, threshold: MAX / 2n });
  });
});
