/**
 * Drives one PBFT replica (offchain/core/pbft) over a TrustmeshHost. Networking only, in the
 * reactor style: decode, authenticate the sender, enqueue; one loop owns the replica and
 * acts on its outputs strictly in order (a `persist` is written before any later message
 * leaves). Broadcasts go over the pbft gossip topic, `send` over a direct stream; what a busy
 * spell of steps produces leaves bundled, one envelope per destination (see `flush`).
 *
 * Two signatures, two jobs: the envelope's proves which registered node put the message on
 * the network (gossip validation, peer scoring); the PBFT authenticator inside proves which
 * replica authored it, so relayed messages (proofs sent to a laggard) stay verifiable.
 * Traffic from nodes outside this committee is ignored.
 *
 * Why the inner check is not skipped when the envelope's signer is the message's author:
 * that envelope does prove the author sent these bytes, but the replica keeps the message and
 * later hands it on inside proofs (prepared certificates in view changes, new views, catch-up)
 * where no envelope travels and only the inner signature counts. A Byzantine replica could
 * then put a well-enveloped prepare with a garbage inner signature into an honest replica's
 * prepared certificate, and every other replica would reject that honest replica's view
 * change: a liveness attack bought with one skipped check. One signature could serve both
 * only if proofs carried whole envelopes, a wire-format change. Measured instead: the inner
 * check is one ~70 us libsecp256k1 verification per received message (offchain/core/crypto),
 * against ~1-3 ms of libp2p handling (Noise, yamux, gossipsub) per delivery.
 */
import type { Startable } from "@libp2p/interface";
import { decodeMessages, packMessages, timerKey, type Decision, type JournalRecord, type PbftMessage, type Replica, type ReplicaInput, type ReplicaOutput, type ReplicaStatus, type Vote } from "../core/pbft/index.js";
import { isTrustmeshError } from "../core/errors.js";
import type { ReceivedMessage, TrustmeshHost } from "./host.js";
import { MAX_PAYLOAD_BYTES } from "./envelope.js";
import { MessageType } from "./topics.js";

export interface PbftJournal {
  append(record: JournalRecord): void | Promise<void>;
}

export interface PbftTransportOptions {
  host: TrustmeshHost;
  replica: Replica;
  /** Node id of every replica, by replica index (the committee order the replica uses). */
  committee: readonly bigint[];
  /** Written before the outputs that follow a `persist`; omit only in benchmarks. */
  journal?: PbftJournal;
  /** The envelope round for this committee's messages (e.g. the attestation round id). */
  round?: bigint;
  onDecide?: (decision: Decision) => void;
  /**
   * Messages of this round that arrived before the transport started (a member that formed
   * its committee a moment later than the primary): replayed, in order, once started.
   */
  backlog?: readonly ReceivedMessage[];
  /** Non-fatal problems (a publish that failed, a peer dropped): for logs. */
  onError?: (err: unknown) => void;
}

/** Destination key of held broadcasts (replica indexes are 0..n-1). */
const BROADCAST = -1;
/** A held spell ends at this many messages or this age, even while the queue stays busy. */
const HOLD_MAX_MESSAGES = 64;
const HOLD_MAX_MS = 4;

/** Outputs held for one flush, by destination (BROADCAST or a replica index), in output order. */
class HeldOutputs {
  private readonly byDestination = new Map<number, PbftMessage[]>();
  count = 0;
  /** performance.now() of the first message held since the last take (Infinity when empty). */
  since = Number.POSITIVE_INFINITY;

  hold(to: number, message: PbftMessage): void {
    if (this.count === 0) this.since = performance.now();
    const list = this.byDestination.get(to);
    if (list) list.push(message);
    else this.byDestination.set(to, [message]);
    this.count++;
  }

  take(): [number, PbftMessage[]][] {
    const all = [...this.byDestination];
    this.clear();
    return all;
  }

  clear(): void {
    this.byDestination.clear();
    this.count = 0;
    this.since = Number.POSITIVE_INFINITY;
  }
}

const PENALISED_REJECTS: ReadonlySet<string> = new Set(["malformed", "bad-digest", "conflicting-pre-prepare"]);

export class PbftTransport implements Startable {
  private readonly queue: ReplicaInput[] = [];
  private draining = false;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private unsubscribe: (() => void) | undefined;
  private running = false;
  private readonly indexOf = new Map<bigint, number>();
  private readonly outgoing = new HeldOutputs();

  constructor(private readonly opts: PbftTransportOptions) {
    opts.committee.forEach((nodeId, i) => this.indexOf.set(nodeId, i));
  }

  async start(): Promise<void> {
    this.running = true;
    this.unsubscribe = this.opts.host.subscribe("pbft", this.onMessage);
    await this.handleOutputs(await this.opts.replica.resume());
    await this.flush();
    for (const m of this.opts.backlog ?? []) this.onMessage(m);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.outgoing.clear();
  }

  /** The replica's view, primary, progress (for the relayer, dashboards and tests). */
  status(): ReplicaStatus {
    return this.opts.replica.status();
  }

  /** Propose a verdict (the PBFT client request) from this gateway. */
  submit(vote: Vote): void {
    this.enqueue({ type: "request", vote });
  }

  private readonly onMessage = (m: ReceivedMessage): void => {
    if (m.envelope.type !== MessageType.Pbft) return;
    // Concurrent rounds share the topic: each transport hears only its own round.
    if (this.opts.round !== undefined && m.envelope.round !== this.opts.round) return;
    let messages: PbftMessage[];
    try {
      messages = decodeMessages(m.envelope.payload);
    } catch (err) {
      if (!isTrustmeshError(err)) this.opts.onError?.(err);
      this.opts.host.admissions.penalise(m.from);
      return;
    }
    // Another committee's traffic on the shared topic. A message whose `replica` is not the
    // envelope's sender is normal: a replica helping a laggard re-sends other replicas'
    // signed messages; the replica checks each message's own authenticator.
    if (!this.indexOf.has(m.envelope.sender)) return;
    // Only a broadcast by the message's own author can be its retransmission. Everything sent
    // point to point is a replica's help to this one (its decided log, a new view), and a
    // message signed by someone other than its author is a relay: duplicates of either say
    // nothing about their authors lagging.
    for (const message of messages) {
      this.enqueue({ type: "message", message, relayed: m.via === "direct" || this.opts.committee[message.replica] !== m.envelope.sender });
    }
  };

  private enqueue(input: ReplicaInput): void {
    if (!this.running) return;
    this.queue.push(input);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.running && this.queue.length > 0) {
        const input = this.queue.shift()!;
        try {
          await this.handleOutputs(await this.opts.replica.step(input));
        } catch (err) {
          this.opts.onError?.(err);
        }
        if (this.queue.length === 0 || this.outgoing.count >= HOLD_MAX_MESSAGES || performance.now() - this.outgoing.since >= HOLD_MAX_MS) await this.flush();
      }
    } finally {
      this.draining = false;
    }
    // Stopped with a step in flight, or the last step raced a stop: nothing is left held.
    if (!this.running) this.outgoing.clear();
  }

  /**
   * Messages leave in bundles: what the steps of one busy spell produce is held and goes out
   * when the queue runs dry (or HOLD_MAX_MESSAGES / HOLD_MAX_MS is reached), the broadcasts as
   * one gossip envelope, the sends as one direct envelope per destination. Under a burst of
   * requests that is one envelope signature, one gossip message id and one Noise frame per
   * peer where there were one per message. Holding only delays, so the journal rule still
   * holds: a persist is written, awaited, before any output that follows it leaves.
   */
  private async handleOutputs(outputs: ReplicaOutput[]): Promise<void> {
    for (const o of outputs) {
      switch (o.type) {
        case "persist":
          await this.opts.journal?.append(o.record);
          break;
        case "broadcast":
          this.outgoing.hold(BROADCAST, o.message);
          break;
        case "send":
          this.outgoing.hold(o.to, o.message);
          break;
        case "set-timer":
          this.setTimer(o.timer, o.ms);
          break;
        case "cancel-timer": {
          const k = timerKey(o.timer);
          clearTimeout(this.timers.get(k));
          this.timers.delete(k);
          break;
        }
        case "decide":
          this.opts.onDecide?.(o.decision);
          break;
        case "reject": {
          // Only what no honest replica sends costs gossip score. A committee formed a
          // moment apart, an evidence view that differs, a stale view: those are rejected by
          // the replica too, but penalising them cut honest gateways off the gossip mesh.
          if (!PENALISED_REJECTS.has(o.reason)) break;
          const nodeId = this.opts.committee[o.from];
          const peer = nodeId === undefined ? undefined : this.opts.host.admittedPeers().find((p) => p.nodeId === nodeId);
          if (peer !== undefined) this.opts.host.admissions.penalise(peer.peerId);
          break;
        }
        default:
          // new-view-installed, stable-checkpoint, state-transfer: the relayer's concern.
          break;
      }
    }
  }

  private async flush(): Promise<void> {
    for (const [to, messages] of this.outgoing.take()) {
      for (const payload of this.pack(messages)) {
        if (to === BROADCAST) await this.publish(payload);
        else await this.sendTo(to, payload);
      }
    }
  }

  /**
   * Payloads for one destination. A message the codec cannot encode is the replica's bug: it
   * is reported and left out, and the messages held with it still leave (packed alone only
   * then, so the common case encodes each message once).
   */
  private pack(messages: PbftMessage[]): Uint8Array[] {
    try {
      return packMessages(messages, MAX_PAYLOAD_BYTES);
    } catch {
      const encodable = messages.filter((m) => {
        try {
          packMessages([m], MAX_PAYLOAD_BYTES);
          return true;
        } catch (err) {
          this.opts.onError?.(err);
          return false;
        }
      });
      return encodable.length === 0 ? [] : packMessages(encodable, MAX_PAYLOAD_BYTES);
    }
  }

  private async publish(payload: Uint8Array): Promise<void> {
    try {
      await this.opts.host.publish({ type: MessageType.Pbft, round: this.opts.round ?? 0n, payload });
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private async sendTo(to: number, payload: Uint8Array): Promise<void> {
    const nodeId = this.opts.committee[to];
    if (nodeId === undefined) return;
    try {
      await this.opts.host.sendDirect(nodeId, { type: MessageType.Pbft, round: this.opts.round ?? 0n, payload });
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private setTimer(timer: Parameters<typeof timerKey>[0], ms: number): void {
    const k = timerKey(timer);
    clearTimeout(this.timers.get(k));
    const t = setTimeout(() => {
      this.timers.delete(k);
      this.enqueue({ type: "timeout", timer });
    }, ms);
    t.unref?.();
    this.timers.set(k, t);
  }
}
