/**
 * The devnet's call channel between processes (offchain/devnet/port-rpc.ts), over a
 * MessageChannel: the same structured clone as "advanced" IPC serialization.
 */
import { MessageChannel } from "node:worker_threads";
import { expect } from "chai";
import { PortRpc, RpcClosedError } from "../../offchain/devnet/port-rpc.js";

type A = {
  double(x: bigint): bigint;
  echo(b: Uint8Array): Uint8Array;
  fail(code: string): Promise<void>;
  slow(ms: number): Promise<string>;
  unclonable(arg: undefined): () => void;
  note(text: string): void;
};
type B = { seen(arg: undefined): string[] };

/** The error `p` rejects with (the test fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

function pair() {
  const { port1, port2 } = new MessageChannel();
  const notes: string[] = [];
  const a = new PortRpc<A, B>(port1, {
    double: (x) => x * 2n,
    echo: (b) => b,
    fail: async (code) => {
      throw Object.assign(new Error(`failed with ${code}`), { code });
    },
    slow: (ms) => new Promise((r) => setTimeout(() => r("late"), ms)),
    unclonable: () => () => undefined,
    note: (text) => {
      notes.push(text);
      if (text === "boom") throw new Error("a notification's handler failed");
    },
  });
  const b = new PortRpc<B, A>(port2, { seen: () => notes });
  return { a, b, notes, close: () => (port1.close(), port2.close()) };
}

describe("PortRpc (devnet gateway processes' calls)", () => {
  it("returns results across the channel, bigints and bytes included, and calls go both ways", async () => {
    const { a, b, close } = pair();
    try {
      expect(await b.call("double", 21n)).to.equal(42n);
      expect(Buffer.from(await b.call("echo", new Uint8Array([1, 2, 3])))).to.deep.equal(Buffer.from([1, 2, 3]));
      b.notify("note", "hello");
      // Messages of one direction arrive in order: once this answers, the note has run.
      await b.call("double", 0n);
      expect(await a.call("seen", undefined)).to.deep.equal(["hello"]);
    } finally {
      close();
    }
  });

  it("rethrows a handler's error with its message and code", async () => {
    const { b, close } = pair();
    try {
      const err = await rejection(b.call("fail", "NOT_FOUND"));
      expect(err.message).to.equal("failed with NOT_FOUND");
      expect(err.code).to.equal("NOT_FOUND");
    } finally {
      close();
    }
  });

  it("rejects an unknown operation and a result that cannot be cloned, and keeps serving", async () => {
    const { b, close } = pair();
    try {
      expect((await rejection((b as unknown as PortRpc<B, Record<string, (x: unknown) => unknown>>).call("nope", 1))).message).to.match(/no operation "nope"/);
      expect((await rejection(b.call("unclonable", undefined))).message).to.match(/not transferable/);
      expect(await b.call("double", 1n)).to.equal(2n);
    } finally {
      close();
    }
  });

  it("runs a notification whose handler fails without an answer or an unhandled rejection", async () => {
    const { a, b, close } = pair();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      b.notify("note", "boom");
      await b.call("double", 0n);
      expect(await a.call("seen", undefined)).to.deep.equal(["boom"]);
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      close();
    }
  });

  it("fails the calls in flight and every later one once closed", async () => {
    const { b, close } = pair();
    try {
      const inFlight = b.call("slow", 200);
      b.close(new Error("the other side exited"));
      const first = await rejection(inFlight);
      expect(first).to.be.instanceOf(RpcClosedError);
      expect(first.message).to.match(/exited/);
      expect(await rejection(b.call("double", 1n))).to.be.instanceOf(RpcClosedError);
    } finally {
      close();
    }
  });
});
