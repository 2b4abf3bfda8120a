/**
 * The whole task flow on a real Devnet (hardhat node, TaskMarket, swtpm-backed HPCs,
 * gateways attesting each other), small: 4 nodes. One capsule task end to end (sealed
 * inputs -> VRF-chosen Trusted executor -> sealed result opened by both recipients ->
 * settle pays the operator after the post-run verdict), then a task whose function never
 * ends: nothing is submitted, the gateways keep running, and refund() after the deadline
 * returns the escrow to A.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEther } from "viem";
import { generateCapsuleKeyPair } from "../../offchain/core/capsule/keys.js";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { Devnet } from "../../offchain/devnet/devnet.js";
import { demoOptions, statuses } from "../../offchain/devnet/scenes.js";
import { cidToHex } from "../../ipfs/adapter/cid.js";
import { publishFunction } from "../../offchain/task/bundle.js";
import { TaskWorld } from "../../offchain/task/devnet.js";
import { postTask, runCapsuleTask } from "../../offchain/task/scenario.js";
import { TASK_OPEN } from "../../offchain/task/types.js";
import { nodeRegistryAbi } from "../../offchain/chain/artifacts.js";

/** TaskMarket.TaskStatus.Failed: settled on an Untrusted post-run verdict. */
const TASK_FAILED = 4;

describe("task flow on a devnet (4 nodes)", function () {
  this.timeout(600_000);
  let dir: string;
  let net: Devnet;
  let world: TaskWorld;
  /** Tasks nobody was selected for (a VRF draw can leave a task without candidates). */
  const abandoned: bigint[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "task-flow-"));
    net = await Devnet.start(demoOptions(4, dir));
    world = await TaskWorld.attach(net);
    world.start();
    await net.waitFor("3 Trusted nodes", async () => (await statuses(net)).filter((s) => s === NodeStatus.Trusted).length >= 3, 300_000);
  });

  after(async () => {
    await world?.stop();
    await net?.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it("seals, selects, computes, opens and pays; escrow keeps only tasks nobody was selected for", async () => {
    const r = await runCapsuleTask(world, { size: 2_000, overlap: 300, resultTimeoutMs: 180_000, settleTimeoutMs: 180_000 });
    expect(r.common).to.equal(300);
    expect(r.operatorGain).to.equal(r.payment);
    abandoned.push(...r.abandoned);
    expect(await world.chain.escrowed()).to.equal(r.payment * BigInt(r.abandoned.length));
    const outcomes = world.outcomes.get(r.taskId)!;
    const submitted = [...outcomes.values()].filter((o) => o.kind === "submitted");
    expect(submitted).to.have.length(1);
    const out = submitted[0]!;
    if (out.kind === "submitted") expect(out.scratch.after.empty).to.equal(true);
  });

  it("a function that never ends: no result, gateways keep attesting, refund after the deadline", async () => {
    const fn = cidToHex(await publishFunction(net.store, new TextEncoder().encode("function run(inputs) { for (;;) {} }")));
    const payment = parseEther("3");
    const before = await world.chain.balanceOf(world.creator.address);
    const taskId = await postTask(world, {
      functionCid: fn,
      inputs: [[1, 2, 3]],
      recipients: [generateCapsuleKeyPair().publicKey],
      timeLimitMs: 500,
      memoryLimitMb: 16,
      minTier: 0,
      payment,
      deadlineSeconds: 120n,
    });
    // Every node answers: either not a candidate, or a candidate whose run hit the limit.
    await net.waitFor("every node's outcome", async () => (world.outcomes.get(taskId)?.size ?? 0) === net.nodes.length, 240_000);
    const outcomes = [...world.outcomes.get(taskId)!.values()];
    for (const o of outcomes) expect(o.kind).to.be.oneOf(["not-candidate", "failed", "not-chosen"]);
    const failed = outcomes.filter((o) => o.kind === "failed");
    for (const f of failed) if (f.kind === "failed") expect([f.error.code, (f.error as { reason?: string }).reason]).to.deep.equal(["TASK_RUN", "TIMEOUT"]);
    expect(await world.chain.result(taskId)).to.equal(null);
    expect((await world.chain.resultState(taskId)).status).to.equal(TASK_OPEN);
    // The gateways are alive: verdicts keep being recorded after the failure.
    const counts = await Promise.all(net.nodes.map((n) => world.chain.historyCount(n.nodeId)));
    await net.waitFor("a later verdict", async () => (await Promise.all(net.nodes.map((n) => world.chain.historyCount(n.nodeId)))).some((c, i) => c > counts[i]!), 120_000);
    // Past the deadline anyone may refund; A gets the escrow back.
    await net.publicClient.request({ method: "evm_increaseTime" as never, params: [1000] as never });
    await net.publicClient.request({ method: "evm_mine" as never, params: [] as never });
    await world.chain.refund(taskId);
    for (const id of abandoned) await world.chain.refund(id);
    expect(await world.chain.balanceOf(world.creator.address)).to.equal(before + parseEther("10") * BigInt(abandoned.length));
    expect(await world.chain.escrowed()).to.equal(0n);
  });

  // Last: the executor ends slashed and banned.
  it("an executor whose HPC is not rebooted after the run: the post-run round finds no fresh boot, settle slashes it and refunds A", async () => {
    const skipped: bigint[] = [];
    world.postRunReboot = async (node) => void skipped.push(node.nodeId);
    const fn = cidToHex(await publishFunction(net.store, new TextEncoder().encode("function run(inputs) { return inputs[0].length; }")));
    const payment = parseEther("4");
    let taskId = 0n;
    let executor: bigint | undefined;
    for (let attempt = 0; attempt < 4 && executor === undefined; attempt++) {
      taskId = await postTask(world, { functionCid: fn, inputs: [[1, 2, 3]], recipients: [generateCapsuleKeyPair().publicKey], timeLimitMs: 2_000, memoryLimitMb: 16, minTier: 0, payment, deadlineSeconds: 900n });
      const id = taskId;
      const seen = await net.waitFor("a result or nobody selected", async () => (await world.chain.result(id)) ?? (world.nobodySelected(id) ? "nobody" : undefined), 180_000);
      if (seen === "nobody") abandoned.push(id);
      else executor = seen.node;
    }
    if (executor === undefined) expect.fail("no node was selected for any of 4 tasks");
    const stake = async () => (await net.publicClient.readContract({ address: net.deployment.contracts.NodeRegistry as `0x${string}`, abi: nodeRegistryAbi, functionName: "getNode", args: [executor] })).stake;
    const stakeBefore = await stake();
    const creatorBefore = await world.chain.balanceOf(world.creator.address);
    await world.waitPostRunVerdict(taskId, 180_000);
    expect(skipped).to.deep.equal([executor]);
    await world.chain.settle(taskId);
    expect((await world.chain.resultState(taskId)).status).to.equal(TASK_FAILED);
    const stakeAfter = await stake();
    expect(stakeAfter < stakeBefore, `stake ${stakeBefore} -> ${stakeAfter}`).to.equal(true);
    const creatorAfter = await world.chain.balanceOf(world.creator.address);
    expect(creatorAfter >= creatorBefore + payment, `A's balance ${creatorBefore} -> ${creatorAfter}`).to.equal(true);
  });
});
