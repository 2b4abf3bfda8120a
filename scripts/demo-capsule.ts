/**
 * `npm run demo:capsule`: the seed's digital-capsule example on a local devnet.
 * Seven gateways with swtpm-backed HPCs attest each other; once all are Trusted, A defines
 * "common names of two lists", B and C each seal 10,000 names, a VRF-chosen Trusted node
 * X claims the task key from A's broker (released only on a fresh Trusted verdict),
 * computes in its sandbox, seals the intersection to B and C; both open and check it,
 * and settle() pays X's operator after X's post-run attestation.
 */
import "../offchain/core/polyfills.js";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { missingTpmTool, TPM_INSTALL_COMMAND } from "../offchain/devnet/tools.js";
import { Devnet } from "../offchain/devnet/devnet.js";
import { demoOptions, statuses } from "../offchain/devnet/scenes.js";
import { NodeStatus } from "../offchain/core/protocol.js";
import { TaskWorld } from "../offchain/task/devnet.js";
import { runCapsuleTask } from "../offchain/task/scenario.js";

const program = new Command()
  .name("npm run demo:capsule --")
  .description("Digital capsules: sealed inputs, a VRF-chosen trusted executor, a sealed result, payment")
  .option("--nodes <n>", "number of node pairs", "7")
  .option("--names <n>", "names in each list", "10000")
  .option("--mean-interval-ms <ms>", "mean gap between two attestation rounds of one node (default: the demo tempo)")
  .option("--steady-interval-ms <ms>", "mean gap between scheduled attestations of a node once enough are Trusted (0: keep the enrolment tempo)", "20000")
  .option("--min-trusted <n>", "Trusted nodes to wait for before the task is posted (only Trusted nodes can execute)", "4")
  .option("--log-level <level>", "gateway log level (pino)", "silent")
  .parse(process.argv);
const opts = program.opts<{ nodes: string; names: string; minTrusted: string; steadyIntervalMs: string; meanIntervalMs?: string; logLevel: string }>();

const t0 = Date.now();
const say = (line: string): void => {
  process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
};

function requireTools(): void {
  const tool = missingTpmTool();
  if (tool === undefined) return;
  process.stderr.write(`the demo needs ${tool}: install it with "${TPM_INSTALL_COMMAND}"\n`);
  process.exit(1);
}

/**
 * Only Trusted nodes can execute, so the task waits for the first attestations; it does
 * not need all of them (on a loaded machine the last first rounds can take minutes).
 */
async function waitTrusted(net: Devnet, want: number): Promise<void> {
  say(`waiting for the first attestation rounds (VRF-drawn times) until ${want} nodes are Trusted on chain`);
  let last = -1;
  await net.waitFor(
    `${want} Trusted nodes`,
    async () => {
      const n = (await statuses(net)).filter((s) => s === NodeStatus.Trusted).length;
      if (n !== last) say(`${n}/${net.nodes.length} nodes Trusted`);
      last = n;
      return n >= want;
    },
    300_000,
  );
}

async function main(): Promise<number> {
  requireTools();
  const dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "trustmesh-capsule-"));
  const nodes = Number.parseInt(opts.nodes, 10);
  const size = Number.parseInt(opts.names, 10);
  const extra = opts.meanIntervalMs ? { meanIntervalMs: Number.parseInt(opts.meanIntervalMs, 10) } : {};
  let net: Devnet;
  try {
    net = await Devnet.start({ ...demoOptions(nodes, dir, extra), logLevel: opts.logLevel, progress: say });
  } catch (e) {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    throw e;
  }
  let world: TaskWorld | undefined;
  let code = 0;
  try {
    world = await TaskWorld.attach(net, {
      onOutcome: (node, taskId, o) => {
        if (o.kind === "failed") say(`node ${node.nodeId}: task ${taskId} failed: ${o.error.code} ${o.error.shortMessage} ${o.error.metaMessages.join("; ")}`);
        if (o.kind === "not-chosen") say(`node ${node.nodeId}: was a candidate for task ${taskId}, the broker gave the key to another (${o.reason})`);
        if (o.kind === "submitted") {
          const t = o.timings;
          say(
            `node ${node.nodeId}: candidate -> pre-run verdict ${t.preRunVerdict} ms -> key ${t.key} ms -> sealed inputs fetched ${t.inputs} ms -> run on its HPC ${t.run} ms (function ${t.sandboxRunMs} ms; HPC scratch ${o.scratch.before.files} files -> ${o.scratch.after.files}) -> result pinned ${t.sealed} ms -> submitted ${t.submitted} ms`,
          );
        }
      },
    });
    world.start();
    await waitTrusted(net, Math.min(nodes, Number.parseInt(opts.minTrusted, 10)));
    const steady = Number.parseInt(opts.steadyIntervalMs, 10);
    if (steady > 0) {
      // Enrolment attests every few seconds; the task then asks for its own rounds, so the
      // scheduled ones can come less often and leave the two cores to the task.
      say(`scheduled attestations from the next epoch on: one per node every ~${steady / 1000} s on average (tasks ask for their own rounds)`);
      await net.calmAttestation(steady);
    }
    const r = await runCapsuleTask(world, { size, overlap: Math.floor(size / 4), say, resultTimeoutMs: 300_000, settleTimeoutMs: 300_000 });
    say(`done: task ${r.taskId} from createTask to payment in ${(r.timings.settled / 1000).toFixed(1)} s (result on chain after ${(r.timings.resultOnChain / 1000).toFixed(1)} s); whole demo ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    code = 1;
  } finally {
    await world?.stop();
    await net.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
