import { expect } from "chai";
import { randomBytes } from "node:crypto";
import type { Stream } from "@libp2p/interface";
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_FRAMES_IN_FLIGHT, frame, readFrames } from "../../offchain/p2p/direct-links.js";
import { P2pError, P2pErrorCode } from "../../offchain/p2p/errors.js";

describe("direct links: length-framed messages (direct-links.ts)", () => {
  const sizes = [0, 1, 3, 4, 5, 300, 4096, 70_000];

  it("splits any chunking of a frame sequence back into the same messages", () => {
    const messages = sizes.map((n) => new Uint8Array(randomBytes(n)));
    const wire = Buffer.concat(messages.map(frame));
    expect(wire.length).to.equal(sizes.reduce((a, n) => a + n + FRAME_HEADER_BYTES, 0));
    for (let trial = 0; trial < 200; trial++) {
      const decoder = new FrameDecoder(100_000);
      const out: Uint8Array[] = [];
      // Cut points anywhere, headers included; trial 0 feeds one byte at a time up to 5 KiB.
      for (let at = 0; at < wire.length; ) {
        const step = trial === 0 && at < 5_000 ? 1 : 1 + Math.floor(Math.random() * (trial % 2 === 0 ? 16 : 20_000));
        out.push(...decoder.push(new Uint8Array(wire.subarray(at, at + step))));
        at += step;
      }
      expect(out.map((m) => Buffer.from(m).toString("hex")), `trial ${trial}`).to.deep.equal(messages.map((m) => Buffer.from(m).toString("hex")));
      expect(decoder.pending).to.equal(0);
    }
  });

  it("keeps a frame begun but not finished, and refuses one over the bound before reading it", () => {
    const decoder = new FrameDecoder(10);
    expect(decoder.push(frame(new Uint8Array(10)).subarray(0, 7))).to.deep.equal([]);
    expect(decoder.pending).to.equal(7);
    const over = new FrameDecoder(10);
    // Only the header of an 11-byte frame: refused at once, not buffered up to its length.
    let thrown: unknown;
    try {
      over.push(frame(new Uint8Array(11)).subarray(0, FRAME_HEADER_BYTES));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).to.be.instanceOf(P2pError);
    expect((thrown as P2pError).code).to.equal(P2pErrorCode.EnvelopeTooLarge);
  });

  it("handles at most MAX_FRAMES_IN_FLIGHT frames of one stream at a time, and aborts a stream that ends inside a frame", async () => {
    const total = 100;
    let read = 0;
    let aborted: Error | undefined;
    const fake = (chunks: Uint8Array[]) =>
      ({
        status: "open",
        abort(e: Error) {
          aborted = e;
        },
        async *[Symbol.asyncIterator]() {
          for (const c of chunks) {
            read++;
            yield c;
          }
        },
      }) as unknown as Stream;
    // One chunk per frame, so the reader's progress shows how far it got ahead of the handlers.
    const chunks = Array.from({ length: total }, (_, i) => frame(new Uint8Array([i])));
    const release: (() => void)[] = [];
    let active = 0;
    let most = 0;
    const done = readFrames(fake(chunks), 16, () => {
      active++;
      most = Math.max(most, active);
      return new Promise<void>((r) => release.push(() => (active--, r())));
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(active).to.equal(MAX_FRAMES_IN_FLIGHT);
    expect(read, "the stream is not read while the handlers are full").to.be.at.most(MAX_FRAMES_IN_FLIGHT + 1);
    while (release.length > 0 || active > 0) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await done;
    expect(read).to.equal(total);
    expect(most).to.equal(MAX_FRAMES_IN_FLIGHT);
    expect(aborted).to.equal(undefined);

    await readFrames(fake([frame(new Uint8Array(5)).subarray(0, 7)]), 16, async () => undefined);
    expect(aborted).to.be.instanceOf(P2pError);
    expect((aborted as P2pError).code).to.equal(P2pErrorCode.EnvelopeMalformed);
  });
});
