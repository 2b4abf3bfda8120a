import { expect } from "chai";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import { generateCapsuleKeyPair, keyToHex } from "../../offchain/core/capsule/keys.js";
import { runInSandbox, SandboxPool } from "../../offchain/sandbox/index.js";
import { cidToHex } from "../../ipfs/adapter/cid.js";
import { bundledTaskSource } from "../../ipfs/tasks/index.js";
import { wipeScratch } from "../../firmware/agent/scratch.js";
import { Verdict } from "../../offchain/core/protocol.js";
import { KeyBroker } from "../../offchain/task/broker.js";
import { publishFunction } from "../../offchain/task/bundle.js";
import { buildSpec, openResult, sealInput } from "../../offchain/task/client.js";
import { TaskExecutor, type ExecutionOutcome, type ExecutorOptions } from "../../offchain/task/executor.js";
import { postRunBootNonce } from "../../offchain/core/boot-nonce.js";
import { inProcessTaskHost } from "../../offchain/task/hpc-host.js";
import { TaskError, TaskRunError } from "../../offchain/task/errors.js";
import { CHAIN_ID, DOMAIN, MARKET, MemoryChain, makeNode, tempStore, type TestNode } from "./fixtures.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("TaskExecutor (real sandbox, store and broker; chain facts in memory)", function () {
  this.timeout(60_000);
  let s: Awaited<ReturnType<typeof tempStore>>;
  let pool: SandboxPool;
  before(async () => {
    s = await tempStore();
    pool = await SandboxPool.create({ size: 1 });
  });
  after(async () => {
    await pool.close();
    await s.close();
  });

  interface World {
    chain: MemoryChain;
    broker: KeyBroker;
    node: TestNode;
    executor: TaskExecutor;
    scratch: string;
    recipients: ReturnType<typeof generateCapsuleKeyPair>[];
  }

  let nextTask = 1n;
  async function world(source: string | Uint8Array, inputs: unknown[], o: { timeLimitMs?: number; memoryLimitMb?: number; hold?: boolean; tamperCommitment?: boolean; attestation?: ExecutorOptions["attestation"]; log?: ExecutorOptions["log"] } = {}): Promise<World & { taskId: bigint }> {
    const taskId = nextTask++;
    const chain = new MemoryChain();
    const taskKey = generateCapsuleKeyPair();
    const recipients = [generateCapsuleKeyPair(), generateCapsuleKeyPair()];
    const fn = await publishFunction(s.store, typeof source === "string" ? enc(source) : source);
    const sealed = await Promise.all(inputs.map((v) => sealInput(s.store, taskId, taskKey.publicKey, v)));
    if (o.tamperCommitment && sealed[0]) sealed[0] = { ...sealed[0], chain: { ...sealed[0].chain, commitment: `0x${"00".repeat(31)}01` } };
    const spec = buildSpec({
      functionCid: cidToHex(fn),
      inputs: sealed,
      taskKey: taskKey.publicKey,
      recipients: recipients.map((r) => r.publicKey),
      timeLimitMs: o.timeLimitMs ?? 5_000,
      memoryLimitMb: o.memoryLimitMb ?? 32,
      minTier: 1,
      payment: 10n,
      deadline: 5_000n,
    });
    chain.addTask(taskId, spec);
    const node = makeNode(3n);
    chain.addNode(node);
    const broker = new KeyBroker({ chain, domain: DOMAIN, windowMs: 20 });
    if (o.hold !== false) broker.hold(taskId, taskKey.privateKey);
    const scratch = join(s.dir, `scratch-${taskId}`);
    await mkdir(scratch, { recursive: true });
    const executor = new TaskExecutor({
      nodeId: node.nodeId,
      vrfSecret: node.vrfSecret,
      account: node.account,
      domain: DOMAIN,
      chain,
      store: s.store,
      claimKey: (c) => broker.submit(c),
      host: inProcessTaskHost({ scratchDir: scratch, sandbox: (p) => pool.run(p) }),
      freshVerdictTimeoutMs: 500,
      pollMs: 20,
      log: o.log ?? (() => undefined),
      ...(o.attestation ? { attestation: o.attestation } : {}),
    });
    return { taskId, chain, broker, node, executor, scratch, recipients };
  }

  function failure(o: ExecutionOutcome): TaskError {
    if (o.kind !== "failed") expect.fail(`expected a failure, got ${o.kind}`);
    return o.error;
  }

  it("runs the intersection: result sealed to both recipients, commitment and VRF proof submitted, scratch wiped", async () => {
    const w = await world(await bundledTaskSource("intersection"), [["Ada", "Ben", "Cy"], ["Cy", "Ada", "Dee"]]);
    const out = await w.executor.execute(w.taskId);
    expect(out.kind, JSON.stringify(out, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).to.equal("submitted");
    if (out.kind !== "submitted") return;
    expect(out.scratch.before.files).to.equal(3); // two opened inputs and the result
    expect(out.scratch.after.empty).to.equal(true);
    expect(await readdir(w.scratch)).to.deep.equal([]);
    expect(w.chain.submitted).to.have.length(1);
    const sub = w.chain.submitted[0]!;
    expect(sub.resultCid).to.equal(out.resultCid);
    expect(sub.nodeId).to.equal(3n);
    for (const r of w.recipients) {
      expect(await openResult(s.store, w.taskId, { resultCid: out.resultCid, resultCommitment: out.resultCommitment }, r.privateKey)).to.deep.equal(["Ada", "Cy"]);
    }
    // Someone else's key, or a commitment the chain does not hold, is refused.
    await openResult(s.store, w.taskId, out, generateCapsuleKeyPair().privateKey).then(
      () => expect.fail("stranger opened the result"),
      (e: TaskError) => expect(e.code).to.equal("TASK_RESULT"),
    );
    await openResult(s.store, w.taskId, { ...out, resultCommitment: `0x${"00".repeat(32)}` as Hex }, w.recipients[0]!.privateKey).then(
      () => expect.fail("wrong commitment accepted"),
      (e: TaskError) => expect(e.code).to.equal("TASK_RESULT"),
    );
  });

  for (const [name, source, limits, want] of [
    ["an infinite loop", "function run(i) { for (;;) {} }", { timeLimitMs: 300 }, "TIMEOUT"],
    ["a memory bomb", "function run(i) { var a = []; for (;;) a.push(new Array(100000).fill(1)); }", { memoryLimitMb: 16 }, "MEMORY"],
    ["a throw", "function run(i) { throw new Error('boom'); }", {}, "THROW"],
  ] as const) {
    it(`${name} ends the task with TASK_RUN ${want}: nothing submitted, scratch wiped, the next task still runs`, async () => {
      const w = await world(source, [["a"]], limits);
      const out = await w.executor.execute(w.taskId);
      const err = failure(out);
      expect(err).to.be.instanceOf(TaskRunError);
      expect(err.code).to.equal("TASK_RUN");
      expect((err as TaskRunError).reason).to.equal(want);
      expect(w.chain.submitted).to.have.length(0);
      if (out.kind === "failed") expect(out.scratch?.after.empty).to.equal(true);
      expect(await readdir(w.scratch)).to.deep.equal([]);
      // The same executor machinery (pool, store) serves the next task.
      const next = await world("function run(i) { return i[0].length; }", [["x", "y"]]);
      expect((await next.executor.execute(next.taskId)).kind).to.equal("submitted");
    });
  }

  it("no key: the broker holds no key for the task -> TASK_NO_KEY (refund path), nothing submitted", async () => {
    const w = await world("function run(i) { return 1; }", [1], { hold: false });
    const err = failure(await w.executor.execute(w.taskId));
    expect(err.code).to.equal("TASK_NO_KEY");
    expect(err.metaMessages.join()).to.contain("unknown-task");
    expect(w.chain.submitted).to.have.length(0);
  });

  it("no fresh verdict within the wait -> TASK_NO_KEY; an Untrusted pre-run verdict -> TASK_NO_KEY at once", async () => {
    const w = await world("function run(i) { return 1; }", [1]);
    w.chain.verdicts.set(3n, { verdict: Verdict.Trusted, recordedAt: 1n, voided: false });
    expect(failure(await w.executor.execute(w.taskId)).code).to.equal("TASK_NO_KEY");
    w.chain.verdicts.set(3n, { verdict: Verdict.Untrusted, recordedAt: 2_000n, voided: false });
    const err = failure(await w.executor.execute(w.taskId));
    expect(err.code).to.equal("TASK_NO_KEY");
    expect(err.shortMessage).to.match(/Untrusted/);
  });

  it("a candidate still waiting for its pre-run verdict stands down when the task gets a result", async () => {
    const w = await world("function run(i) { return 1; }", [1]);
    w.chain.verdicts.set(3n, { verdict: Verdict.Trusted, recordedAt: 1n, voided: false });
    setTimeout(() => w.chain.tasks.set(w.taskId, { ...w.chain.tasks.get(w.taskId)!, status: 2 }), 60);
    const out = await w.executor.execute(w.taskId);
    expect(out.kind).to.equal("not-chosen");
    expect(w.chain.submitted).to.have.length(0);
  });

  it("an input whose commitment differs from the chain's -> TASK_INPUT", async () => {
    const w = await world("function run(i) { return 1; }", [1, 2], { tamperCommitment: true });
    expect(failure(await w.executor.execute(w.taskId)).code).to.equal("TASK_INPUT");
    expect(w.chain.submitted).to.have.length(0);
  });

  it("not a candidate: not Trusted, tier too low, or VRF output over the threshold", async () => {
    const w = await world("function run(i) { return 1; }", [1]);
    w.chain.nodes.set(3n, { ...w.node.facts, tier: 0 });
    expect(await w.executor.execute(w.taskId)).to.deep.equal({ kind: "not-candidate", reason: "tier-too-low" });
    w.chain.nodes.set(3n, { ...w.node.facts, status: 3 });
    expect(await w.executor.execute(w.taskId)).to.deep.equal({ kind: "not-candidate", reason: "not-trusted" });
    w.chain.nodes.set(3n, w.node.facts);
    w.chain.tasks.set(w.taskId, { ...w.chain.tasks.get(w.taskId)!, threshold: 0n });
    expect((await w.executor.execute(w.taskId)).kind).to.equal("not-candidate");
  });

  describe("after the result: a fresh boot, then the post-run round", () => {
    const until = async (what: string, ok: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
      if (!ok()) expect.fail(`timed out waiting for ${what}`);
    };

    it("reboots the HPC with the boot nonce of the submission's block, and only then asks for the post-run round", async () => {
      const steps: string[] = [];
      const nonces: Uint8Array[] = [];
      let recorded = false;
      const w = await world("function run(i) { return 1; }", [1], {
        attestation: {
          request: async (taskId, phase, attempt) => {
            steps.push(`request ${phase} ${attempt}`);
            if (phase === "post-run") recorded = true;
          },
          postRunRecorded: async () => recorded,
          rebootHpc: async (nonce) => {
            steps.push("reboot");
            nonces.push(nonce);
          },
          attemptMs: 200,
        },
      });
      expect((await w.executor.execute(w.taskId)).kind).to.equal("submitted");
      await until("the post-run request", () => steps.length === 2);
      // The pre-run verdict was already on record: no pre-run round was asked for.
      expect(steps).to.deep.equal(["reboot", "request post-run 0"]);
      const want = postRunBootNonce({ chainId: CHAIN_ID, taskMarket: MARKET, taskId: w.taskId, submitBlockHash: `0x${"cd".repeat(32)}` });
      expect(Buffer.from(nonces[0]!).toString("hex")).to.equal(Buffer.from(want).toString("hex"));
    });

    it("asks for pre-run rounds while no fresh verdict is on record, the next attempt each time one attempt's time passes, and stops once one is", async () => {
      const steps: string[] = [];
      let recorded = false;
      const w = await world("function run(i) { return 1; }", [1], {
        attestation: {
          request: async (_t, phase, attempt) => {
            steps.push(`request ${phase} ${attempt}`);
            // The second pre-run attempt's round lands; the post-run one at once.
            if (phase === "pre-run" && attempt === 1) w.chain.verdicts.set(3n, { verdict: Verdict.Trusted, recordedAt: 1_010n, voided: false });
            if (phase === "post-run") recorded = true;
          },
          postRunRecorded: async () => recorded,
          rebootHpc: async () => void steps.push("reboot"),
          attemptMs: 60,
        },
      });
      w.chain.verdicts.set(3n, { verdict: Verdict.Trusted, recordedAt: 1n, voided: false });
      expect((await w.executor.execute(w.taskId)).kind).to.equal("submitted");
      await until("the post-run request", () => steps.includes("request post-run 0"));
      expect(steps).to.deep.equal(["request pre-run 0", "request pre-run 1", "reboot", "request post-run 0"]);
    });

    it("a reboot that fails asks for no post-run round (the verdict could only be Untrusted) and says so", async () => {
      const steps: string[] = [];
      const lines: string[] = [];
      const w = await world("function run(i) { return 1; }", [1], {
        attestation: {
          request: async (_t, phase) => void steps.push(`request ${phase}`),
          postRunRecorded: async () => false,
          rebootHpc: async () => {
            steps.push("reboot");
            throw new Error("PXE server unreachable");
          },
          attemptMs: 50,
        },
        log: (line) => lines.push(line),
      });
      expect((await w.executor.execute(w.taskId)).kind).to.equal("submitted");
      await until("the reboot failure", () => lines.some((l) => l.startsWith("HPC reboot after the task failed")));
      await new Promise((r) => setTimeout(r, 100));
      expect(steps).to.deep.equal(["reboot"]);
    });
  });

  it("an unknown task id is a typed failure, not a crash", async () => {
    const w = await world("function run(i) { return 1; }", [1]);
    expect(failure(await w.executor.execute(999n)).code).to.equal("TASK_CHAIN");
  });

  it("one-shot runInSandbox works as the runner too (no pool)", async () => {
    const w = await world("function run(i) { return i; }", [{ a: 1 }]);
    (w.executor as unknown as { o: { run: unknown } }).o.run = (p: Parameters<typeof runInSandbox>[0]) => runInSandbox(p);
    expect((await w.executor.execute(w.taskId)).kind).to.equal("submitted");
  });
});
