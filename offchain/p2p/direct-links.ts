/**
 * Direct messages (evidence requests and answers, a PBFT laggard's catch-up) on one
 * long-lived stream per peer and direction, each message framed by a 4-byte big-endian
 * length. A stream per message cost more than the message: opening one is a yamux SYN, a
 * multistream-select exchange and a peer-store update on both sides, and closing it two
 * FINs, so each ~4 KiB evidence answer took some eight encrypted frames and socket writes.
 * In the 7-gateway devnet at 10 rounds/s (10 direct messages per verdict) the stream
 * set-up alone was 5% of the gateways' thread.
 *
 * A link that fails (the connection closed, the remote reset the stream) is forgotten and
 * the next message opens a new one; a message whose write fails is tried once on a fresh
 * link. Receivers read frames until the stream ends; a frame over the size bound, or a
 * stream that ends inside a frame, is a protocol error and ends that stream (the sender's
 * next message opens another).
 */
import type { AbortOptions, PeerId, Stream } from "@libp2p/interface";
import type { Uint8ArrayList } from "uint8arraylist";
import { P2pError, P2pErrorCode } from "./errors.js";

export const FRAME_HEADER_BYTES = 4;

/** The frame of one message: its length (uint32 big-endian), then its bytes. */
export function frame(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, FRAME_HEADER_BYTES);
  return out;
}

/** Splits a byte stream back into frames, whatever the chunking (in time linear in the bytes). */
export class FrameDecoder {
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Length of the frame whose header has been read, while its body is incomplete. */
  private expected: number | undefined;

  constructor(private readonly maxFrameBytes: number) {}

  /** The frames completed by `chunk`; throws P2pError (EnvelopeTooLarge) on a frame over the bound. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const header = this.take(FRAME_HEADER_BYTES);
        const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0);
        if (length > this.maxFrameBytes) throw new P2pError(P2pErrorCode.EnvelopeTooLarge, `direct frame of ${length} bytes exceeds ${this.maxFrameBytes}`);
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      out.push(this.take(this.expected));
      this.expected = undefined;
    }
    return out;
  }

  /** Bytes of a frame begun but not finished (its header included). */
  get pending(): number {
    return this.buffered + (this.expected === undefined ? 0 : FRAME_HEADER_BYTES);
  }

  /** The first `n` buffered bytes, removed from the buffer (a copy: chunks may be reused by their producer). */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0] as Uint8Array;
      const part = Math.min(head.length, n - filled);
      out.set(head.subarray(0, part), filled);
      filled += part;
      if (part === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(part);
    }
    this.buffered -= n;
    return out;
  }
}

/** Frames of one inbound stream handled at once; the stream is not read further meanwhile. */
export const MAX_FRAMES_IN_FLIGHT = 32;

/**
 * Reads every frame of an inbound direct stream and hands each to `onFrame` as it completes;
 * at most MAX_FRAMES_IN_FLIGHT of them are being handled at a time (a peer that floods one
 * stream waits for its earlier messages to be checked, as it once waited for free streams).
 * Ends (aborting the stream) at the first protocol error.
 */
export async function readFrames(stream: Stream, maxFrameBytes: number, onFrame: (bytes: Uint8Array) => Promise<void>): Promise<void> {
  const decoder = new FrameDecoder(maxFrameBytes);
  const inFlight = new Set<Promise<void>>();
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array | Uint8ArrayList>) {
      for (const f of decoder.push(chunk instanceof Uint8Array ? chunk : chunk.subarray())) {
        const handled: Promise<void> = onFrame(f)
          .catch(() => undefined)
          .finally(() => inFlight.delete(handled));
        inFlight.add(handled);
        if (inFlight.size >= MAX_FRAMES_IN_FLIGHT) await Promise.race(inFlight);
      }
    }
    if (decoder.pending > 0) stream.abort(new P2pError(P2pErrorCode.EnvelopeMalformed, "direct stream ended inside a frame"));
  } catch (e) {
    if (stream.status === "open") stream.abort(e instanceof Error ? e : new Error(String(e)));
  }
}

/** The outbound side: one open stream per peer, made on first use and again after a failure. */
export class DirectLinks {
  private readonly links = new Map<string, Promise<Stream>>();

  /** `open` dials the direct protocol on the peer (a new stream each call). */
  constructor(
    private readonly open: (peer: PeerId, options: AbortOptions) => Promise<Stream>,
    private readonly timeoutMs = 5_000,
  ) {}

  /** Sends one message; resolves once it is handed to the muxer (not when it is read). */
  async send(peer: PeerId, bytes: Uint8Array): Promise<void> {
    const framed = frame(bytes);
    for (let attempt = 0; ; attempt++) {
      const link = this.link(peer);
      try {
        const stream = await link;
        if (stream.status !== "open" || stream.writeStatus !== "writable") throw new Error(`stream is ${stream.status}`);
        if (!stream.send(framed)) await stream.onDrain({ signal: AbortSignal.timeout(this.timeoutMs) });
        return;
      } catch (cause) {
        this.forget(peer, link);
        if (attempt >= 1) throw cause;
      }
    }
  }

  /** Closes every link (the host is stopping). */
  async closeAll(): Promise<void> {
    const all = [...this.links.values()];
    this.links.clear();
    await Promise.all(all.map((p) => p.then((s) => s.close()).catch(() => undefined)));
  }

  private link(peer: PeerId): Promise<Stream> {
    const key = peer.toString();
    const hit = this.links.get(key);
    if (hit) return hit;
    const made = this.open(peer, { signal: AbortSignal.timeout(this.timeoutMs) }).then((stream) => {
      stream.addEventListener("close", () => this.forget(peer, made), { once: true });
      return stream;
    });
    this.links.set(key, made);
    made.catch(() => this.forget(peer, made));
    return made;
  }

  private forget(peer: PeerId, link: Promise<Stream>): void {
    const key = peer.toString();
    if (this.links.get(key) === link) this.links.delete(key);
  }
}
