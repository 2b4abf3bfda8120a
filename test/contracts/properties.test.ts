/// <reference types="chai-as-promised" />
import { expect } from "chai";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { ROLES } from "../../offchain/chain/deploy.js";
import { deployFixture, MIN_STAKE, nodeKeys, registration, type Fixture } from "./fixture.js";

const MAX_SCORE = 50_000n;

async function propertyFixture() {
  const f = await deployFixture();
  const me = f.deployer.account.address;
  await f.registry.write.grantRole([ROLES.VERDICT, me]);
  await f.registry.write.grantRole([ROLES.SLASHER, me]);
  await f.reputation.write.grantRole([ROLES.VERDICT, me]);
  await f.reputation.write.grantRole([ROLES.SLASHER, me]);
  await f.reputation.write.setParams([MAX_SCORE, 20_000n, 3000], { account: f.governor.account });
  for (const op of f.operators.slice(0, 3)) {
    await f.token.write.approve([f.registry.address, 1n << 200n], { account: op.account });
  }
  return f;
}

type Op =
  | { kind: "register"; op: number; extra: bigint }
  | { kind: "topUp"; node: number; amount: bigint }
  | { kind: "exit"; node: number }
  | { kind: "withdraw"; node: number }
  | { kind: "wait"; seconds: number }
  | { kind: "slash"; node: number; bps: number; rewardBps: number }
  | { kind: "verdict"; node: number; trusted: boolean }
  | { kind: "reactivate"; node: number; amount: bigint }
  | { kind: "sweep"; amount: bigint };

const node = fc.integer({ min: 1, max: 4 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("register" as const), op: fc.integer({ min: 0, max: 2 }), extra: fc.bigInt({ min: 0n, max: MIN_STAKE }) }),
  fc.record({ kind: fc.constant("topUp" as const), node, amount: fc.bigInt({ min: 1n, max: MIN_STAKE }) }),
  fc.record({ kind: fc.constant("exit" as const), node }),
  fc.record({ kind: fc.constant("withdraw" as const), node }),
  fc.record({ kind: fc.constant("wait" as const), seconds: fc.constantFrom(3600, 31 * 86400) }),
  fc.record({ kind: fc.constant("slash" as const), node, bps: fc.integer({ min: 0, max: 10_000 }), rewardBps: fc.integer({ min: 0, max: 10_000 }) }),
  fc.record({ kind: fc.constant("verdict" as const), node, trusted: fc.boolean() }),
  fc.record({ kind: fc.constant("reactivate" as const), node, amount: fc.bigInt({ min: 0n, max: MIN_STAKE }) }),
  fc.record({ kind: fc.constant("sweep" as const), amount: fc.bigInt({ min: 0n, max: MIN_STAKE }) }),
);

/** Runs one operation; reverts are part of the game (invalid transitions must leave state intact). */
async function apply(f: Fixture, o: Op, registered: { count: number }) {
  const opOf = async (id: number) => {
    const n = await f.registry.read.getNode([BigInt(id)]);
    return f.operators.find((w) => w.account.address.toLowerCase() === n.operator.toLowerCase());
  };
  try {
    switch (o.kind) {
      case "register": {
        if (registered.count >= 4) return;
        const k = nodeKeys(100 + registered.count);
        await f.registry.write.register([registration(k, MIN_STAKE + o.extra)], { account: f.operators[o.op]!.account });
        registered.count++;
        return;
      }
      case "topUp": {
        const w = await opOf(o.node);
        if (w) await f.registry.write.topUp([BigInt(o.node), o.amount], { account: w.account });
        return;
      }
      case "exit": {
        const w = await opOf(o.node);
        if (w) await f.registry.write.requestExit([BigInt(o.node)], { account: w.account });
        return;
      }
      case "withdraw": {
        const w = await opOf(o.node);
        if (w) await f.registry.write.withdraw([BigInt(o.node)], { account: w.account });
        return;
      }
      case "reactivate": {
        const w = await opOf(o.node);
        if (w) await f.registry.write.reactivate([BigInt(o.node), o.amount], { account: w.account });
        return;
      }
      case "wait":
        await time.increase(o.seconds);
        return;
      case "slash":
        await f.registry.write.slash([BigInt(o.node), o.bps, o.rewardBps, f.operators[9]!.account.address, 86400]);
        await f.reputation.write.zero([BigInt(o.node)]);
        return;
      case "verdict":
        await f.registry.write.applyVerdict([BigInt(o.node), o.trusted]);
        await f.reputation.write.applyVerdict([BigInt(o.node), o.trusted]);
        return;
      case "sweep":
        await f.registry.write.sweepSlashed([f.operators[8]!.account.address, o.amount], { account: f.governor.account });
        return;
    }
  } catch (e) {
    // A revert is an allowed outcome; anything else (e.g. a broken fixture) is not.
    if (!/revert/i.test(String(e))) throw e;
  }
}

async function checkInvariants(f: Fixture) {
  const bal = await f.token.read.balanceOf([f.registry.address]);
  const total = await f.registry.read.totalStaked();
  const slashed = await f.registry.read.undistributedSlashed();
  expect(bal, "token balance == totalStaked + undistributedSlashed").to.equal(total + slashed);
  const count = Number(await f.registry.read.nodeCount());
  let sum = 0n;
  let trusted = 0n;
  for (let id = 1; id <= count; id++) {
    const n = await f.registry.read.getNode([BigInt(id)]);
    sum += n.stake;
    if (n.status === NodeStatus.Trusted) {
      trusted++;
      expect(n.stake >= MIN_STAKE, "a Trusted node is staked").to.equal(true);
    }
    if (n.status === NodeStatus.Withdrawn) expect(n.stake).to.equal(0n);
    const score = await f.reputation.read.score([BigInt(id)]);
    expect(score >= 0n && score <= MAX_SCORE, "reputation within bounds").to.equal(true);
  }
  expect(sum, "sum of stakes == totalStaked").to.equal(total);
  expect(await f.registry.read.eligibleVerifierCount(), "eligible count == Trusted nodes").to.equal(trusted);
}

describe("properties: stake accounting and reputation bounds", function () {
  this.timeout(600_000);

  it("hold over random sequences of register/top-up/exit/withdraw/slash/verdict/reactivate/sweep", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        const f = await loadFixture(propertyFixture);
        const registered = { count: 0 };
        // Two nodes from the start so most operations act on live nodes.
        await apply(f, { kind: "register", op: 0, extra: 0n }, registered);
        await apply(f, { kind: "register", op: 1, extra: 5n }, registered);
        expect(registered.count).to.equal(2);
        for (const o of ops) {
          await apply(f, o, registered);
          await checkInvariants(f);
        }
      }),
      { numRuns: 50 },
    );
  });
});
