/**
 * Calls in both directions over one message channel (a forked process and its parent): each
 * side serves its own operations and calls the other's. Arguments and results travel by
 * structured clone (bigints and byte arrays included); a handler's error comes back as an
 * Error with the same message (and `code`, when it has one). Used by the devnet's gateway
 * processes (gateway-hosts.ts), whose IPC uses the "advanced" (structured clone) serialization.
 */

import type { Serializable } from "node:child_process";

/** The part of a MessagePort (or of a process's IPC channel, see processEndpoint) this needs. */
export interface MessageEndpoint {
  postMessage(message: unknown): void;
  on(event: "message", listener: (message: unknown) => void): unknown;
}

// Handlers are declared by their parameter types; `any` lets each map keep its own.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handlers = Record<string, (arg: any) => unknown>;

type Message =
  | { rpc: "call"; id: number; op: string; arg: unknown }
  | { rpc: "notify"; op: string; arg: unknown }
  | { rpc: "reply"; id: number; ok: true; value: unknown }
  | { rpc: "reply"; id: number; ok: false; message: string; code?: string };

/**
 * A process's IPC channel (a ChildProcess, or `process` in the child) as a MessageEndpoint.
 * A send on a channel that closed meanwhile is dropped: the channel's close ends the calls.
 */
export function processEndpoint(p: {
  send?: (message: Serializable, callback: (error: Error | null) => void) => boolean;
  on(event: "message", listener: (message: unknown) => void): unknown;
}): MessageEndpoint {
  return {
    postMessage: (m) => {
      p.send?.(m as Serializable, () => undefined);
    },
    on: (event, listener) => p.on(event, listener),
  };
}

export class RpcClosedError extends Error {
  override name = "RpcClosedError";
}

const isMessage = (m: unknown): m is Message => typeof m === "object" && m !== null && typeof (m as { rpc?: unknown }).rpc === "string";

export class PortRpc<Local extends Handlers, Remote extends Handlers> {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closedWith: Error | undefined;

  constructor(
    private readonly endpoint: MessageEndpoint,
    private readonly handlers: Local,
  ) {
    endpoint.on("message", (m) => {
      if (isMessage(m)) this.receive(m);
    });
  }

  /** Calls the other side's `op`; rejects with its error, or with RpcClosedError once closed. */
  call<K extends keyof Remote & string>(op: K, arg: Parameters<Remote[K]>[0]): Promise<Awaited<ReturnType<Remote[K]>>> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.endpoint.postMessage({ rpc: "call", id, op, arg } satisfies Message);
    });
  }

  /** Runs the other side's `op` without waiting for (or hearing of) its result. */
  notify<K extends keyof Remote & string>(op: K, arg: Parameters<Remote[K]>[0]): void {
    if (!this.closedWith) this.endpoint.postMessage({ rpc: "notify", op, arg } satisfies Message);
  }

  /** Fails every call still waiting, and every later one, with `reason` (the other side is gone). */
  close(reason: Error): void {
    this.closedWith ??= reason instanceof RpcClosedError ? reason : new RpcClosedError(reason.message);
    for (const p of this.pending.values()) p.reject(this.closedWith);
    this.pending.clear();
  }

  private receive(m: Message): void {
    if (m.rpc === "reply") {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(Object.assign(new Error(m.message), m.code !== undefined ? { code: m.code } : {}));
      return;
    }
    const handler = Object.hasOwn(this.handlers, m.op) ? this.handlers[m.op] : undefined;
    const run = async (): Promise<unknown> => {
      if (!handler) throw new Error(`no operation "${m.op}" on this side`);
      return handler(m.arg);
    };
    const outcome = run();
    if (m.rpc === "notify") {
      // Nobody waits for a notification's result: its failure must not become an unhandled rejection.
      outcome.catch(() => undefined);
      return;
    }
    const id = m.id;
    outcome.then(
      (value) => this.reply({ rpc: "reply", id, ok: true, value }),
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        const code = (err as { code?: unknown }).code;
        this.reply({ rpc: "reply", id, ok: false, message: err.message, ...(typeof code === "string" ? { code } : {}) });
      },
    );
  }

  private reply(m: Message): void {
    if (this.closedWith) return;
    try {
      this.endpoint.postMessage(m);
    } catch (e) {
      // A value that cannot be cloned: the caller still gets an answer.
      if (m.rpc === "reply" && m.ok) this.endpoint.postMessage({ rpc: "reply", id: m.id, ok: false, message: `result not transferable: ${e instanceof Error ? e.message : String(e)}` } satisfies Message);
    }
  }
}

