/**
 * What one-shot runs (run.ts) and the pool (pool.ts) share: the compiled engine, parameter
 * checks, the job message the worker understands, and turning its answer into a result.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { WorkerOptions } from "node:worker_threads";
import { SandboxError } from "./errors.js";
import type { SandboxFailureCode, SandboxResult, SandboxRunParameters, SandboxStats } from "../core/sandbox-types.js";

export const DEFAULT_NOW_MS = 1_704_067_200_000;
export const DEFAULT_MAX_OUTPUT = 1 << 20;
export const DEFAULT_GRACE_MS = 500;
const MAX_TIME_MS = 10 * 60_000;
const MIN_MEMORY = 1 << 20;
const MAX_MEMORY = 2 ** 31;

export const workerUrl = new URL("./worker.mjs", import.meta.url);
let wasmModule: Promise<WebAssembly.Module> | undefined;

/** Compiled once per process and shared with every worker; each run gets its own VM. */
export function quickjsModule(): Promise<WebAssembly.Module> {
  wasmModule ??= (async () => {
    const path = createRequire(import.meta.url).resolve("quickjs-wasi/quickjs.wasm");
    return WebAssembly.compile(await readFile(path));
  })();
  return wasmModule;
}

/** The job as the worker reads it (workerData in one-shot mode, a message in pool mode). */
export interface WorkerJob {
  source: string;
  entry: string;
  inputJson: string;
  timeMs: number;
  memoryBytes: number;
  nowMs: number;
  maxOutputBytes: number;
}

export type VmStats = Omit<SandboxStats, "wallMs">;
export type WorkerAnswer = VmStats &
  ({ ok: true; json: string } | { ok: false; code: SandboxFailureCode; message: string });

export type PreparedJob =
  | { ok: true; job: WorkerJob; hardMs: number }
  | { ok: false; code: "INVALID_INPUT"; message: string };

/** Checks parameters (throws BAD_LIMITS) and encodes the input (INVALID_INPUT failure). */
export function prepareJob(params: SandboxRunParameters): PreparedJob {
  checkLimits(params);
  const { source, entry, input, limits } = params;
  let inputJson: string | undefined;
  try {
    inputJson = JSON.stringify(input);
  } catch (err) {
    return { ok: false, code: "INVALID_INPUT", message: `input is not JSON: ${(err as Error).message}` };
  }
  if (inputJson === undefined) return { ok: false, code: "INVALID_INPUT", message: "input is not JSON (undefined, function or symbol)" };
  return {
    ok: true,
    job: {
      source,
      entry,
      inputJson,
      timeMs: limits.timeMs,
      memoryBytes: limits.memoryBytes,
      nowMs: params.nowMs ?? DEFAULT_NOW_MS,
      maxOutputBytes: limits.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
    },
    hardMs: limits.timeMs + (limits.hardKillGraceMs ?? DEFAULT_GRACE_MS),
  };
}

/** Worker options: no loader, no inherited flags, no environment, bounded JS heap. */
export function workerOptions(workerData: unknown, heapMb: number): WorkerOptions {
  return {
    workerData,
    execArgv: [],
    env: {},
    stdout: true,
    stderr: true,
    // Bounds the worker's own JS heap (input and output copies); the VM's limit is separate.
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 16 },
  };
}

export function heapMbFor(job: WorkerJob): number {
  return 64 + Math.ceil((2 * job.maxOutputBytes + 4 * job.inputJson.length) / 2 ** 20);
}

export function failure(code: SandboxFailureCode, message: string): WorkerAnswer {
  return { ok: false, code, message, vmMs: 0, runMs: 0 };
}

export function workerErrorAnswer(err: Error & { code?: string }): WorkerAnswer {
  const memory = err.code === "ERR_WORKER_OUT_OF_MEMORY";
  return failure(memory ? "MEMORY" : "CRASH", `sandbox worker failed: ${err.message}`);
}

export function toResult<T>(answer: WorkerAnswer, startedAt: number): SandboxResult<T> {
  const stats: SandboxStats = {
    wallMs: performance.now() - startedAt,
    vmMs: answer.vmMs,
    runMs: answer.runMs,
    ...(answer.vmCpuMs === undefined ? {} : { vmCpuMs: answer.vmCpuMs }),
    ...(answer.runCpuMs === undefined ? {} : { runCpuMs: answer.runCpuMs }),
  };
  if (!answer.ok) return { ok: false, code: answer.code, message: answer.message, stats };
  return { ok: true, value: JSON.parse(answer.json) as T, stats };
}

function checkLimits({ entry, limits }: SandboxRunParameters): void {
  const bad = (why: string) => new SandboxError("BAD_LIMITS", `invalid sandbox parameters: ${why}`);
  if (!Number.isInteger(limits.timeMs) || limits.timeMs <= 0 || limits.timeMs > MAX_TIME_MS) {
    throw bad(`timeMs must be an integer in 1..${MAX_TIME_MS}`);
  }
  if (!Number.isInteger(limits.memoryBytes) || limits.memoryBytes < MIN_MEMORY || limits.memoryBytes > MAX_MEMORY) {
    throw bad(`memoryBytes must be an integer in ${MIN_MEMORY}..${MAX_MEMORY}`);
  }
  if (limits.hardKillGraceMs !== undefined && (!Number.isInteger(limits.hardKillGraceMs) || limits.hardKillGraceMs < 0)) {
    throw bad("hardKillGraceMs must be a non-negative integer");
  }
  if (limits.maxOutputBytes !== undefined && (!Number.isInteger(limits.maxOutputBytes) || limits.maxOutputBytes < 1)) {
    throw bad("maxOutputBytes must be a positive integer");
  }
  if (!/^[A-Za-z_$][\w$]*$/.test(entry)) throw bad(`entry ${JSON.stringify(entry)} is not an identifier`);
}
