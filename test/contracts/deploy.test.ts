/// <reference types="chai-as-promised" />
import hre from "hardhat";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { encodeFunctionData, keccak256, toBytes, zeroAddress, zeroHash, type Address } from "viem";
import { trustMeshModule as TrustMeshModule } from "../../deploy/ignition/modules/TrustMesh.js";
import { trustMeshExistingTokenModule as TrustMeshExistingToken } from "../../deploy/ignition/modules/TrustMeshExistingToken.js";
import { DEFAULT_PARAMS } from "../../deploy/params.js";
import { deployTrustMesh, ROLES } from "../../offchain/chain/deploy.js";
import { scoringPolicyAbi } from "../../offchain/chain/artifacts.js";

const NEW_CID = "0x01551220dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" as const;

// Ignition's result types resolve contract names through the artifacts' type augmentation,
// which tsc does not load here; bind the deployed addresses to typed viem contracts instead.
async function bind(result: object) {
  const a = result as Record<string, { address: Address }>;
  const at = (k: string) => a[k]!.address;
  return {
    timelock: await hre.viem.getContractAt("TrustMeshTimelock", at("timelock")),
    token: await hre.viem.getContractAt("TrustToken", at("token")),
    registry: await hre.viem.getContractAt("NodeRegistry", at("registry")),
    clock: await hre.viem.getContractAt("EpochClock", at("clock")),
    policy: await hre.viem.getContractAt("ScoringPolicy", at("policy")),
    reputation: await hre.viem.getContractAt("Reputation", at("reputation")),
    images: await hre.viem.getContractAt("ImageRegistry", at("images")),
    board: await hre.viem.getContractAt("TrustBoard", at("board")),
    disputes: await hre.viem.getContractAt("Disputes", at("disputes")),
    market: await hre.viem.getContractAt("TaskMarket", at("market")),
  };
}

async function ignitionFixture() {
  return bind(await hre.ignition.deploy(TrustMeshModule, { parameters: { TrustMesh: { quorum: 3, timelockDelay: 3600n } } }));
}

describe("deployment", () => {
  it("Ignition module deploys and wires every role, with the timelock as governor", async () => {
    const d = await loadFixture(ignitionFixture);
    const [deployer] = await hre.viem.getWalletClients();
    const me = deployer!.account.address;
    expect(await d.registry.read.hasRole([ROLES.VERDICT, d.board.address])).to.equal(true);
    expect(await d.registry.read.hasRole([ROLES.SLASHER, d.disputes.address])).to.equal(true);
    expect(await d.reputation.read.hasRole([ROLES.VERDICT, d.board.address])).to.equal(true);
    expect(await d.reputation.read.hasRole([ROLES.SLASHER, d.disputes.address])).to.equal(true);
    expect(await d.board.read.hasRole([ROLES.DISPUTES, d.disputes.address])).to.equal(true);
    expect(await d.registry.read.hasRole([ROLES.SLASHER, d.market.address])).to.equal(true);
    expect((await d.market.read.board()).toLowerCase()).to.equal(d.board.address.toLowerCase());
    for (const c of [d.registry, d.clock, d.policy, d.reputation, d.images, d.board, d.disputes, d.market]) {
      expect(await c.read.hasRole([ROLES.GOVERNOR, d.timelock.address])).to.equal(true);
      expect(await c.read.hasRole([ROLES.DEFAULT_ADMIN, d.timelock.address])).to.equal(true);
      expect(await c.read.hasRole([ROLES.DEFAULT_ADMIN, me])).to.equal(false);
    }
    const [quorum] = await d.board.read.params();
    expect(quorum).to.equal(3);
    expect(await d.registry.read.minStake()).to.equal(DEFAULT_PARAMS.minStake);
    expect(await d.clock.read.currentEpoch()).to.equal(1n);
  });

  it("a scoring-policy upgrade goes through the timelock: propose, wait the delay, execute", async () => {
    const d = await loadFixture(ignitionFixture);
    const data = encodeFunctionData({ abi: scoringPolicyAbi, functionName: "scheduleUpgrade", args: [NEW_CID, 5n] });
    const salt = keccak256(toBytes("upgrade-1"));
    await d.timelock.write.schedule([d.policy.address, 0n, data, zeroHash, salt, 3600n]);
    await expect(d.timelock.write.execute([d.policy.address, 0n, data, zeroHash, salt])).to.be.rejectedWith(
      "TimelockUnexpectedOperationState",
    );
    await time.increase(3600);
    await d.timelock.write.execute([d.policy.address, 0n, data, zeroHash, salt]);
    expect(await d.policy.read.policyCount()).to.equal(2n);
    expect(await d.policy.read.activeCid([5n])).to.equal(NEW_CID);
    expect(await d.policy.read.activeCid([4n])).to.equal(DEFAULT_PARAMS.initialPolicyCid);
  });

  it("the existing-token module reuses a given token and verifier", async () => {
    const d = await loadFixture(ignitionFixture);
    const verifier = "0x000000000000000000000000000000000000dEaD" as const;
    const e = await bind(
      await hre.ignition.deploy(TrustMeshExistingToken, {
        parameters: { TrustMeshExistingToken: { token: d.token.address, vrfVerifier: verifier } },
      }),
    );
    expect((await e.registry.read.token()).toLowerCase()).to.equal(d.token.address.toLowerCase());
    expect((await e.disputes.read.verifier()).toLowerCase()).to.equal(verifier.toLowerCase());
    expect((await e.market.read.verifier()).toLowerCase()).to.equal(verifier.toLowerCase());
    expect((await e.market.read.token()).toLowerCase()).to.equal(d.token.address.toLowerCase());
  });

  it("deployTrustMesh (viem only) wires the same roles and renounces the deployer's admin with a timelock", async () => {
    const [deployer] = await hre.viem.getWalletClients();
    const publicClient = await hre.viem.getPublicClient();
    const d = await deployTrustMesh(deployer!, publicClient, { governance: { kind: "timelock" } });
    expect(d.contracts.Timelock).to.not.equal(undefined);
    const registry = await hre.viem.getContractAt("NodeRegistry", d.contracts.NodeRegistry);
    const board = await hre.viem.getContractAt("TrustBoard", d.contracts.TrustBoard);
    expect(await registry.read.hasRole([ROLES.VERDICT, d.contracts.TrustBoard])).to.equal(true);
    expect(await registry.read.hasRole([ROLES.GOVERNOR, d.contracts.Timelock!])).to.equal(true);
    expect(await registry.read.hasRole([ROLES.DEFAULT_ADMIN, deployer!.account.address])).to.equal(false);
    expect(await board.read.hasRole([ROLES.DISPUTES, d.contracts.Disputes])).to.equal(true);
    const disputes = await hre.viem.getContractAt("Disputes", d.contracts.Disputes);
    const v = await disputes.read.verifier();
    expect(v === zeroAddress ? undefined : v.toLowerCase()).to.equal(d.contracts.VRFVerifier?.toLowerCase());
    const market = await hre.viem.getContractAt("TaskMarket", d.contracts.TaskMarket);
    expect(await registry.read.hasRole([ROLES.SLASHER, d.contracts.TaskMarket])).to.equal(true);
    expect(await market.read.hasRole([ROLES.GOVERNOR, d.contracts.Timelock!])).to.equal(true);
    expect(await market.read.hasRole([ROLES.DEFAULT_ADMIN, deployer!.account.address])).to.equal(false);
    expect((await market.read.verifier()).toLowerCase()).to.equal(v.toLowerCase());
  });
});
