/**
 * The main job (`npm start`): the whole system on one machine, in four scenes, then an
 * auditor's report read from the chain alone.
 *   1. enrolment and first attestation of every node -> all Trusted on chain;
 *   2. a tampered HPC (an unapproved container measured into its event log) -> Untrusted,
 *      its reputation falls, its gateway reboots it, and the clean reboot is Trusted again;
 *   3. a Byzantine verifier signs two conflicting votes -> disputed and slashed on chain;
 *   4. a scoring-policy upgrade through the timelock takes effect at a later epoch.
 * `--keep` leaves everything running; `--json` prints the report as JSON.
 */
import "../offchain/core/polyfills.js";
import { mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { missingTpmTool, TPM_INSTALL_COMMAND } from "../offchain/devnet/tools.js";
import { Devnet, type DevnetNode } from "../offchain/devnet/devnet.js";
import { NodeStatus, Verdict } from "../offchain/core/protocol.js";
import { listNodes, readPolicyHistory, readVerdicts, type AuditTarget } from "../offchain/chain/reads.js";
import {
  auditTarget,
  demoOptions,
  sceneAllTrusted,
  sceneEquivocation,
  sceneTamper,
  sceneUpgrade,
  scheduleUpgrade,
  statuses,
  type UpgradeSchedule,
} from "../offchain/devnet/scenes.js";
import { formatEther } from "viem";

const program = new Command()
  .name("npm start --")
  .description("Run trustmesh on one machine: chain, 7 gateways with swtpm-backed HPCs, four scenes, an audit")
  .option("--keep", "leave the system running for exploration (Ctrl-C to stop)")
  .option("--json", "print the final audit report as JSON")
  .option("--nodes <n>", "number of node pairs", "7")
  .option("--log-level <level>", "gateway log level (pino)", "silent")
  .parse(process.argv);
const opts = program.opts<{ keep?: boolean; json?: boolean; nodes: string; logLevel: string }>();

const t0 = Date.now();
const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
const say = (line: string): void => {
  if (!opts.json) process.stdout.write(`[${elapsed()}] ${line}\n`);
};

function requireTools(): void {
  const tool = missingTpmTool();
  if (tool === undefined) return;
  process.stderr.write(`trustmesh needs ${tool}: install it with "${TPM_INSTALL_COMMAND}"\n`);
  process.exit(1);
}

const STATUS = Object.fromEntries(Object.entries(NodeStatus).map(([k, v]) => [v, k])) as Record<number, string>;

async function main(): Promise<number> {
  requireTools();
  // State on tmpfs when there is one: seven journals fsync on every round step.
  const dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "trustmesh-demo-"));
  const nodes = Number.parseInt(opts.nodes, 10);
  let net: Devnet;
  try {
    net = await Devnet.start({ ...demoOptions(nodes, dir), logLevel: opts.logLevel, progress: say });
  } catch (e) {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    throw e;
  }
  let exitCode = 0;
  let upgrade: Promise<UpgradeSchedule> | undefined;
  try {
    const target = auditTarget(net);
    await sceneAllTrusted(net, say);
    await sceneTamper(net, net.nodes[nodes - 1] as DevnetNode, say);
    // The policy upgrade is scheduled now, for two epochs ahead: those epochs pass while
    // scene 3 plays, and scene 4 then only has to find the first v2 verdict.
    upgrade = scheduleUpgrade(net);
    upgrade.catch(() => undefined);
    await sceneEquivocation(net, net.nodes[2] as DevnetNode, say);
    await sceneUpgrade(net, upgrade, say);
    await report(net, target);
    say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (opts.keep) {
      process.stdout.write(`\nThe system keeps running. RPC ${net.rpcUrl}; deployment ${join(dir, "deployment.json")}\n`);
      process.stdout.write(`Try: ./bin/trustmesh.js audit nodes --rpc ${net.rpcUrl} --deployment ${join(dir, "deployment.json")}\n`);
      process.stdout.write(`     ./bin/trustmesh.js web --rpc ${net.rpcUrl} --deployment ${join(dir, "deployment.json")}\nCtrl-C stops it.\n`);
      await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    }
  } catch (e) {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    exitCode = 1;
  } finally {
    await upgrade?.catch(() => undefined);
    await net.stop();
    // A round still unwinding may touch its state for a moment after the stop: retry.
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
  return exitCode;
}

async function report(net: Devnet, target: AuditTarget): Promise<void> {
  const [nodes, verdicts, policy] = await Promise.all([listNodes(target), readVerdicts(target), readPolicyHistory(target)]);
  if (opts.json) {
    process.stdout.write(
      JSON.stringify({ nodes, verdicts, policy }, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n",
    );
    return;
  }
  const out: string[] = ["", "Auditor's report (read from the chain alone)", ""];
  out.push("node  status     tier  stake (TRUST)  reputation  verdicts");
  for (const n of nodes) {
    out.push(
      `${String(n.id).padEnd(6)}${n.status.padEnd(11)}${String(n.tier).padEnd(6)}${formatEther(n.stake).padStart(13)}  ${String(n.reputation).padStart(10)}  ${String(n.verdictCount).padStart(8)}`,
    );
  }
  const trusted = verdicts.filter((v) => v.verdictCode === Verdict.Trusted).length;
  out.push("", `verdicts recorded: ${verdicts.length} (${trusted} trusted, ${verdicts.length - trusted} untrusted, ${verdicts.filter((v) => v.voided).length} voided)`);
  for (const v of verdicts.filter((x) => x.verdictCode === Verdict.Untrusted).slice(-3)) {
    out.push(`  untrusted: node ${v.node} epoch ${v.epoch} score ${v.score} evidence ${v.evidenceCid} signers ${v.signers.length}`);
  }
  out.push("", "scoring policy history:");
  for (const p of policy.entries) out.push(`  #${p.index} from epoch ${p.effectiveEpoch}: ${p.cid}${p.active ? "  (active)" : p.pending ? "  (pending)" : ""}`);
  out.push("", `statuses: ${(await statuses(net)).map((s, i) => `${i + 1}=${STATUS[s]}`).join(" ")}`);
  process.stdout.write(out.join("\n") + "\n\n");
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
