/**
 * VRF benchmark: ECVRF prove / verify / fastVerify-helper throughput on one core, and the
 * gas of the on-chain verifier (contracts/vrf/VRFVerifier.sol) on the in-process Hardhat
 * network. Used by bench/consensus.bench.ts; runnable alone:
 *
 *   npx tsx bench/lib/vrf-bench.ts [--quick]    -> table + bench/results/vrf.json
 *
 * Gas is reported as transaction gas (eth_estimateGas: includes the 21000 base and
 * calldata) and as execution gas (transaction gas minus the intrinsic cost), the latter
 * being what a contract such as Disputes pays when it calls the verifier. Hash-to-curve
 * needs a varying number of tries, so gas is summarised over several proofs.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { sha256 } from "@noble/hashes/sha2.js";
import { encodeFunctionData, getContract, hexToBytes as viemHexToBytes, toHex } from "viem";
import {
  computeFastVerifyParams,
  derivePublicKey,
  evaluate,
  pointToArray,
  proofToArray,
  prove,
  verify,
} from "../../offchain/core/vrf/index.js";
import { vrfVerifierAbi } from "../../test/vrf/abi.js";

export interface RateFigure {
  operations: number;
  seconds: number;
  perSecond: number;
  /** Mean wall-clock microseconds per operation. */
  meanUs: number;
  /**
   * Operations per second of this process's CPU time (user + system). On a shared,
   * loaded machine wall-clock rates mostly measure the wait for a core; this one does not.
   */
  perCpuSecond: number;
}

export interface GasSummary {
  samples: number;
  txMin: number;
  txMean: number;
  txMax: number;
  executionMean: number;
}

export interface VrfBenchFigures {
  offchain: {
    prove: RateFigure;
    verify: RateFigure;
    fastVerifyParams: RateFigure;
    /** Output only (no proof), what a node computes to learn privately whether it is selected. */
    evaluate: RateFigure;
  };
  onchain: { fastVerify: GasSummary; verify: GasSummary } | { error: string };
  environment: { cpus: number; loadAverage1m: number; node: string };
}

export interface VrfBenchOptions {
  /** Minimum wall time per off-chain measurement. */
  minSeconds?: number;
  /** Proofs whose on-chain gas is measured (full verify is ~1M gas each: keep it small). */
  gasSamples?: number;
}

interface Case {
  sk: Uint8Array;
  pk: Uint8Array;
  msg: Uint8Array;
  proof: Uint8Array;
}

function makeCases(count: number): Case[] {
  return Array.from({ length: count }, (_, i) => {
    const sk = sha256(new TextEncoder().encode(`vrf-bench-key-${i}`));
    const msg = sha256(new TextEncoder().encode(`vrf-bench-msg-${i}`));
    return { sk, pk: derivePublicKey(sk), msg, proof: prove(sk, msg) };
  });
}

function rate(minSeconds: number, cases: Case[], op: (c: Case) => unknown): RateFigure {
  // Warm-up: JIT and noble's precomputed tables.
  for (const c of cases.slice(0, 3)) op(c);
  let operations = 0;
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let elapsed = 0;
  while (elapsed < minSeconds) {
    for (const c of cases) op(c);
    operations += cases.length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    operations,
    seconds: elapsed,
    perSecond: operations / elapsed,
    meanUs: (elapsed * 1e6) / operations,
    perCpuSecond: operations / cpuSeconds,
  };
}

function intrinsicGas(data: `0x${string}`): number {
  let g = 21_000;
  for (const b of viemHexToBytes(data)) g += b === 0 ? 4 : 16;
  return g;
}

function summarise(tx: number[], exec: number[]): GasSummary {
  const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
  return { samples: tx.length, txMin: Math.min(...tx), txMean: mean(tx), txMax: Math.max(...tx), executionMean: mean(exec) };
}

async function measureGas(cases: Case[]): Promise<{ fastVerify: GasSummary; verify: GasSummary }> {
  const { default: hre } = await import("hardhat");
  await hre.run("compile", { quiet: true });
  const deployed = await hre.viem.deployContract("VRFVerifier");
  const client = await hre.viem.getPublicClient();
  const verifier = getContract({ address: deployed.address, abi: vrfVerifierAbi, client });
  const fast: [number[], number[]] = [[], []];
  const full: [number[], number[]] = [[], []];
  for (const c of cases) {
    const pk = pointToArray(c.pk);
    const proof = proofToArray(c.proof);
    const fp = computeFastVerifyParams(pk, proof, c.msg);
    const fastArgs = [pk, proof, toHex(c.msg), fp.uPoint, fp.vComponents] as const;
    const fullArgs = [pk, proof, toHex(c.msg)] as const;
    if (!(await verifier.read.fastVerify(fastArgs)) || !(await verifier.read.verify(fullArgs))) {
      throw new Error("on-chain verifier rejected a valid proof");
    }
    const g1 = Number(
      await client.estimateContractGas({ address: deployed.address, abi: vrfVerifierAbi, functionName: "fastVerify", args: fastArgs }),
    );
    fast[0].push(g1);
    fast[1].push(g1 - intrinsicGas(encodeFunctionData({ abi: vrfVerifierAbi, functionName: "fastVerify", args: fastArgs })));
    const g2 = Number(
      await client.estimateContractGas({ address: deployed.address, abi: vrfVerifierAbi, functionName: "verify", args: fullArgs }),
    );
    full[0].push(g2);
    full[1].push(g2 - intrinsicGas(encodeFunctionData({ abi: vrfVerifierAbi, functionName: "verify", args: fullArgs })));
  }
  return { fastVerify: summarise(...fast), verify: summarise(...full) };
}

export async function runVrfBench(options: VrfBenchOptions = {}): Promise<VrfBenchFigures> {
  const minSeconds = options.minSeconds ?? 2;
  const cases = makeCases(16);
  const offchain = {
    prove: rate(minSeconds, cases, (c) => prove(c.sk, c.msg)),
    verify: rate(minSeconds, cases, (c) => {
      if (!verify(c.pk, c.proof, c.msg).valid) throw new Error("verify rejected a valid proof");
    }),
    fastVerifyParams: rate(minSeconds, cases, (c) => computeFastVerifyParams(c.pk, c.proof, c.msg)),
    evaluate: rate(minSeconds, cases, (c) => evaluate(c.sk, c.msg)),
  };
  let onchain: VrfBenchFigures["onchain"];
  try {
    onchain = await measureGas(cases.slice(0, options.gasSamples ?? 8));
  } catch (e) {
    onchain = { error: e instanceof Error ? e.message : String(e) };
  }
  return {
    offchain,
    onchain,
    environment: { cpus: cpus().length, loadAverage1m: loadavg()[0] ?? 0, node: process.version },
  };
}

export function formatVrfTable(f: VrfBenchFigures): string {
  const lines = [
    `VRF (secp256k1, suite 0xFE; load average ${f.environment.loadAverage1m.toFixed(1)} on ${f.environment.cpus} cpus)`,
    "  operation            ops/s  ops/cpu-s      mean",
  ];
  for (const [name, r] of Object.entries(f.offchain)) {
    lines.push(
      `  ${name.padEnd(18)} ${r.perSecond.toFixed(0).padStart(7)} ${r.perCpuSecond.toFixed(0).padStart(10)}  ${(r.meanUs / 1000).toFixed(3).padStart(7)} ms`,
    );
  }
  if ("error" in f.onchain) {
    lines.push(`  on-chain gas: unavailable (${f.onchain.error})`);
  } else {
    lines.push("  on-chain gas          tx min    tx mean     tx max  execution mean");
    for (const [name, g] of Object.entries(f.onchain)) {
      lines.push(
        `  ${name.padEnd(18)} ${String(g.txMin).padStart(9)} ${String(g.txMean).padStart(10)} ${String(g.txMax).padStart(10)} ${String(g.executionMean).padStart(15)}`,
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const quick = process.argv.includes("--quick");
  const figures = await runVrfBench(quick ? { minSeconds: 0.5, gasSamples: 3 } : {});
  process.stdout.write(`${formatVrfTable(figures)}\n`);
  const dir = new URL("../results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL("vrf.json", dir), `${JSON.stringify(figures, null, 2)}\n`);
}
