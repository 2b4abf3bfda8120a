/**
 * A devnet part in a process of its own (the machines' process, the gateway processes):
 * forked with this process's TypeScript loader, structured-clone IPC (bigints and byte
 * arrays travel as they are), calls both ways through PortRpc, a "ready" notification once
 * the child serves calls, and a stop that leaves no child behind.
 */
import { fork, type ChildProcess } from "node:child_process";
import { PortRpc, processEndpoint, RpcClosedError, type Handlers } from "./port-rpc.js";

/** What every child tells its parent once it serves calls (`rpc.notify("ready", undefined)`). */
export type ReadyOps = { ready(arg: undefined): void };

export class RpcChild<Local extends Handlers, Remote extends Handlers> {
  private constructor(
    /** Calls into the child; `Local` are the operations this side serves to it. */
    readonly rpc: PortRpc<Local & ReadyOps, Remote>,
    private readonly child: ChildProcess,
    /** Resolves when the child has exited (every call still waiting then fails). */
    readonly exited: Promise<void>,
  ) {}

  /** Forks `script` and waits until it serves calls; `what` names it in errors. */
  static async fork<Local extends Handlers, Remote extends Handlers>(script: string, what: string, handlers: Local): Promise<RpcChild<Local, Remote>> {
    const child = fork(script, [], {
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const local = { ...handlers, ready: () => markReady() } as Local & ReadyOps;
    const rpc = new PortRpc<Local & ReadyOps, Remote>(processEndpoint(child), local);
    const exited = new Promise<void>((resolve) =>
      child.once("exit", (code, signal) => {
        rpc.close(new RpcClosedError(`${what} exited (${signal ?? code})`));
        resolve();
      }),
    );
    await Promise.race([ready, exited.then(() => Promise.reject(new Error(`${what} exited before it was ready`)))]);
    return new RpcChild(rpc, child, exited);
  }

  /** The process id (a benchmark counts its CPU). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Runs `shutdown` (the child's orderly stop), then disconnects, which every child takes as
   * the order to stop what it runs and exit, and waits for the exit; a child still there
   * `killAfterMs` after the call is killed.
   */
  async stop(killAfterMs: number, shutdown?: () => Promise<unknown>): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill("SIGKILL"), killAfterMs);
    await shutdown?.().catch(() => undefined);
    if (this.child.connected) this.child.disconnect();
    await this.exited;
    clearTimeout(timer);
  }
}
