/**
 * Two changes to how the stock Noise and Yamux of libp2p put bytes on the wire. Each one
 * was measured in a 7-gateway process (yamux frames and socket writes counted per
 * recorded verdict):
 *
 * 1. Yamux (@libp2p/yamux 8) sends a window update back for EVERY data frame it receives,
 *    so each gossip message costs a second frame in the other direction: 779 of the 1,889
 *    frames per verdict were window updates. The Go (hashicorp/yamux) and Rust
 *    (rust-yamux #109) implementations send one only once at least half of the receive
 *    window has been consumed, which still never stalls a sender (it has the other half in
 *    hand). `lazyWindowYamux` does the same. Frames that carry a flag (SYN, ACK) still go
 *    out at once, and so does everything while a stream is paused or resumed.
 *
 * 2. Noise (@libp2p/noise 1) hands each encrypted message to TCP as two buffers (its length
 *    prefix and the ciphertext), and TCP writes each buffer with its own syscall: 3,988
 *    socket writes per verdict for 1,889 frames. `coalescingNoise` joins the two into one
 *    buffer (a copy of a few hundred bytes), so one message is one write.
 *
 * Both reach into the libraries' classes (named below). When a version no longer has what
 * they patch, they leave the library as it is and say so once: the wire format never
 * changes either way, only how often it is written (test/p2p/wire-tuning.test.ts counts it).
 */
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import type { ComponentLogger, ConnectionEncrypter, MessageStream, StreamMuxer, StreamMuxerFactory } from "@libp2p/interface";

type NoiseInit = Parameters<typeof noise>[0];
type YamuxInit = Parameters<typeof yamux>[0];
type Components = { logger: ComponentLogger } & Record<string, unknown>;

/** Internal fields of @libp2p/yamux's YamuxStream that the lazy window update uses. */
interface YamuxStreamInternals {
  state: number;
  recvWindow: number;
  recvWindowCapacity: number;
  sendWindowUpdate(): void;
}

/** YamuxStream's StreamState values (Init = 0, SYNReceived = 2, Paused = 5). */
const STATE_INIT = 0;
const STATE_SYN_RECEIVED = 2;
const STATE_PAUSED = 5;

const warned = new Set<string>();
function warnOnce(what: string): void {
  if (warned.has(what)) return;
  warned.add(what);
  process.emitWarning(`trustmesh wire tuning off: ${what}`, { code: "TRUSTMESH_WIRE_TUNING" });
}

function isYamuxStream(s: unknown): s is YamuxStreamInternals {
  const x = s as Partial<YamuxStreamInternals> | null;
  return x !== null && typeof x === "object" && typeof x.sendWindowUpdate === "function" && typeof x.recvWindow === "number" && typeof x.recvWindowCapacity === "number" && typeof x.state === "number";
}

/**
 * Make one stream send its window updates only once half its receive window is used
 * (or with a flag, or around a pause), as the Go and Rust implementations do.
 */
export function lazyWindowUpdates(stream: unknown): boolean {
  if (!isYamuxStream(stream)) return false;
  const eager = stream.sendWindowUpdate.bind(stream);
  stream.sendWindowUpdate = function lazyWindowUpdate(this: YamuxStreamInternals): void {
    const flagPending = this.state === STATE_INIT || this.state === STATE_SYN_RECEIVED;
    const halfUsed = this.recvWindowCapacity <= this.recvWindow / 2;
    if (flagPending || halfUsed || this.state === STATE_PAUSED) eager();
  };
  return true;
}

/** Yamux whose streams send window updates only when half their window is used (see above). */
export function lazyWindowYamux(init?: YamuxInit): (components: Components) => StreamMuxerFactory {
  const make = yamux(init) as unknown as (components: Components) => StreamMuxerFactory;
  return (components) => {
    const factory = make(components);
    return {
      protocol: factory.protocol,
      createStreamMuxer(maConn: MessageStream): StreamMuxer {
        const muxer = factory.createStreamMuxer(maConn);
        const internals = muxer as unknown as { _newStream?: (...a: unknown[]) => unknown };
        const newStream = internals._newStream;
        if (typeof newStream !== "function") {
          warnOnce("@libp2p/yamux's muxer has no _newStream");
          return muxer;
        }
        internals._newStream = function (this: unknown, ...args: unknown[]): unknown {
          const stream = newStream.apply(this, args);
          if (!lazyWindowUpdates(stream)) warnOnce("@libp2p/yamux's streams lack the window fields");
          return stream;
        };
        return muxer;
      },
    };
  };
}

/** A Uint8ArrayList, as far as it is used here (the package is libp2p's, not ours). */
interface ByteList {
  bufs: Uint8Array[];
  subarray(): Uint8Array;
}

/**
 * Internal method of @libp2p/noise's encrypted stream: plaintext in, [length, ciphertext]*
 * out. Its caller passes the result to the TCP stream's send, which takes a list or a
 * single Uint8Array alike.
 */
interface NoiseStreamInternals {
  encrypt(chunk: unknown): ByteList | Uint8Array;
}

/** Make one Noise stream hand TCP a single buffer per encrypted write. */
export function coalesceEncryptedWrites(connection: unknown): boolean {
  const c = connection as Partial<NoiseStreamInternals> | null;
  if (c === null || typeof c !== "object" || typeof c.encrypt !== "function") return false;
  const encrypt = c.encrypt.bind(c);
  c.encrypt = (chunk) => {
    const out = encrypt(chunk);
    return out instanceof Uint8Array || out.bufs.length < 2 ? out : out.subarray();
  };
  return true;
}

/** Noise whose encrypted messages leave as one buffer each (see above). */
export function coalescingNoise(init?: NoiseInit): (components: Components) => ConnectionEncrypter {
  const make = noise(init) as unknown as (components: Components) => ConnectionEncrypter;
  return (components) => {
    const encrypter = make(components);
    const tuned = <T extends { connection: MessageStream }>(secured: T): T => {
      if (!coalesceEncryptedWrites(secured.connection)) warnOnce("@libp2p/noise's stream has no encrypt");
      return secured;
    };
    return {
      protocol: encrypter.protocol,
      secureInbound: async (connection, options) => tuned(await encrypter.secureInbound(connection, options)),
      secureOutbound: async (connection, options) => tuned(await encrypter.secureOutbound(connection, options)),
    };
  };
}
