/// <reference types="chai-as-promised" />
import { expect } from "chai";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { parseEther } from "viem";
import { MAX_TASK_ROUND_ATTEMPTS } from "../../offchain/core/protocol.js";
import { createTask, marketFixture, recordPostRun, recordVerdict, submit, type Ctx } from "./task-market.helpers.js";

const OPEN = 1;
const SUBMITTED = 2;

type Op =
  | { kind: "create"; payment: bigint; lifetime: number }
  | { kind: "submit"; task: number; node: "x" | "y" }
  | { kind: "verdict"; node: "x" | "y"; trusted: boolean }
  | { kind: "postRun"; task: number; node: "executor" | "x" | "y"; trusted: boolean }
  | { kind: "settle"; task: number; scheduled: boolean }
  | { kind: "refund"; task: number }
  | { kind: "wait"; seconds: number };

const task = fc.integer({ min: 0, max: 5 });
const node = fc.constantFrom("x" as const, "y" as const);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("create" as const), payment: fc.bigInt({ min: 1n, max: parseEther("50") }), lifetime: fc.constantFrom(600, 3600, 86_400) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("submit" as const), task, node }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("verdict" as const), node, trusted: fc.boolean() }), weight: 1 },
  // mostly the task's current executor (the round that can settle it), sometimes a given node
  { arbitrary: fc.record({ kind: fc.constant("postRun" as const), task, node: fc.constantFrom("executor" as const, "executor" as const, "x" as const, "y" as const), trusted: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("settle" as const), task, scheduled: fc.constantFrom(false, false, false, true) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("refund" as const), task }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("wait" as const), seconds: fc.constantFrom(600, 3_600, 90_000) }), weight: 1 },
);

/** Rounds recorded during one sequence: the latest scheduled one and every post-run task round. */
interface Rounds {
  scheduled?: bigint;
  postRun: Map<bigint, bigint[]>;
  attempts: Map<string, number>;
}

/**
 * Runs one operation; reverts are allowed outcomes (invalid transitions must leave state intact).
 * Settling names either the latest post-run round recorded for the task (any node's: the
 * contract must refuse another node's) or the latest scheduled round (always refused).
 */
async function apply(ctx: Ctx, o: Op, ids: bigint[], rounds: Rounds) {
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
        rounds.scheduled = await recordVerdict(ctx, ctx[o.node], o.trusted ? 1 : 2);
        return;
      case "postRun": {
        const id = pick(o.task);
        const executor = (await ctx.market.read.getTask([id])).executor;
        const node = o.node !== "executor" ? ctx[o.node] : executor === ctx.y.id ? ctx.y : ctx.x;
        const key = `${id}/${node.id}`;
        const attempt = rounds.attempts.get(key) ?? 0;
        if (attempt >= MAX_TASK_ROUND_ATTEMPTS) return;
        rounds.attempts.set(key, attempt + 1);
        const round = await recordPostRun(ctx, node, id, o.trusted ? 1 : 2, attempt);
        rounds.postRun.set(id, [...(rounds.postRun.get(id) ?? []), round]);
        return;
      }
      case "settle": {
        const id = pick(o.task);
        const round = o.scheduled ? rounds.scheduled : rounds.postRun.get(id)?.at(-1);
        await ctx.market.write.settle([id, round ?? 0n]);
        // (not a revert, so the catch below rethrows it)
        if (o.scheduled) throw new Error(`a scheduled round settled task ${id}`);
        return;
      }
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

  it("balance == sum of unsettled payments over random create/submit/verdict/post-run/settle/refund/wait sequences", async () => {
    let settledOrFailed = 0;
    let refunded = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        const ctx = await loadFixture(marketFixture);
        const ids: bigint[] = [];
        const rounds: Rounds = { postRun: new Map(), attempts: new Map() };
        const finals = new Map<bigint, number>();
        await apply(ctx, { kind: "create", payment: parseEther("1"), lifetime: 3600 }, ids, rounds);
        expect(ids).to.have.length(1);
        for (const o of ops) {
          await apply(ctx, o, ids, rounds);
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
