/**
 * End-to-end attestation benchmark -> bench/results/e2e.json
 *
 *   npm run bench:e2e [-- --seconds 30 --rates 3000,700,600 --processes 0]
 *
 * The whole system as the demo runs it (offchain/devnet): a hardhat node, 7 gateways in
 * this process, each with an swtpm-backed HPC, the embedded IPFS store and the sandboxed
 * scoring function. `--processes N` runs the gateways in N processes of their own instead
 * (DevnetOptions.gatewayProcesses), as separate daemons would; on this 2-core machine one
 * process costs the least CPU per verdict (one paired series: 2 and 7 processes cost 1.3x
 * and 2.3x as much at light load, and sustained no more under load), so it is the default.
 * Once every node is Trusted, each phase sets the mean interval between two rounds of one
 * node (the VRF-drawn schedule; a new mean takes effect with the next epoch), lets one
 * epoch pass, then measures for `--seconds`:
 *  - latency of each round, from the first evidence request any verifier sent to the
 *    moment the certificate's transaction was mined (the submitter's receipt);
 *  - machines attested per second: verdicts recorded on chain in the window / its length;
 *  - rounds scheduled and rounds recorded (retries of failed rounds count once, as their round).
 * The phases: light load (latency), 10 rounds/s offered, and a little more (600 ms: 11.7/s)
 * to see whether 10/s is sustained with load to spare or only just.
 * Targets (issue 5): p50 <= 500 ms; >= 10 machines/s (Keylime's sample: 3.9/s).
 * The machine is shared and the load average is recorded: wall-clock figures on a loaded
 * 2-core box mostly measure waiting for a core, so CPU seconds per verdict are given too:
 * the gateways' (this process and any gateway processes) and the rest's (the hardhat node,
 * the machines' process with the tpm2-tools runs it waited for).
 * `npm run bench:e2e` gives V8 a 32 MiB young generation (--max-semi-space-size, recorded
 * in the results): this one process allocates for seven gateways, and with the default
 * size garbage collection was 9% of its thread (CPU per verdict 0.096 s, 0.085 with it).
 */
import "../offchain/core/polyfills.js";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { Devnet } from "../offchain/devnet/devnet.js";
import { demoOptions, statuses } from "../offchain/devnet/scenes.js";
import { NodeStatus, decodeRoundId } from "../offchain/core/protocol.js";
import { trustBoardAbi } from "../offchain/chain/artifacts.js";
import type { RoundTiming } from "../offchain/relayer/verifier.js";
import { RETRY_SEQUENCE_STEP } from "../offchain/relayer/gateway.js";
import { roundSchedule } from "../offchain/core/schedule.js";

const program = new Command()
  .option("--seconds <s>", "measured window per phase", "30")
  .option("--rates <list>", "mean interval between two rounds of one node, ms, one phase each", "3000,700,600")
  .option("--nodes <n>", "gateways", "7")
  .option("--processes <n>", "processes the gateways run in (0: all in this one)", "0")
  .parse(process.argv);
const opts = program.opts<{ seconds: string; rates: string; nodes: string; processes: string }>();

interface Latency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

interface Phase {
  meanIntervalMs: number;
  /** Set when the phase could not be measured (the chain's RPC fell behind, ...): the other fields are then zero. */
  error?: string;
  offeredRoundsPerSecond: number;
  windowSeconds: number;
  verdictsRecorded: number;
  machinesAttestedPerSecond: number;
  distinctMachinesAttested: number;
  latency: Latency;
  /**
   * Rounds the epochs' schedules put in the window, per second: below the offered rate by
   * what the epoch changes cost (the next epoch opens by a transaction once the last one is
   * over, and the gateways learn its seed when they see that transaction).
   */
  scheduledRoundsPerSecond: number;
  roundsRequested: number;
  retriesRequested: number;
  /** CPU of the gateways in the window (this process and the gateway processes), per verdict. */
  cpuSecondsPerVerdict: number | null;
  /** CPU of the other processes this one started, in the window (the hardhat node, the machines' process, swtpm, tpm2-tools), per verdict; null off Linux. */
  childCpuSecondsPerVerdict: number | null;
  loadAverage1m: number;
}

const EMPTY_PHASE: Phase = {
  meanIntervalMs: 0,
  offeredRoundsPerSecond: 0,
  windowSeconds: 0,
  verdictsRecorded: 0,
  machinesAttestedPerSecond: 0,
  distinctMachinesAttested: 0,
  scheduledRoundsPerSecond: 0,
  latency: { samples: 0, p50Ms: 0, p99Ms: 0, meanMs: 0 },
  roundsRequested: 0,
  retriesRequested: 0,
  cpuSecondsPerVerdict: null,
  childCpuSecondsPerVerdict: null,
  loadAverage1m: 0,
};

/**
 * CPU seconds used so far, split in two: the gateways (this process, and the processes the
 * devnet runs gateways in) and everything else this process started (the hardhat node, the
 * machines' process with its swtpm and tpm2-tools runs). A live child's figure includes the
 * children it has already waited for (cutime, cstime): the tpm2-tools run for each quote.
 * Off Linux (no /proc) only this process's own CPU is known.
 */
function cpuSample(gatewayPids: ReadonlySet<number>): { gateways: number | null; others: number | null } {
  const own = process.cpuUsage();
  const ownSeconds = (own.user + own.system) / 1e6;
  if (!existsSync("/proc/self/stat")) return { gateways: gatewayPids.size === 0 ? ownSeconds : null, others: null };
  const fieldsOf = (stat: string) => stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After "(comm) ": state, ppid, ..., utime (14th field of the line), stime, cutime, cstime.
  const self = fieldsOf(readFileSync("/proc/self/stat", "utf8"));
  let gatewayTicks = 0;
  let otherTicks = Number(self[13]) + Number(self[14]);
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const f = fieldsOf(stat);
    if (Number(f[1]) !== process.pid) continue;
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    if (gatewayPids.has(Number(pid))) gatewayTicks += ticks;
    else otherTicks += ticks;
  }
  return { gateways: ownSeconds + gatewayTicks / 100, others: otherTicks / 100 }; // USER_HZ
}

function summarise(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const r = (x: number) => Math.round(x);
  return { samples: s.length, p50Ms: r(at(0.5)), p99Ms: r(at(0.99)), meanMs: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) };
}

/** The scheduled round a retry id stands for (its sequence minus the retry offset). */
function baseRound(round: bigint): bigint {
  const { sequence } = decodeRoundId(round);
  return round - (sequence / RETRY_SEQUENCE_STEP) * RETRY_SEQUENCE_STEP;
}

const perVerdict = (before: number | null, after: number | null, verdicts: number): number | null =>
  verdicts > 0 && before !== null && after !== null ? Math.round(((after - before) / verdicts) * 1000) / 1000 : null;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A read of the chain that may time out while the hardhat node is saturated (it runs in
 * one JS thread and serves every gateway): tried again after a pause instead of ending the
 * benchmark, and reported as the phase's error when it never answers.
 */
async function patiently<T>(what: string, read: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await read();
    } catch (e) {
      if (i >= attempts) throw new Error(`${what}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)} (after ${attempts} attempts)`);
      await sleep(2_000 * i);
    }
  }
}

/** VerdictRecorded events in a block range, read in slices so that no single eth_getLogs is large. */
async function verdictsBetween(net: Devnet, fromBlock: bigint, toBlock: bigint): Promise<{ node: bigint }[]> {
  const out: { node: bigint }[] = [];
  const SLICE = 200n;
  for (let from = fromBlock; from <= toBlock; from += SLICE) {
    const to = from + SLICE - 1n < toBlock ? from + SLICE - 1n : toBlock;
    const events = await patiently(`VerdictRecorded in blocks ${from}-${to}`, () =>
      net.publicClient.getContractEvents({ address: net.deployment.contracts.TrustBoard, abi: trustBoardAbi, eventName: "VerdictRecorded", fromBlock: from, toBlock: to, strict: true }),
    );
    for (const e of events) out.push({ node: e.args.node });
  }
  return out;
}

/**
 * Scheduled rounds of all nodes whose start falls in [fromMs, toMs] (wall clock), from the
 * schedules of the epochs `first`..`last` as the gateways compute them (gateway.ts).
 */
async function scheduledBetween(net: Devnet, first: bigint, last: bigint, meanIntervalMs: number, fromMs: number, toMs: number): Promise<number> {
  const head = await patiently("the latest block", () => net.publicClient.getBlock({ blockTag: "latest" }));
  const chainAheadMs = Math.max(0, Number(head.timestamp) * 1000 - Date.now());
  let count = 0;
  for (let e = first; e <= last; e++) {
    const info = await patiently(`epoch ${e}`, () => net.chainView.epoch(e));
    for (const n of net.nodes) {
      for (const r of roundSchedule({ seed: info.seed, epoch: e, node: n.nodeId, epochStartMs: Number(info.start) * 1000, epochLengthMs: net.opts.epochSeconds * 1000, meanIntervalMs })) {
        const local = r.startMs - chainAheadMs;
        if (local >= fromMs && local <= toMs) count++;
      }
    }
  }
  return count;
}

async function main(): Promise<void> {
  const nodes = Number.parseInt(opts.nodes, 10);
  const seconds = Number.parseFloat(opts.seconds);
  const rates = opts.rates.split(",").map((x) => Number.parseInt(x, 10));
  const requested = new Map<bigint, number>();
  const recorded = new Map<bigint, number>();
  const onRoundTiming = (_gw: number, t: RoundTiming): void => {
    if (t.event === "requested") {
      const prev = requested.get(t.round);
      if (prev === undefined || t.at < prev) requested.set(t.round, t.at);
    } else if (!recorded.has(t.round)) recorded.set(t.round, t.at);
  };
  const dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "trustmesh-bench-e2e-"));
  const t0 = Date.now();
  const log = (line: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
  const gatewayProcesses = Number.parseInt(opts.processes, 10);
  const net = await Devnet.start({ ...demoOptions(nodes, dir), epochSeconds: 10, meanIntervalMs: rates[0] ?? 3000, onRoundTiming, progress: log, gatewayProcesses });
  const gatewayPids = new Set(net.hosts.map((h) => h.pid).filter((pid) => pid !== undefined));
  const phases: Phase[] = [];
  try {
    log("waiting for every node to be Trusted");
    await net.waitFor("every node Trusted", async () => (await statuses(net)).every((s) => s === NodeStatus.Trusted), 180_000);
    for (const mean of rates) {
      try {
        phases.push(await measurePhase(mean));
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        log(`  phase at ${mean} ms not measured: ${error}`);
        phases.push({ ...EMPTY_PHASE, meanIntervalMs: mean, offeredRoundsPerSecond: Math.round(((nodes * 1000) / mean) * 100) / 100, error, loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100 });
      }
    }
  } finally {
    await net.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }

  async function measurePhase(mean: number): Promise<Phase> {
    await net.setAttestationInterval(mean);
    // A new mean applies from the next epoch on; let one open, then measure.
    const epoch = await patiently("the current epoch", () => net.currentEpoch());
    await net.waitFor("the next epoch", async () => (await net.currentEpoch()) > epoch, 60_000);
    log(`phase: one round per node every ${mean} ms on average (${((nodes * 1000) / mean).toFixed(1)} rounds/s offered), ${seconds} s`);
    const fromBlock = await patiently("the block number", () => net.publicClient.getBlockNumber());
    const firstEpoch = await patiently("the current epoch", () => net.currentEpoch());
    const start = Date.now();
    const cpu0 = cpuSample(gatewayPids);
    await sleep(seconds * 1000);
    const end = Date.now();
    const cpu1 = cpuSample(gatewayPids);
    const toBlock = await patiently("the block number", () => net.publicClient.getBlockNumber());
    const lastEpoch = await patiently("the current epoch", () => net.currentEpoch());
    const events = await verdictsBetween(net, fromBlock + 1n, toBlock);
    const scheduled = await scheduledBetween(net, firstEpoch, lastEpoch, mean, start, end);
    const latencies: number[] = [];
    for (const [round, at] of recorded) {
      if (at < start || at > end) continue;
      const from = requested.get(round);
      if (from !== undefined) latencies.push(at - from);
    }
    const inWindow = [...requested].filter(([, at]) => at >= start && at <= end).map(([r]) => r);
    const retries = inWindow.filter((r) => baseRound(r) !== r).length;
    const p: Phase = {
      meanIntervalMs: mean,
      offeredRoundsPerSecond: Math.round(((nodes * 1000) / mean) * 100) / 100,
      windowSeconds: Math.round((end - start) / 100) / 10,
      verdictsRecorded: events.length,
      machinesAttestedPerSecond: Math.round((events.length / ((end - start) / 1000)) * 100) / 100,
      distinctMachinesAttested: new Set(events.map((e) => e.node)).size,
      scheduledRoundsPerSecond: Math.round((scheduled / ((end - start) / 1000)) * 100) / 100,
      latency: summarise(latencies),
      roundsRequested: inWindow.length - retries,
      retriesRequested: retries,
      cpuSecondsPerVerdict: perVerdict(cpu0.gateways, cpu1.gateways, events.length),
      childCpuSecondsPerVerdict: perVerdict(cpu0.others, cpu1.others, events.length),
      loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    };
    log(`  ${p.verdictsRecorded} verdicts (${p.machinesAttestedPerSecond}/s), latency p50 ${p.latency.p50Ms} ms p99 ${p.latency.p99Ms} ms (${p.latency.samples} rounds timed), load ${p.loadAverage1m}`);
    return p;
  }

  const measured = phases.filter((p) => p.error === undefined);
  const best = measured.reduce<Phase | undefined>((a, b) => (a === undefined || b.machinesAttestedPerSecond > a.machinesAttestedPerSecond ? b : a), undefined);
  const light = measured[0];
  const result = {
    generatedAt: new Date().toISOString(),
    environment: { cpus: cpus().length, loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100, node: process.version, gateways: nodes, gatewayProcesses, note: gatewayProcesses === 0 ? "one process runs all gateways; the machine is shared with other jobs (see loadAverage1m)" : `the gateways run in ${gatewayProcesses} processes of their own; the machine is shared with other jobs (see loadAverage1m)`, nodeOptions: process.env.NODE_OPTIONS ?? "" },
    targets: { latencyP50Ms: 500, machinesPerSecond: 10 },
    summary: {
      latencyP50Ms: light?.latency.p50Ms ?? null,
      latencyP99Ms: light?.latency.p99Ms ?? null,
      machinesAttestedPerSecond: best?.machinesAttestedPerSecond ?? null,
      meetsLatencyTarget: light !== undefined && light.latency.p50Ms <= 500,
      meetsThroughputTarget: best !== undefined && best.machinesAttestedPerSecond >= 10,
    },
    phases,
  };
  await mkdir(join(import.meta.dirname, "results"), { recursive: true });
  await writeFile(join(import.meta.dirname, "results", "e2e.json"), JSON.stringify(result, null, 2) + "\n");
  console.log("\nmean ms  offered/s  scheduled/s  verdicts  machines/s  p50 ms  p99 ms  timed  retries  cpu s/verdict  chain+tpm s/verdict  load");
  for (const p of phases) {
    if (p.error !== undefined) {
      console.log(`${String(p.meanIntervalMs).padStart(7)}  ${String(p.offeredRoundsPerSecond).padStart(9)}  not measured: ${p.error}`);
      continue;
    }
    console.log(
      `${String(p.meanIntervalMs).padStart(7)}  ${String(p.offeredRoundsPerSecond).padStart(9)}  ${String(p.scheduledRoundsPerSecond).padStart(11)}  ${String(p.verdictsRecorded).padStart(8)}  ${String(p.machinesAttestedPerSecond).padStart(10)}  ${String(p.latency.p50Ms).padStart(6)}  ${String(p.latency.p99Ms).padStart(6)}  ${String(p.latency.samples).padStart(5)}  ${String(p.retriesRequested).padStart(7)}  ${String(p.cpuSecondsPerVerdict).padStart(13)}  ${String(p.childCpuSecondsPerVerdict).padStart(19)}  ${p.loadAverage1m}`,
    );
  }
  console.log(`\nwrote bench/results/e2e.json (targets: p50 <= 500 ms, >= 10 machines/s)`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench:e2e failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
