import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwDriver } from "../../firmware/agent/drivers/sw.js";
import type { AgentClient, TaskRunRequest } from "../../offchain/attest/bridge/index.js";
import { generateCapsuleKeyPair, keyToHex, type CapsuleKeyPair } from "../../offchain/core/capsule/keys.js";
import { openCapsule, sealCapsule } from "../../offchain/core/capsule/seal.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { runInSandbox } from "../../offchain/sandbox/index.js";
import { encodeJsonPayload } from "../../offchain/task/bundle.js";
import { INPUT_ROLE, RESULT_ROLE, TASK_KEY_ROLE } from "../../offchain/core/capsule/roles.js";
import { bootInputs, startRig, type Rig } from "./helpers.js";

const SEL = [{ bank: "sha256" as const, pcrs: [9] }];

/** A task as the chain and the broker would present it to the HPC: inputs sealed to the task key, the key sealed to `ephemeral`. */
async function taskFor(taskId: bigint, ephemeral: Uint8Array, source: string, inputs: unknown[], recipients: CapsuleKeyPair[], timeMs = 3_000): Promise<TaskRunRequest> {
  const taskKey = generateCapsuleKeyPair();
  const sealed = await Promise.all(inputs.map((v) => sealCapsule({ payload: encodeJsonPayload(v), recipients: [taskKey.publicKey], taskId, role: INPUT_ROLE })));
  const grant = await sealCapsule({ payload: taskKey.privateKey, recipients: [ephemeral], taskId, role: TASK_KEY_ROLE });
  return {
    taskId: taskId.toString(),
    taskKey: keyToHex(taskKey.publicKey),
    grant: Buffer.from(grant.bytes).toString("base64"),
    source,
    entry: "run",
    inputs: sealed.map((s) => ({ capsule: Buffer.from(s.bytes).toString("base64"), commitment: Buffer.from(s.commitment).toString("hex") })),
    recipients: recipients.map((r) => keyToHex(r.publicKey)),
    limits: { timeMs, memoryBytes: 32 * 2 ** 20, maxOutputBytes: 2 ** 20 },
    nowMs: 1_700_000_000_000,
  };
}

async function agentError(p: Promise<unknown>): Promise<{ code: string; reason?: string }> {
  try {
    await p;
  } catch (e) {
    expect(isTrustmeshError(e, "AGENT_ERROR"), String(e)).to.equal(true);
    return { code: String((e as { details?: unknown }).details), reason: (e as { reason?: string }).reason };
  }
  return expect.fail("the agent accepted the request");
}

describe("HPC agent runs tasks over the bridge (task-prepare, task-run)", function () {
  this.timeout(60_000);
  let rig: Rig;
  let gw: AgentClient;
  let scratch: string;
  const recipients = [generateCapsuleKeyPair(), generateCapsuleKeyPair()];

  before(async function () {
    scratch = await mkdtemp(join(tmpdir(), "trustmesh-scratch-"));
    rig = await startRig({ driver: (work) => new SwDriver({ stateDir: join(work, "sw") }), boot: bootInputs(randomBytes(16)), agent: { scratchDir: scratch, sandbox: runInSandbox } });
    gw = await rig.connect();
  });

  after(async function () {
    gw?.close();
    await rig?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it("runs the function on sealed inputs and returns only the result sealed to the recipients; scratch wiped, run counted", async function () {
    const ephemeral = await gw.prepareTask(1n);
    expect(ephemeral.length).to.equal(32);
    const req = await taskFor(1n, ephemeral, "function run(l) { return l[0].filter(function (x) { return l[1].indexOf(x) >= 0; }); }", [["Ada", "Ben", "Cy"], ["Cy", "Ada", "Dee"]], recipients);
    const out = await gw.runTask(req);
    expect(JSON.stringify(out)).to.not.include("Ada");
    for (const r of recipients) {
      const opened = await openCapsule(Buffer.from(out.capsule, "base64"), r.privateKey, { taskId: 1n, role: RESULT_ROLE });
      expect(JSON.parse(Buffer.from(opened.payload).toString("utf8"))).to.deep.equal(["Ada", "Cy"]);
      expect(Buffer.from(opened.commitment).toString("hex")).to.equal(out.commitment);
    }
    expect(out.scratch.before.files).to.equal(3); // two opened inputs and the result
    expect(out.scratch.after.empty).to.equal(true);
    expect(await readdir(scratch)).to.deep.equal([]);
    const q = await gw.quote({ selection: SEL, include: ["scratch", "tasks"] });
    expect(q.evidence.tasks).to.deep.equal({ running: 0, finished: 1 });
    expect(q.evidence.scratch?.empty).to.equal(true);
  });

  it("answers quotes while a task runs, and reports the run as still going; a function that never ends gets TASK_RUN TIMEOUT", async function () {
    const ephemeral = await gw.prepareTask(2n);
    const run = agentError(gw.runTask(await taskFor(2n, ephemeral, "function run(i) { for (;;) {} }", [1], recipients, 1_500)));
    await new Promise((r) => setTimeout(r, 300));
    const during = await gw.quote({ selection: SEL, include: ["tasks"] });
    expect(during.evidence.tasks?.running).to.equal(1);
    expect(await run).to.deep.equal({ code: "TASK_RUN", reason: "TIMEOUT" });
    const after = await gw.quote({ selection: SEL, include: ["tasks", "scratch"] });
    expect(after.evidence.tasks).to.deep.equal({ running: 0, finished: 2 });
    expect(after.evidence.scratch?.empty).to.equal(true);
  });

  it("refuses a run without a prepared key, a second run on a used key, a grant for another key, and a malformed request", async function () {
    const stranger = generateCapsuleKeyPair().publicKey;
    expect((await agentError(gw.runTask(await taskFor(3n, stranger, "function run(i) { return 1; }", [1], recipients)))).code).to.equal("TASK_NO_KEY");
    const ephemeral = await gw.prepareTask(4n);
    const once = await taskFor(4n, ephemeral, "function run(i) { return i; }", [7], recipients);
    await gw.runTask(once);
    expect((await agentError(gw.runTask(once))).code).to.equal("TASK_NO_KEY");
    await gw.prepareTask(5n);
    expect((await agentError(gw.runTask(await taskFor(5n, stranger, "function run(i) { return 1; }", [1], recipients)))).code).to.equal("TASK_NO_KEY");
    const bad = await gw.request({ type: "task-run", taskId: "6", taskKey: "zz" });
    expect(bad.type === "error" && bad.code).to.equal("MESSAGE_INVALID");
    expect((await gw.hello()).tier).to.equal("software");
  });
});
