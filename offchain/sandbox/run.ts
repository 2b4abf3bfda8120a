/**
 * runInSandbox: one untrusted function, one fresh QuickJS VM, one worker thread.
 *
 * Isolation in layers: the guest sees only ECMAScript (quickjs-wasi exposes no std/os
 * modules, no console, no module loader here), its clock and randomness are fixed, and
 * its allocations are capped by the VM. The VM runs in a worker_thread so that the host's
 * event loop keeps going during the run, and so that a guest the VM cannot stop is ended
 * by `worker.terminate()` at a hard deadline. Node's `vm` module is not a boundary and is
 * not used.
 */
import { Worker } from "node:worker_threads";
import { failure, heapMbFor, prepareJob, quickjsModule, toResult, workerErrorAnswer, workerOptions, workerUrl } from "./job.js";
import type { WorkerAnswer } from "./job.js";
import type { SandboxResult, SandboxRunParameters } from "../core/sandbox-types.js";

export { DEFAULT_NOW_MS } from "./job.js";

/**
 * V8 compiles the QuickJS engine lazily and at a baseline tier first; the first runs in a
 * process are several times slower than later ones. The compiled module is shared with
 * every worker, so a daemon calls this once at start-up to pay that cost before the first
 * real (deadline-bound) run. Returns the wall time it took.
 */
export async function warmUpSandbox(rounds = 3): Promise<number> {
  const started = performance.now();
  const words = Array.from({ length: 3000 }, (_, i) => `w${(i * 7919) % 4001}`);
  for (let i = 0; i < rounds; i++) {
    await runInSandbox({ source: WARM_UP_SOURCE, entry: "warm", input: words, limits: { timeMs: 10_000, memoryBytes: 64 * 2 ** 20 } });
  }
  return performance.now() - started;
}

const WARM_UP_SOURCE = `function warm(words) {
  var seen = new Set(words), map = {}, acc = 0;
  for (var i = 0; i < words.length; i++) { map[words[i]] = (map[words[i]] || 0) + 1; acc = (acc * 31 + words[i].length) | 0; }
  var keys = Object.keys(map).sort();
  return { n: seen.size, k: keys.length, acc: acc, s: JSON.stringify(keys).length };
}`;

/** One run in its own worker thread, terminated afterwards. */
export async function runInSandbox<T = unknown>(params: SandboxRunParameters): Promise<SandboxResult<T>> {
  const started = performance.now();
  const prepared = prepareJob(params);
  if (!prepared.ok) return toResult(failure(prepared.code, prepared.message), started);
  const { job, hardMs } = prepared;
  const module = await quickjsModule();
  const answer = await new Promise<WorkerAnswer>((resolve) => {
    let settled = false;
    const finish = (a: WorkerAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
      void worker.terminate();
    };
    const worker = new Worker(workerUrl, workerOptions({ mode: "once", module, ...job }, heapMbFor(job)));
    const timer = setTimeout(() => finish(failure("TIMEOUT", `hard deadline: worker terminated after ${hardMs} ms`)), hardMs);
    worker.once("message", (m: WorkerAnswer) => finish(m));
    worker.once("error", (err: Error & { code?: string }) => finish(workerErrorAnswer(err)));
    worker.once("exit", (exitCode) => finish(failure("CRASH", `sandbox worker exited (code ${exitCode}) without an answer`)));
  });
  return toResult<T>(answer, started);
}
