/// <reference types="chai-as-promised" />
import { expect } from "chai";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { parseEther } from "viem";
import { createTask, marketFixture, recordVerdict, submit, type Ctx } from "./task-market.helpers.js";

const OPEN = 1;
const SUBMITTED = 2;

type Op =
  | { kind: "create"; payment: bigint; lifetime: number }
  | { kind: "submit"; task: number; node: "x" | "y" }
  | { kind: "verdict"; node: "x" | "y"; trusted: boolean }
  | { kind: "settle"; task: number }
  | { kind: "refund"; task: number }
  | { kind: "wait"; seconds: number };

const task = fc.integer({ min: 0, max: 5 });
const node = fc.constantFrom("x" as const, "y" as const);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("create" as const), payment: fc.bigInt({ min: 1n, max: parseEther("50") }), lifetime: fc.constantFrom(600, 3600, 86_400) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("submit" as const), task, node }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("verdict" as const), node, trusted: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("settle" as const), task }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("refund" as const), task }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("wait" as const), seconds: fc.constantFrom(600, 3_600, 90_000) }), weight: 1 },
);

/** Runs one operation; reverts are allowed outcomes (invalid transitions must leave state intact). */
async function apply(ctx: Ctx, o: Op, ids: bigint[]) {
  const pick = (i: number) => (ids.length === 0 ? 99n : ids[i % ids.length]!);
  try {
    switch (o.kind) {
      case "create": {
        const now = BigInt(await time.latest());
        const { id } = await createTask(ctx, { payment: o.payment, deadline: now + BigInt(o.lifetime) });
        ids.push(id);
        return;
      }
      case "submit":
        // the pre-run attestation, then the result
        await recordVerdict(ctx, ctx[o.node], 1);
        await submit(ctx, ctx[o.node], pick(o.task));
        return;
      case "verdict":
        await recordVerdict(ctx, ctx[o.node], o.trusted ? 1 : 2);
        return;
      case "settle":
        await ctx.market.write.settle([pick(o.task)]);
        return;
      case "refund":
        await ctx.market.write.refund([pick(o.task)]);
        return;
      case "wait":
        await time.increase(o.seconds);
        return;
    }
  } catch (e) {
    if (!/revert/i.test(String(e))) throw e;
  }
}

/** Escrow invariant; final statuses never change; an Open/Submitted task keeps its payment escrowed. */
async function checkInvariants(ctx: Ctx, ids: bigint[], finals: Map<bigint, number>) {
  let unsettled = 0n;
  for (const id of ids) {
    const t = await ctx.market.read.getTask([id]);
    if (t.status === OPEN || t.status === SUBMITTED) unsettled += t.payment;
    const f = finals.get(id);
    if (f !== undefined) expect(t.status, `task ${id} left its final status`).to.equal(f);
    else if (t.status > SUBMITTED) finals.set(id, t.status);
  }
  const balance = await ctx.f.token.read.balanceOf([ctx.market.address]);
  expect(balance, "token balance == sum of unsettled payments").to.equal(unsettled);
  expect(await ctx.market.read.escrowed(), "escrowed() == sum of unsettled payments").to.equal(unsettled);
}

describe("properties: TaskMarket escrow accounting", function () {
  this.timeout(900_000);

  it("balance == sum of unsettled payments over random create/submit/verdict/settle/refund/wait sequences", async () => {
    let settledOrFailed = 0;
    let refunded = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        const ctx = await loadFixture(marketFixture);
        const ids: bigint[] = [];
        const finals = new Map<bigint, number>();
        await apply(ctx, { kind: "create", payment: parseEther("1"), lifetime: 3600 }, ids);
        expect(ids).to.have.length(1);
        for (const o of ops) {
          await apply(ctx, o, ids);
          await checkInvariants(ctx, ids, finals);
        }
        for (const s of finals.values()) (s === 5 ? refunded++ : settledOrFailed++);
      }),
      // A fixed seed: the same 30 sequences on every run, so the coverage checks below
      // (settlements and refunds were reached) cannot flake; change it to explore others.
      { numRuns: 30, seed: 4 },
    );
    // The generator must reach the interesting transitions, or the property says little.
    expect(settledOrFailed, "settlements reached").to.be.greaterThan(0);
    expect(refunded, "refunds reached").to.be.greaterThan(0);
  });
});
