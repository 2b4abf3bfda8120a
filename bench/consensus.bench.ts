/**
 * Consensus benchmark -> bench/results/consensus.json
 *
 *   npm run bench:consensus [-- --quick]
 *
 * 1. PBFT in-process: n = 4, 7, 10 replicas of the production state machine in one process,
 *    real crypto (secp256k1 message authenticators, EIP-712 Vote signatures with viem on every
 *    commit, every endorsement verified). Latency: one proposal at a time until every replica
 *    decided. Throughput: a burst of proposals with batching (maxBatch 32; Vote signatures checked
 *    on receipt by everyone, or only by the certificate builder) and without batching (1).
 *    All n replicas share this one process, so per-gateway figures would be ~n times better.
 * 2. VRF prove/verify and on-chain fastVerify gas (bench/lib/vrf-bench.ts, if present).
 * 3. Gossip latency and PBFT over libp2p on loopback (bench/lib/p2p-bench.ts, if present), all
 *    hosts on this process's one thread.
 * 4. The same with one worker thread per host (bench/lib/p2p-workers.ts), n = 7: closer to one
 *    host per machine, though here every thread still shares the machine's two cores.
 *
 * Every rate comes with CPU seconds of this process (all threads) and the 1-minute load
 * average: on a shared machine wall-clock rates mostly measure waiting for a core.
 */
import "../offchain/core/polyfills.js";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { Replica } from "../offchain/core/pbft/replica.js";
import { simKeys } from "../offchain/core/pbft/sim/cluster.js";
import type { PbftMessage, ReplicaInput, ReplicaOutput, Vote } from "../offchain/core/pbft/types.js";
import { Verdict } from "../offchain/core/protocol.js";

interface Latency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

interface Burst {
  proposals: number;
  seconds: number;
  decisionsPerSecond: number;
  /** decisions per second of this process's CPU time: on a loaded shared machine, wall-clock mostly measures waiting for a core */
  decisionsPerCpuSecond: number;
  batches: number;
}

interface InProcessFigures {
  n: number;
  latency: Latency;
  /** maxBatch 32, every replica checks every Vote signature on receipt and builds certificates */
  batched: Burst;
  /** maxBatch 32, endorsementCheck "at-certificate", only replica 0 builds (and checks) certificates */
  batchedLazyEndorsements: Burst;
  /** maxBatch 1 */
  unbatched: Burst;
  /** Messages delivered per decided proposal in the unbatched burst. */
  messagesPerDecision: number;
}

function summarise(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { samples: s.length, p50Ms: r(at(0.5)), p99Ms: r(at(0.99)), meanMs: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) };
}

function benchVote(round: number): Vote {
  return { round: BigInt(round), node: 42n, verdict: Verdict.Trusted, score: 88, evidenceCid: "0x01551220aa", policyCid: "0x01551220bb" };
}

/** n replicas wired through a FIFO queue with zero network delay; timers are run on the event loop. */
class InProcessCommittee {
  readonly replicas: Replica[];
  private readonly queue: { to: number; message: PbftMessage }[] = [];
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  decidedVotes: number[];
  batches = 0;
  delivered = 0;

  constructor(
    readonly n: number,
    maxBatch: number,
    lazy = false,
  ) {
    const keys = simKeys(2024, n, "secp256k1");
    this.replicas = [...Array(n).keys()].map(
      (i) =>
        new Replica({
          id: i,
          members: keys.members,
          auth: keys.auth(i),
          voteSigner: keys.voteSigner(i),
          voteVerifier: keys.verifier,
          maxBatch,
          batchTimeoutMs: maxBatch > 1 ? 2 : 0,
          requestTimeoutMs: 600_000,
          checkpointInterval: 64,
          ...(lazy ? { endorsementCheck: "at-certificate" as const, buildCertificates: i === 0 } : {}),
        }),
    );
    this.decidedVotes = new Array(n).fill(0);
  }

  private async step(i: number, input: ReplicaInput): Promise<void> {
    this.apply(i, await this.replicas[i]!.step(input));
  }

  private apply(i: number, outs: ReplicaOutput[]): void {
    for (const o of outs) {
      if (o.type === "broadcast") for (let to = 0; to < this.n; to++) if (to !== i) this.queue.push({ to, message: o.message });
      if (o.type === "send") this.queue.push({ to: o.to, message: o.message });
      if (o.type === "decide") {
        this.decidedVotes[i]! += o.decision.batch.length;
        if (i === 0) this.batches++;
      }
      if (o.type === "set-timer") {
        const key = `${i}/${o.timer.kind}:${o.timer.view}`;
        clearTimeout(this.timers.get(key));
        this.timers.set(
          key,
          setTimeout(() => {
            this.timers.delete(key);
            void this.step(i, { type: "timeout", timer: o.timer }).then(() => this.drain());
          }, o.ms),
        );
      }
      if (o.type === "cancel-timer") {
        const key = `${i}/${o.timer.kind}:${o.timer.view}`;
        clearTimeout(this.timers.get(key));
        this.timers.delete(key);
      }
    }
  }

  private draining = false;
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const e = this.queue.shift()!;
        this.delivered++;
        await this.step(e.to, { type: "message", message: e.message });
      }
    } finally {
      this.draining = false;
    }
  }

  /** Proposals go to the primary (the PBFT client path); it forwards them to the backups. */
  async propose(v: Vote): Promise<void> {
    await this.step(0, { type: "request", vote: v });
  }

  minDecided(): number {
    return Math.min(...this.decidedVotes);
  }

  async waitAllDecided(target: number, timeoutMs: number): Promise<void> {
    const t0 = performance.now();
    while (this.minDecided() < target) {
      await this.drain();
      if (this.minDecided() >= target) break;
      if (performance.now() - t0 > timeoutMs) throw new Error(`only ${this.minDecided()}/${target} decided after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
  }
}

async function inProcess(n: number, rounds: number, burst: number, unbatchedBurst: number): Promise<InProcessFigures> {
  let round = n * 1_000_000;
  const latencies: number[] = [];
  const single = new InProcessCommittee(n, 1);
  try {
    for (let k = 0; k < rounds; k++) {
      const target = single.minDecided() + 1;
      const t0 = performance.now();
      await single.propose(benchVote(++round));
      await single.waitAllDecided(target, 120_000);
      latencies.push(performance.now() - t0);
    }
  } finally {
    single.stop();
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const runBurst = async (maxBatch: number, proposals: number, lazy = false) => {
    const c = new InProcessCommittee(n, maxBatch, lazy);
    try {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let k = 0; k < proposals; k++) await c.propose(benchVote(++round));
      await c.waitAllDecided(proposals, 900_000);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const figures: Burst = {
        proposals,
        seconds: r3(seconds),
        decisionsPerSecond: r3(proposals / seconds),
        decisionsPerCpuSecond: r3(proposals / cpuSeconds),
        batches: c.batches,
      };
      return { figures, delivered: c.delivered };
    } finally {
      c.stop();
    }
  };
  const b = await runBurst(32, burst);
  const lazy = await runBurst(32, burst, true);
  const u = await runBurst(1, unbatchedBurst);
  return {
    n,
    latency: summarise(latencies),
    batched: b.figures,
    batchedLazyEndorsements: lazy.figures,
    unbatched: u.figures,
    messagesPerDecision: Math.round(u.delivered / unbatchedBurst),
  };
}

async function optional<T>(file: string, what: string, run: (mod: Record<string, unknown>) => Promise<T>): Promise<T | { skipped: string }> {
  const url = new URL(file, import.meta.url);
  if (!existsSync(url)) {
    console.log(`(${what}: ${file} is absent, section skipped)`);
    return { skipped: `${file} absent` };
  }
  try {
    return await run((await import(url.href)) as Record<string, unknown>);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.log(`(${what} failed: ${msg})`);
    return { skipped: `failed: ${msg}` };
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const pbftOnly = process.argv.includes("--pbft-only");
  // Re-measures only the worker-thread section and keeps every other section of the last run.
  const workersOnly = process.argv.includes("--workers-only");
  const sizesArg = process.argv.find((a) => a.startsWith("--sizes="));
  const sizes = sizesArg ? sizesArg.slice(8).split(",").map(Number) : [4, 7, 10];
  const rounds = quick ? 5 : 20;
  const burst = quick ? 32 : 64;

  const pbft: InProcessFigures[] = [];
  for (const n of workersOnly ? [] : sizes) {
    const f = await inProcess(n, rounds, burst, quick ? 8 : 16);
    pbft.push(f);
    console.log(`in-process n=${n} done`);
  }
  console.log(`\nPBFT in-process, real secp256k1 + EIP-712 (all replicas in one process; load avg ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cpus)`);
  console.table(
    Object.fromEntries(
      pbft.map((p) => [
        `n=${p.n}`,
        {
          p50_ms: p.latency.p50Ms,
          p99_ms: p.latency.p99Ms,
          batched_per_s: p.batched.decisionsPerSecond,
          batched_per_cpu_s: p.batched.decisionsPerCpuSecond,
          lazy_sig_check_per_s: p.batchedLazyEndorsements.decisionsPerSecond,
          lazy_per_cpu_s: p.batchedLazyEndorsements.decisionsPerCpuSecond,
          unbatched_per_s: p.unbatched.decisionsPerSecond,
          msgs_per_decision: p.messagesPerDecision,
        },
      ]),
    ),
  );

  const vrf = pbftOnly || workersOnly ? { skipped: "--pbft-only" } : await optional("./lib/vrf-bench.ts", "VRF bench", async (m) => {
    const runVrfBench = m.runVrfBench as (o: object) => Promise<Record<string, unknown>>;
    const format = m.formatVrfTable as ((f: unknown) => string) | undefined;
    const figures = await runVrfBench(quick ? { minSeconds: 0.5, gasSamples: 3 } : {});
    if (format) console.log(`\n${format(figures)}`);
    return figures;
  });

  const libp2pAvailable = existsSync(new URL("../offchain/p2p/pbft-transport.ts", import.meta.url));
  const p2p = pbftOnly || workersOnly
    ? { skipped: "--pbft-only" }
    : libp2pAvailable
    ? await optional("./lib/p2p-bench.ts", "P2P bench", async (m) => {
        const runP2pBench = m.runP2pBench as (o: object) => Promise<Record<string, unknown>>;
        const figures = await runP2pBench(
          quick ? { pacedMessages: 100, burstMessages: 200, pbftSizes: [4, 7], pbftRounds: 5, pbftBurst: 32 } : { pbftSizes: sizes, pbftRounds: 20, pbftBurst: 128 },
        );
        console.log("\nGossip and PBFT over libp2p (loopback)");
        console.log(JSON.stringify(figures, null, 2));
        return figures;
      })
    : { skipped: "offchain/p2p/pbft-transport.ts absent" };

  const p2pWorkers = pbftOnly
    ? { skipped: "--pbft-only" }
    : await optional("./lib/p2p-workers.ts", "P2P worker-thread bench", async (m) => {
        const runGossipWorkers = m.runGossipWorkers as (n: number, o: object) => Promise<Record<string, unknown>>;
        const runPbftWorkers = m.runPbftWorkers as (n: number, rounds: number, burst: number) => Promise<Record<string, unknown>>;
        const load = () => Math.round(loadavg()[0]! * 100) / 100;
        const loadBefore = load();
        // Each part on its own: a failure of one still leaves the other's figures.
        const attempt = async (what: string, run: () => Promise<Record<string, unknown>>) => {
          try {
            return await run();
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            console.log(`(${what} failed: ${msg})`);
            return { skipped: `failed: ${msg}` };
          }
        };
        const gossip = await attempt("worker gossip", () => runGossipWorkers(7, quick ? { pacedMessages: 100, burstMessages: 200 } : {}));
        const pbft = [await attempt("worker PBFT n=7", () => runPbftWorkers(7, quick ? 5 : 20, quick ? 64 : 128))];
        const figures = { gossip, pbft, environment: { cpus: cpus().length, loadAverage1mBefore: loadBefore, loadAverage1mAfter: load() } };
        console.log("\nGossip and PBFT over libp2p, one worker thread per host (loopback)");
        console.log(JSON.stringify(figures, null, 2));
        return figures;
      });

  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  const resultFile = new URL("./results/consensus.json", import.meta.url);
  let previous: { environment?: unknown; pbftInProcess?: InProcessFigures[]; vrf?: unknown; p2p?: unknown; p2pWorkers?: unknown } = {};
  if ((pbftOnly || workersOnly) && existsSync(resultFile)) {
    // --pbft-only refreshes the in-process section and keeps the VRF and libp2p sections of the last full run.
    try {
      previous = JSON.parse(await readFile(resultFile, "utf8")) as typeof previous;
    } catch {
      previous = {};
    }
  }
  const out = {
    generatedAt: new Date().toISOString(),
    environment:
      workersOnly && previous.environment ? previous.environment : { cpus: cpus().length, loadAverage1m: Math.round(loadavg()[0]! * 100) / 100, node: process.version, quick },
    pbftInProcess: workersOnly && previous.pbftInProcess ? previous.pbftInProcess : pbft,
    vrf: (pbftOnly || workersOnly) && previous.vrf ? previous.vrf : vrf,
    p2p: (pbftOnly || workersOnly) && previous.p2p ? previous.p2p : p2p,
    p2pWorkers: pbftOnly && previous.p2pWorkers ? previous.p2pWorkers : p2pWorkers,
  };
  await writeFile(resultFile, JSON.stringify(out, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
  console.log("\nwrote bench/results/consensus.json");
}

await main();
process.exit(0);
