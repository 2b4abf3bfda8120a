import { expect } from "chai";
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import type { Stream } from "@libp2p/interface";
import { coalescingNoise, lazyWindowUpdates, lazyWindowYamux } from "../../offchain/p2p/wire-tuning.js";

const SINK = "/trustmesh-test/sink/1.0.0";

/** A fake of the YamuxStream fields the lazy update reads, recording the eager calls. */
function fakeStream(state: number, recvWindow: number, recvWindowCapacity: number) {
  const s = { state, recvWindow, recvWindowCapacity, eagerCalls: 0, sendWindowUpdate(): void {} };
  s.sendWindowUpdate = function (this: typeof s): void {
    this.eagerCalls++;
  };
  return s;
}

describe("wire tuning of Noise and Yamux", function () {
  describe("lazy window updates (pure decision)", function () {
    const ESTABLISHED = 3;
    it("holds the update while less than half the window is used", function () {
      const s = fakeStream(ESTABLISHED, 256 * 1024, 256 * 1024 - 500);
      expect(lazyWindowUpdates(s)).to.equal(true);
      s.sendWindowUpdate();
      expect(s.eagerCalls).to.equal(0);
    });
    it("sends it once half the window is used", function () {
      const s = fakeStream(ESTABLISHED, 256 * 1024, 128 * 1024);
      lazyWindowUpdates(s);
      s.sendWindowUpdate();
      expect(s.eagerCalls).to.equal(1);
    });
    it("sends at once when a SYN or ACK is due (Init, SYNReceived) and while paused", function () {
      for (const state of [0, 2, 5]) {
        const s = fakeStream(state, 256 * 1024, 256 * 1024);
        lazyWindowUpdates(s);
        s.sendWindowUpdate();
        expect(s.eagerCalls, `state ${state}`).to.equal(1);
      }
    });
    it("leaves an object without the fields alone", function () {
      expect(lazyWindowUpdates({ sendWindowUpdate() {} })).to.equal(false);
      expect(lazyWindowUpdates(null)).to.equal(false);
    });
  });

  describe("two libp2p hosts on loopback", function () {
    this.timeout(60_000);

    async function pair(tunedA: boolean, tunedB = tunedA): Promise<{ a: Libp2p; b: Libp2p; received: () => { bytes: number; digest: string } }> {
      const make = (tuned: boolean): Promise<Libp2p> =>
        createLibp2p({
          addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
          transports: [tcp()],
          connectionEncrypters: [tuned ? coalescingNoise() : noise()],
          streamMuxers: [tuned ? lazyWindowYamux() : yamux()],
        });
      const [a, b] = await Promise.all([make(tunedA), make(tunedB)]);
      const hash = createHash("sha256");
      let bytes = 0;
      await b.handle(SINK, async (stream: Stream) => {
        for await (const chunk of stream) {
          const data = chunk instanceof Uint8Array ? chunk : chunk.subarray();
          bytes += data.length;
          hash.update(data);
        }
        await stream.close();
      });
      // A copy each time: the digest of what has arrived so far, never a stale one.
      return { a, b, received: () => ({ bytes, digest: hash.copy().digest("hex") }) };
    }

    /** Sends the messages on one stream, waiting for drain when asked; counts socket writes of the whole process meanwhile. */
    async function send(a: Libp2p, b: Libp2p, messages: Uint8Array[]): Promise<number> {
      const stream = await a.dialProtocol(b.getMultiaddrs(), SINK);
      const proto = net.Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
      const original = proto._writeGeneric;
      let writes = 0;
      proto._writeGeneric = function (this: unknown, ...args: unknown[]): unknown {
        writes++;
        return original.apply(this, args);
      };
      try {
        for (const m of messages) {
          if (!stream.send(m)) await stream.onDrain();
          // One message per turn of the event loop, as gossip messages arrive.
          await new Promise((r) => setImmediate(r));
        }
        await stream.close();
      } finally {
        proto._writeGeneric = original;
      }
      return writes;
    }

    async function run(tuned: boolean, messages: Uint8Array[], tunedReceiver = tuned): Promise<{ writes: number; bytes: number; digest: string }> {
      const { a, b, received } = await pair(tuned, tunedReceiver);
      try {
        const writes = await send(a, b, messages);
        const expected = messages.reduce((n, m) => n + m.length, 0);
        const deadline = Date.now() + 30_000;
        while (received().bytes < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        return { writes, ...received() };
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    }

    const digestOf = (messages: Uint8Array[]): string => {
      const h = createHash("sha256");
      for (const m of messages) h.update(m);
      return h.digest("hex");
    };

    it("delivers 300 small messages intact with under half the socket writes of stock Noise and Yamux", async function () {
      const messages = Array.from({ length: 300 }, () => randomBytes(200));
      const stock = await run(false, messages);
      const tuned = await run(true, messages);
      for (const r of [stock, tuned]) {
        expect(r.bytes).to.equal(300 * 200);
        expect(r.digest).to.equal(digestOf(messages));
      }
      // Stock: per message a length prefix and a ciphertext write, plus a window update
      // back (its own two writes). Tuned: one write per message, updates only per half window.
      console.log(`      writes: stock ${stock.writes}, tuned ${tuned.writes}`);
      expect(tuned.writes, `tuned ${tuned.writes} vs stock ${stock.writes} writes`).to.be.below(stock.writes / 2);
      expect(tuned.writes).to.be.below(300 * 1.2 + 40);
    });

    it("a tuned host and a stock one exchange data both ways (the wire format is the same)", async function () {
      const messages = Array.from({ length: 32 }, () => randomBytes(48 * 1024));
      for (const [sender, receiver] of [[true, false], [false, true]] as const) {
        const r = await run(sender, messages, receiver);
        expect(r.bytes, `tuned sender ${sender}`).to.equal(32 * 48 * 1024);
        expect(r.digest).to.equal(digestOf(messages));
      }
    });

    it("moves 4 MiB through a 256 KiB window without stalling (updates still come, at half a window)", async function () {
      const messages = Array.from({ length: 64 }, () => randomBytes(64 * 1024));
      const tuned = await run(true, messages);
      expect(tuned.bytes).to.equal(64 * 64 * 1024);
      expect(tuned.digest).to.equal(digestOf(messages));
    });
  });
});
