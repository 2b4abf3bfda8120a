/**
 * A Noise XX channel over a TCP socket: u32 big-endian length-prefixed frames; the three
 * handshake messages raw, then transport frames `flags(1) || AEAD(ciphertext)` with the
 * flags byte as associated data. Flag bit 0 says "the sender rekeyed before this frame",
 * so the receiver rekeys in step; the sender rekeys every `rekeyIntervalMs` or
 * `rekeyAfterMessages`, whichever comes first.
 *
 * Frames are capped at MAX_FRAME (1 MiB): Noise's 64 KiB limit exists for interop with
 * other Noise libraries, which this private channel does not need; the AEAD has no such limit.
 */
import type { Socket } from "node:net";
import { timingSafeEqual } from "node:crypto";
import { BridgeError } from "./errors.js";
import { XXHandshake, type CipherState, type StaticKeyPair } from "./noise.js";

export const MAX_FRAME = 1 << 20;
const FLAG_REKEYED = 1;
export const BRIDGE_PROLOGUE = Buffer.from("trustmesh-agent-bridge/1", "latin1");

export interface RekeyPolicy {
  rekeyIntervalMs?: number;
  rekeyAfterMessages?: number;
}

export interface ChannelOptions extends RekeyPolicy {
  staticKey: StaticKeyPair;
  /** Remote static keys we accept (pinned). Empty = accept any (never in production). */
  pinned: readonly Uint8Array[];
  handshakeTimeoutMs?: number;
}

/** Splits a byte stream into length-prefixed frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len > MAX_FRAME + 64) throw new BridgeError("FRAME_INVALID", `frame of ${len} bytes exceeds the limit`);
      if (this.buf.length < 4 + len) break;
      out.push(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}

export function frame(payload: Uint8Array): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(payload.length);
  return Buffer.concat([h, payload]);
}

function isPinned(key: Uint8Array, pinned: readonly Uint8Array[]): boolean {
  if (pinned.length === 0) return true;
  return pinned.some((p) => p.length === key.length && timingSafeEqual(Buffer.from(p), Buffer.from(key)));
}

export class SecureChannel {
  private lastRekey = Date.now();
  private sentSinceRekey = 0;
  private handlers: Array<(m: Buffer) => void> = [];
  private closeHandlers: Array<(e?: Error) => void> = [];
  private closed = false;
  private closeError: Error | undefined;
  /** Messages decrypted before anyone listened (frames that arrived with the handshake). */
  private backlog: Buffer[] = [];
  /** How many times each direction rekeyed (observable for tests and metrics). */
  readonly rekeys = { send: 0, recv: 0 };

  private constructor(
    private readonly socket: Socket,
    private readonly send_: CipherState,
    private readonly recv_: CipherState,
    readonly handshakeHash: Buffer,
    readonly remoteStatic: Buffer,
    private readonly policy: RekeyPolicy,
    reader: FrameReader,
    pending: Buffer[],
  ) {
    const onFrame = (f: Buffer): void => {
      let plain: Buffer;
      try {
        if (f.length < 1) throw new BridgeError("FRAME_INVALID", "empty transport frame");
        const flags = f.subarray(0, 1);
        if ((flags[0] as number) & FLAG_REKEYED) {
          this.recv_.rekey();
          this.rekeys.recv++;
        }
        plain = this.recv_.decrypt(flags, f.subarray(1));
      } catch (e) {
        // A frame that fails authentication means tampering or desync: the channel is dead.
        this.destroy(e as Error);
        return;
      }
      if (this.handlers.length === 0) this.backlog.push(plain);
      else for (const h of this.handlers) h(plain);
    };
    socket.on("data", (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        this.destroy(e as Error);
        return;
      }
      for (const f of frames) if (!this.closed) onFrame(f);
    });
    socket.on("close", () => this.destroy());
    socket.on("error", (e) => this.destroy(e));
    for (const f of pending) if (!this.closed) onFrame(f);
  }

  /** Runs the XX handshake as initiator (gateway) or responder (agent). */
  static async establish(socket: Socket, initiator: boolean, opts: ChannelOptions): Promise<SecureChannel> {
    const hs = new XXHandshake(initiator, opts.staticKey, BRIDGE_PROLOGUE);
    const reader = new FrameReader();
    const queue: Buffer[] = [];
    let wake: (() => void) | undefined;
    let failure: Error | undefined;
    const onData = (chunk: Buffer): void => {
      try {
        queue.push(...reader.push(chunk));
      } catch (e) {
        failure = e as Error;
      }
      wake?.();
    };
    const onEnd = (): void => {
      failure ??= new BridgeError("HANDSHAKE_FAILED", "connection closed during handshake");
      wake?.();
    };
    socket.on("data", onData);
    socket.on("close", onEnd);
    socket.on("error", onEnd);
    const timeout = opts.handshakeTimeoutMs ?? 5000;
    const deadline = Date.now() + timeout;
    const next = async (): Promise<Buffer> => {
      while (queue.length === 0) {
        if (failure) throw failure;
        const left = deadline - Date.now();
        if (left <= 0) throw new BridgeError("HANDSHAKE_FAILED", `handshake timed out after ${timeout} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
      return queue.shift() as Buffer;
    };
    try {
      if (initiator) {
        socket.write(frame(hs.writeMessage()));
        hs.readMessage(await next());
        socket.write(frame(hs.writeMessage()));
      } else {
        hs.readMessage(await next());
        socket.write(frame(hs.writeMessage()));
        hs.readMessage(await next());
      }
      const r = hs.finish();
      if (!isPinned(r.remoteStatic, opts.pinned)) {
        throw new BridgeError("PEER_NOT_PINNED", "peer static key is not pinned", {
          metaMessages: [`peer key: ${r.remoteStatic.toString("hex")}`],
        });
      }
      socket.off("data", onData);
      socket.off("close", onEnd);
      socket.off("error", onEnd);
      return new SecureChannel(socket, r.send, r.recv, r.handshakeHash, r.remoteStatic, opts, reader, queue.splice(0));
    } catch (e) {
      socket.off("data", onData);
      socket.destroy();
      throw e instanceof BridgeError ? e : new BridgeError("HANDSHAKE_FAILED", "handshake failed", { cause: e });
    }
  }

  private dueRekey(): boolean {
    const p = this.policy;
    return (
      (p.rekeyIntervalMs !== undefined && Date.now() - this.lastRekey >= p.rekeyIntervalMs) ||
      (p.rekeyAfterMessages !== undefined && this.sentSinceRekey >= p.rekeyAfterMessages)
    );
  }

  send(plaintext: Uint8Array): void {
    if (this.closed) throw new BridgeError("CLOSED", "channel is closed");
    let flags = 0;
    if (this.dueRekey()) {
      this.send_.rekey();
      this.rekeys.send++;
      this.lastRekey = Date.now();
      this.sentSinceRekey = 0;
      flags |= FLAG_REKEYED;
    }
    const f = Buffer.from([flags]);
    const c = this.send_.encrypt(f, plaintext);
    this.sentSinceRekey++;
    this.socket.write(frame(Buffer.concat([f, c])));
  }

  /** Sends raw bytes as a frame without encryption (tests: prove tampering is caught). */
  sendRawFrameForTest(bytes: Uint8Array): void {
    this.socket.write(frame(bytes));
  }

  onMessage(h: (m: Buffer) => void): void {
    this.handlers.push(h);
    const early = this.backlog.splice(0);
    for (const m of early) h(m);
  }

  onClose(h: (e?: Error) => void): void {
    if (this.closed) queueMicrotask(() => h(this.closeError));
    else this.closeHandlers.push(h);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  destroy(e?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = e;
    this.socket.destroy();
    for (const h of this.closeHandlers) h(e);
  }
}
