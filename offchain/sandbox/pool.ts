/**
 * A pool of sandbox workers for callers that run many functions (a verifier scores every
 * round). Spawning a worker costs tens of ms of CPU; a pool worker is reused, but every job
 * still gets a fresh QuickJS VM, so runs stay independent and deterministic. A worker whose
 * job hits the hard deadline, crashes or runs out of heap is replaced, never reused.
 */
import { Worker } from "node:worker_threads";
import { failure, heapMbFor, prepareJob, quickjsModule, toResult, workerErrorAnswer, workerOptions, workerUrl } from "./job.js";
import type { WorkerAnswer, WorkerJob } from "./job.js";
import { runInSandbox } from "./run.js";
import type { SandboxResult, SandboxRunParameters } from "../core/sandbox-types.js";

export interface SandboxPoolOptions {
  /** Workers kept ready; default 2. */
  size?: number;
  /** JS heap of each worker in MiB; jobs needing more run one-shot. Default 128. */
  heapMb?: number;
}

interface Pending {
  job: WorkerJob;
  hardMs: number;
  resolve: (a: WorkerAnswer) => void;
}

interface Slot {
  worker: Worker;
  current: (Pending & { id: number; timer: NodeJS.Timeout }) | undefined;
}

export class SandboxPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Workers replaced after a hard deadline, crash or heap exhaustion. */
  replaced = 0;

  private constructor(
    private readonly module: WebAssembly.Module,
    private readonly heapMb: number,
  ) {}

  static async create({ size = 2, heapMb = 128 }: SandboxPoolOptions = {}): Promise<SandboxPool> {
    const pool = new SandboxPool(await quickjsModule(), heapMb);
    for (let i = 0; i < Math.max(1, size); i++) pool.slots.push({ worker: pool.spawn(), current: undefined });
    return pool;
  }

  /** Same contract as runInSandbox. */
  async run<T = unknown>(params: SandboxRunParameters): Promise<SandboxResult<T>> {
    const started = performance.now();
    const prepared = prepareJob(params);
    if (!prepared.ok) return toResult(failure(prepared.code, prepared.message), started);
    if (this.closed) return toResult(failure("CRASH", "sandbox pool is closed"), started);
    if (heapMbFor(prepared.job) > this.heapMb) return runInSandbox<T>(params);
    const answer = await new Promise<WorkerAnswer>((resolve) => {
      this.queue.push({ job: prepared.job, hardMs: prepared.hardMs, resolve });
      this.dispatch();
    });
    return toResult<T>(answer, started);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.resolve(failure("CRASH", "sandbox pool closed"));
    await Promise.all(
      this.slots.map(async (slot) => {
        this.settle(slot, failure("CRASH", "sandbox pool closed"));
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(): Worker {
    const worker = new Worker(workerUrl, workerOptions({ mode: "pool", module: this.module }, this.heapMb));
    worker.unref();
    worker.on("message", (m: WorkerAnswer & { id: number }) => {
      const slot = this.slotOf(worker);
      if (slot?.current?.id !== m.id) return;
      const { id: _id, ...answer } = m;
      this.settle(slot, answer);
      // A trapped VM or an exhausted heap leaves the thread in doubt: start a clean one.
      if (!answer.ok && (answer.code === "CRASH" || answer.code === "MEMORY")) this.replace(slot);
      this.dispatch();
    });
    worker.on("error", (err: Error & { code?: string }) => {
      const slot = this.slotOf(worker);
      if (slot) this.settle(slot, workerErrorAnswer(err));
    });
    worker.on("exit", (exitCode) => {
      const slot = this.slotOf(worker);
      if (!slot) return;
      this.settle(slot, failure("CRASH", `sandbox worker exited (code ${exitCode}) without an answer`));
      if (!this.closed) this.replace(slot);
      this.dispatch();
    });
    return worker;
  }

  private slotOf(worker: Worker): Slot | undefined {
    return this.slots.find((s) => s.worker === worker);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.closed || this.queue.length === 0) return;
      if (slot.current) continue;
      const next = this.queue.shift()!;
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.settle(slot, failure("TIMEOUT", `hard deadline: worker terminated after ${next.hardMs} ms`));
        this.replace(slot);
        this.dispatch();
      }, next.hardMs);
      slot.current = { ...next, id, timer };
      slot.worker.ref();
      slot.worker.postMessage({ id, ...next.job });
    }
  }

  private settle(slot: Slot, answer: WorkerAnswer): void {
    const current = slot.current;
    if (!current) return;
    slot.current = undefined;
    clearTimeout(current.timer);
    slot.worker.unref();
    current.resolve(answer);
  }

  private replace(slot: Slot): void {
    const old = slot.worker;
    slot.worker = this.spawn();
    this.replaced++;
    void old.terminate();
  }
}
