/// <reference types="chai-as-promised" />
import hre from "hardhat";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { getAddress, parseEther, toHex, zeroAddress } from "viem";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { ROLES } from "../../offchain/chain/deploy.js";
import {
  deployFixture,
  eventsOf,
  expectEvent,
  MIN_STAKE,
  nodeKeys,
  registerNode,
  registration,
  METADATA_CID,
  signStakePermit,
  type Fixture,
} from "./fixture.js";

const DAY = 86400;

async function withNode() {
  const f = await deployFixture();
  const n = await registerNode(f, 1, 0);
  return { f, n };
}

async function invariant(f: Fixture) {
  const bal = await f.token.read.balanceOf([f.registry.address]);
  const staked = await f.registry.read.totalStaked();
  const slashed = await f.registry.read.undistributedSlashed();
  expect(bal).to.equal(staked + slashed);
}

/** Gives the test account `who` the protocol role on the registry (as the admin/deployer). */
async function grant(f: Fixture, role: `0x${string}`, who: `0x${string}`) {
  await f.registry.write.grantRole([role, who], { account: f.deployer.account });
}

describe("TrustToken", () => {
  it("mints for MINTER_ROLE only", async () => {
    const f = await loadFixture(deployFixture);
    const to = f.operators[0]!.account.address;
    const before = await f.token.read.balanceOf([to]);
    await f.token.write.mint([to, 5n], { account: f.deployer.account });
    expect(await f.token.read.balanceOf([to])).to.equal(before + 5n);
    await expect(f.token.write.mint([to, 5n], { account: f.operators[0]!.account })).to.be.rejectedWith(
      "AccessControlUnauthorizedAccount",
    );
  });
});

describe("NodeRegistry", () => {
  describe("register", () => {
    it("registers with sequential ids, pulls the stake and emits NodeRegistered", async () => {
      const f = await loadFixture(deployFixture);
      const op = f.operators[0]!;
      const k = nodeKeys(1);
      const r = registration(k);
      await f.token.write.approve([f.registry.address, MIN_STAKE], { account: op.account });
      const hash = await f.registry.write.register([r], { account: op.account });
      await expectEvent(f.registry, hash, "NodeRegistered", {
        nodeId: 1n,
        operator: op.account.address,
        gateway: k.gateway.address,
        akDigest: r.akDigest,
        ekCertDigest: r.ekCertDigest,
        fingerprintRoot: r.fingerprintRoot,
        tier: 2,
        metadataCid: METADATA_CID,
        stake: MIN_STAKE,
      });
      const node = await f.registry.read.getNode([1n]);
      expect(node.operator.toLowerCase()).to.equal(op.account.address.toLowerCase());
      expect(node.gateway).to.equal(k.gateway.address);
      expect(node.status).to.equal(NodeStatus.Registered);
      expect(node.stake).to.equal(MIN_STAKE);
      expect(node.vrfPublicKey).to.deep.equal([...k.vrfPublicKey]);
      expect(await f.registry.read.identityMatches([1n, r.akDigest, r.ekCertDigest, r.fingerprintRoot])).to.equal(true);
      expect(await f.registry.read.identityMatches([1n, r.akDigest, r.akDigest, r.fingerprintRoot])).to.equal(false);
      expect(await f.registry.read.nodeOfGateway([k.gateway.address])).to.equal(1n);
      expect(await f.registry.read.statusOf([1n])).to.equal(NodeStatus.Registered);
      expect(await f.registry.read.nodeCount()).to.equal(1n);
      expect(await f.registry.read.totalStaked()).to.equal(MIN_STAKE);
      const n2 = await registerNode(f, 2, 1);
      expect(n2.id).to.equal(2n);
      await invariant(f);
    });

    it("registers with an EIP-2612 permit in one transaction", async () => {
      const f = await loadFixture(deployFixture);
      const op = f.operators[3]!;
      const k = nodeKeys(7);
      const deadline = BigInt((await time.latest()) + 3600);
      const { v, r, s } = await signStakePermit(f, op, MIN_STAKE, 0n, deadline);
      const hash = await f.registry.write.registerWithPermit([registration(k), deadline, v, r, s], { account: op.account });
      await expectEvent(f.registry, hash, "NodeRegistered", { nodeId: 1n, gateway: k.gateway.address });
      await expectEvent(f.token, hash, "Approval", { owner: op.account.address, spender: f.registry.address });
      await invariant(f);
      // A permit front-run by someone else (its nonce is used) still registers: the
      // allowance it set is what the transfer needs.
      const k3 = nodeKeys(9);
      const deadline3 = BigInt((await time.latest()) + 3600);
      const p3 = await signStakePermit(f, op, MIN_STAKE, 1n, deadline3);
      await f.token.write.permit([op.account.address, f.registry.address, MIN_STAKE, deadline3, p3.v, p3.r, p3.s]);
      const h3 = await f.registry.write.registerWithPermit([registration(k3), deadline3, p3.v, p3.r, p3.s], { account: op.account });
      await expectEvent(f.registry, h3, "NodeRegistered", { nodeId: 2n, gateway: k3.gateway.address });
      const r3 = registration(k3);
      expect(await f.registry.read.identityMatches([2n, r3.akDigest, r3.ekCertDigest, r3.fingerprintRoot])).to.equal(true);
      const n3 = await f.registry.read.getNode([2n]);
      expect([n3.operator, n3.gateway, n3.status, n3.tier, n3.until, n3.stake]).to.deep.equal([
        getAddress(op.account.address), k3.gateway.address, NodeStatus.Registered, r3.tier, 0, MIN_STAKE,
      ]);
      expect(n3.vrfPublicKey).to.deep.equal(k3.vrfPublicKey);
      await invariant(f);
      // A bad permit and no allowance: the transfer fails.
      const k2 = nodeKeys(8);
      await expect(
        f.registry.write.registerWithPermit([registration(k2), deadline, v, r, s], { account: op.account }),
      ).to.be.rejectedWith("ERC20InsufficientAllowance");
    });

    it("rejects every invalid registration with its error", async () => {
      const f = await loadFixture(deployFixture);
      const op = f.operators[0]!;
      await f.token.write.approve([f.registry.address, parseEther("100000")], { account: op.account });
      const k = nodeKeys(1);
      const reg = (over: Partial<ReturnType<typeof registration>>) =>
        f.registry.write.register([{ ...registration(k), ...over }], { account: op.account });
      await expect(reg({ gateway: zeroAddress })).to.be.rejectedWith("NodeRegistryZeroGateway");
      await expect(reg({ vrfPublicKey: [1n, 2n] })).to.be.rejectedWith("NodeRegistryInvalidVrfKey");
      await expect(reg({ akDigest: toHex(0n, { size: 32 }) })).to.be.rejectedWith("NodeRegistryZeroAkDigest");
      await expect(reg({ tier: 3 })).to.be.rejectedWith("NodeRegistryInvalidTier");
      await expect(reg({ ekCertDigest: toHex(0n, { size: 32 }) })).to.be.rejectedWith("NodeRegistryMissingEkCert");
      await expect(reg({ stake: MIN_STAKE - 1n })).to.be.rejectedWith("NodeRegistryStakeBelowMinimum");
      await expect(reg({ stake: 1n << 88n })).to.be.rejectedWith("NodeRegistryStakeOverflow");
      // lower tier without EK certificate is fine
      await reg({ tier: 1, ekCertDigest: toHex(0n, { size: 32 }) });
      await expect(reg({})).to.be.rejectedWith("NodeRegistryGatewayTaken");
    });
  });

  describe("operator actions", () => {
    it("topUp adds stake (operator only) and emits StakeAdded", async () => {
      const { f, n } = await loadFixture(withNode);
      await f.token.write.approve([f.registry.address, 10n], { account: n.operator.account });
      const hash = await f.registry.write.topUp([n.id, 10n], { account: n.operator.account });
      await expectEvent(f.registry, hash, "StakeAdded", { nodeId: n.id, amount: 10n, newStake: MIN_STAKE + 10n });
      await expect(f.registry.write.topUp([n.id, 0n], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryZeroAmount");
      await expect(f.registry.write.topUp([n.id, 1n], { account: f.operators[5]!.account })).to.be.rejectedWith("NodeRegistryNotOperator");
      await expect(f.registry.write.topUp([99n, 1n], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryUnknownNode");
      await invariant(f);
    });

    it("requestExit -> Exiting, withdraw after the unbonding delay -> Withdrawn", async () => {
      const { f, n } = await loadFixture(withNode);
      const before = await f.token.read.balanceOf([n.operator.account.address]);
      await expect(f.registry.write.withdraw([n.id], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryInvalidStatus");
      const h1 = await f.registry.write.requestExit([n.id], { account: n.operator.account });
      const ev = await expectEvent(f.registry, h1, "ExitRequested", { nodeId: n.id });
      await expectEvent(f.registry, h1, "StatusChanged", { nodeId: n.id, oldStatus: NodeStatus.Registered, newStatus: NodeStatus.Exiting });
      expect(Number(ev.unlockAt)).to.equal((await time.latest()) + 14 * DAY);
      await expect(f.registry.write.requestExit([n.id], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryInvalidStatus");
      await expect(f.registry.write.topUp([n.id, 1n], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryInvalidStatus");
      await expect(f.registry.write.withdraw([n.id], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryStillLocked");
      await time.increase(14 * DAY);
      const h2 = await f.registry.write.withdraw([n.id], { account: n.operator.account });
      await expectEvent(f.registry, h2, "StakeWithdrawn", { nodeId: n.id, operator: n.operator.account.address, amount: MIN_STAKE });
      await expectEvent(f.registry, h2, "StatusChanged", { oldStatus: NodeStatus.Exiting, newStatus: NodeStatus.Withdrawn });
      expect(await f.token.read.balanceOf([n.operator.account.address])).to.equal(before + MIN_STAKE);
      expect(await f.registry.read.totalStaked()).to.equal(0n);
      await expect(f.registry.write.updateMetadata([n.id, "0x01"], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryInvalidStatus");
      await expect(f.registry.write.rotateKeys([n.id, zeroAddress, [0n, 0n]], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryInvalidStatus");
      await invariant(f);
    });

    it("rotateKeys changes gateway and VRF key with old+new events; old keys stay queryable by time", async () => {
      const { f, n } = await loadFixture(withNode);
      const k2 = nodeKeys(50);
      const t0 = BigInt(await time.latest());
      await time.increase(10);
      const hash = await f.registry.write.rotateKeys([n.id, k2.gateway.address, k2.vrfPublicKey], { account: n.operator.account });
      await expectEvent(f.registry, hash, "GatewayRotated", { nodeId: n.id, oldGateway: n.keys.gateway.address, newGateway: k2.gateway.address });
      const ev = await expectEvent(f.registry, hash, "VrfKeyRotated", { nodeId: n.id });
      expect(ev.oldKey).to.deep.equal([...n.keys.vrfPublicKey]);
      expect(ev.newKey).to.deep.equal([...k2.vrfPublicKey]);
      const node = await f.registry.read.getNode([n.id]);
      expect(node.gateway).to.equal(k2.gateway.address);
      expect(node.vrfPublicKey).to.deep.equal([...k2.vrfPublicKey]);
      expect(await f.registry.read.vrfPublicKeyAt([n.id, t0])).to.deep.equal([...n.keys.vrfPublicKey]);
      expect(await f.registry.read.vrfPublicKeyAt([n.id, BigInt(await time.latest())])).to.deep.equal([...k2.vrfPublicKey]);
      // the old gateway stays attributed to the node, but is no longer its signing key
      expect(await f.registry.read.nodeOfGateway([n.keys.gateway.address])).to.equal(n.id);
      await expect(f.registry.write.rotateKeys([n.id, n.keys.gateway.address, [0n, 0n]], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryGatewayTaken");
      await expect(f.registry.write.rotateKeys([n.id, zeroAddress, [5n, 5n]], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryInvalidVrfKey");
      await expect(f.registry.write.rotateKeys([n.id, zeroAddress, [0n, 0n]], { account: f.operators[4]!.account })).to.be.rejectedWith("NodeRegistryNotOperator");
      await expect(f.registry.read.vrfPublicKeyAt([77n, 0n])).to.be.rejectedWith("NodeRegistryUnknownNode");
    });

    it("updateMetadata emits MetadataUpdated", async () => {
      const { f, n } = await loadFixture(withNode);
      const hash = await f.registry.write.updateMetadata([n.id, "0x0155"], { account: n.operator.account });
      await expectEvent(f.registry, hash, "MetadataUpdated", { nodeId: n.id, metadataCid: "0x0155" });
      await expect(f.registry.write.updateMetadata([n.id, "0x01"], { account: f.operators[4]!.account })).to.be.rejectedWith("NodeRegistryNotOperator");
    });
  });

  describe("protocol roles", () => {
    it("applyVerdict / clearVerdict move the status and the eligible count (VERDICT_ROLE only)", async () => {
      const { f, n } = await loadFixture(withNode);
      const me = f.deployer;
      await expect(f.registry.write.applyVerdict([n.id, true], { account: me.account })).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      await grant(f, ROLES.VERDICT, me.account.address);
      const h = await f.registry.write.applyVerdict([n.id, true], { account: me.account });
      await expectEvent(f.registry, h, "StatusChanged", { nodeId: n.id, oldStatus: NodeStatus.Registered, newStatus: NodeStatus.Trusted });
      expect(await f.registry.read.eligibleVerifierCount()).to.equal(1n);
      expect(await f.registry.read.isEligibleVerifier([n.keys.gateway.address])).to.equal(true);
      const same = await f.registry.write.applyVerdict([n.id, true], { account: me.account });
      expect(await eventsOf(f.registry, same, "StatusChanged")).to.have.length(0);
      await f.registry.write.applyVerdict([n.id, false], { account: me.account });
      expect(await f.registry.read.statusOf([n.id])).to.equal(NodeStatus.Untrusted);
      expect(await f.registry.read.eligibleVerifierCount()).to.equal(0n);
      const c = await f.registry.write.clearVerdict([n.id], { account: me.account });
      await expectEvent(f.registry, c, "StatusChanged", { oldStatus: NodeStatus.Untrusted, newStatus: NodeStatus.Registered });
      await expect(f.registry.write.applyVerdict([9n, true], { account: me.account })).to.be.rejectedWith("NodeRegistryUnknownNode");
      await expect(f.registry.write.clearVerdict([9n], { account: me.account })).to.be.rejectedWith("NodeRegistryUnknownNode");
      // Exiting nodes keep their status
      await f.registry.write.requestExit([n.id], { account: n.operator.account });
      await f.registry.write.applyVerdict([n.id, true], { account: me.account });
      expect(await f.registry.read.statusOf([n.id])).to.equal(NodeStatus.Exiting);
    });

    it("slash takes the share, pays the beneficiary, keeps the rest, bans; reactivate after the ban", async () => {
      const { f, n } = await loadFixture(withNode);
      const me = f.deployer;
      const ben = f.operators[6]!.account.address;
      await expect(f.registry.write.slash([n.id, 5000, 2000, ben, 100], { account: me.account })).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      await grant(f, ROLES.SLASHER, me.account.address);
      await expect(f.registry.write.slash([n.id, 10001, 0, ben, 100], { account: me.account })).to.be.rejectedWith("NodeRegistryInvalidBps");
      await expect(f.registry.write.slash([n.id, 100, 10001, ben, 100], { account: me.account })).to.be.rejectedWith("NodeRegistryInvalidBps");
      await expect(f.registry.write.slash([n.id, 5000, 2000, zeroAddress, 100], { account: me.account })).to.be.rejectedWith("NodeRegistryZeroAddress");
      await expect(f.registry.write.slash([42n, 5000, 2000, ben, 100], { account: me.account })).to.be.rejectedWith("NodeRegistryUnknownNode");
      const before = await f.token.read.balanceOf([ben]);
      const h = await f.registry.write.slash([n.id, 5000, 2000, ben, 1000], { account: me.account });
      const slashed = MIN_STAKE / 2n;
      const reward = slashed / 5n;
      await expectEvent(f.registry, h, "NodeSlashed", { nodeId: n.id, slashed, reward, beneficiary: ben });
      await expectEvent(f.registry, h, "StatusChanged", { oldStatus: NodeStatus.Registered, newStatus: NodeStatus.Banned });
      expect(await f.token.read.balanceOf([ben])).to.equal(before + reward);
      expect(await f.registry.read.undistributedSlashed()).to.equal(slashed - reward);
      await invariant(f);
      await expect(f.registry.write.reactivate([n.id, MIN_STAKE], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryStillLocked");
      await expect(f.registry.write.requestExit([n.id], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryInvalidStatus");
      await time.increase(1000);
      await expect(f.registry.write.reactivate([n.id, 0n], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryStakeBelowMinimum");
      await f.token.write.approve([f.registry.address, slashed], { account: n.operator.account });
      const r = await f.registry.write.reactivate([n.id, slashed], { account: n.operator.account });
      await expectEvent(f.registry, r, "StatusChanged", { oldStatus: NodeStatus.Banned, newStatus: NodeStatus.Registered });
      await expectEvent(f.registry, r, "StakeAdded", { amount: slashed });
      await expect(f.registry.write.reactivate([n.id, 0n], { account: n.operator.account })).to.be.rejectedWith("NodeRegistryInvalidStatus");
      await invariant(f);
    });

    it("a banned node may exit once the ban is over", async () => {
      const { f, n } = await loadFixture(withNode);
      await grant(f, ROLES.SLASHER, f.deployer.account.address);
      await f.registry.write.slash([n.id, 1000, 0, zeroAddress, 50], { account: f.deployer.account });
      await time.increase(50);
      await f.registry.write.requestExit([n.id], { account: n.operator.account });
      expect(await f.registry.read.statusOf([n.id])).to.equal(NodeStatus.Exiting);
    });

    it("governance sweeps slashed funds and sets the unbonding delay", async () => {
      const { f, n } = await loadFixture(withNode);
      await grant(f, ROLES.SLASHER, f.deployer.account.address);
      await f.registry.write.slash([n.id, 10000, 0, zeroAddress, 1], { account: f.deployer.account });
      const treasury = f.operators[9]!.account.address;
      await expect(f.registry.write.sweepSlashed([treasury, 1n], { account: f.operators[0]!.account })).to.be.rejectedWith("AccessControlUnauthorizedAccount");
      await expect(f.registry.write.sweepSlashed([zeroAddress, 1n], { account: f.governor.account })).to.be.rejectedWith("NodeRegistryZeroAddress");
      await expect(f.registry.write.sweepSlashed([treasury, MIN_STAKE + 1n], { account: f.governor.account })).to.be.rejectedWith("NodeRegistryInsufficientSlashedFunds");
      const h = await f.registry.write.sweepSlashed([treasury, MIN_STAKE], { account: f.governor.account });
      await expectEvent(f.registry, h, "SlashedFundsSwept", { treasury, amount: MIN_STAKE });
      await invariant(f);
      const d = await f.registry.write.setUnbondingDelay([7 * DAY], { account: f.governor.account });
      await expectEvent(f.registry, d, "UnbondingDelayChanged", { oldDelay: 14 * DAY, newDelay: 7 * DAY });
      await expect(f.registry.write.setUnbondingDelay([1], { account: f.operators[0]!.account })).to.be.rejectedWith("AccessControlUnauthorizedAccount");
    });

    it("firstIneligible: bootstrap admits Registered nodes until quorum nodes are Trusted", async () => {
      const f = await loadFixture(deployFixture);
      const ns = [];
      for (let i = 1; i <= 3; i++) ns.push(await registerNode(f, i, i));
      const gws = ns.map((n) => n.keys.gateway.address);
      const MAX = (1n << 256n) - 1n;
      expect(await f.registry.read.firstIneligible([gws, 0n, 2n])).to.equal(MAX);
      expect(await f.registry.read.firstIneligible([gws, ns[1]!.id, 2n])).to.equal(1n);
      expect(await f.registry.read.firstIneligible([[gws[0]!, f.deployer.account.address], 0n, 2n])).to.equal(1n);
      await grant(f, ROLES.VERDICT, f.deployer.account.address);
      await f.registry.write.applyVerdict([ns[0]!.id, true], { account: f.deployer.account });
      await f.registry.write.applyVerdict([ns[1]!.id, true], { account: f.deployer.account });
      // two Trusted >= quorum 2: bootstrap over, the Registered third node is not eligible
      expect(await f.registry.read.firstIneligible([gws, 0n, 2n])).to.equal(2n);
      expect(await f.registry.read.firstIneligible([gws.slice(0, 2), 0n, 2n])).to.equal(MAX);
    });
  });

  it("the constructor rejects zero addresses", async () => {
    const f = await loadFixture(deployFixture);
    await expect(
      hre.viem.deployContract("NodeRegistry", [zeroAddress, 1n, 1, f.deployer.account.address, f.governor.account.address]),
    ).to.be.rejectedWith("NodeRegistryZeroAddress");
  });
});
