/**
 * Runs a TaskExecutor for every new task a gateway sees on chain. One task's failure is
 * an outcome and a log line; the subscription and the gateway keep running.
 */
import type { TaskMarketChain } from "./chain.js";
import type { ExecutionOutcome, TaskExecutor } from "./executor.js";

export class ExecutorService {
  private unwatch: (() => void) | undefined;
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly chain: TaskMarketChain,
    private readonly executor: TaskExecutor,
    private readonly onOutcome: (taskId: bigint, outcome: ExecutionOutcome) => void = () => undefined,
  ) {}

  start(): void {
    this.unwatch ??= this.chain.watchTasks((taskId) => this.handle(taskId));
  }

  /** Runs one task now (also what the watcher calls). */
  handle(taskId: bigint): void {
    const p = this.executor.execute(taskId).then(
      (o) => this.onOutcome(taskId, o),
      () => undefined, // execute never rejects; this only keeps a broken callback from escaping
    );
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    this.executor.stop();
    await Promise.allSettled([...this.running]);
  }
}
