/**
 * A hand-driven PBFT cluster for unit tests: messages are queued FIFO, a filter decides what
 * gets delivered, timers are recorded and fired only when a test says so.
 */
import { Replica } from "../../offchain/core/pbft/replica.js";
import { simKeys, type CryptoMode } from "../../offchain/core/pbft/sim/cluster.js";
import {
  timerKey,
  type Decision,
  type JournalRecord,
  type PbftMessage,
  type ReplicaConfig,
  type ReplicaOutput,
  type TimerId,
  type Vote,
  type VoteSigner,
} from "../../offchain/core/pbft/types.js";

export type Filter = (from: number, to: number, m: PbftMessage) => boolean;

export interface Envelope {
  from: number;
  to: number;
  message: PbftMessage;
}

export function vote(round: number, verdict = 1, score = 90): Vote {
  return { round: BigInt(round), node: 7n, verdict, score, evidenceCid: "0x01551220aa", policyCid: "0x01551220bb" };
}

export class Cluster {
  readonly replicas: Replica[] = [];
  readonly outputs: ReplicaOutput[][] = [];
  readonly journals: JournalRecord[][] = [];
  readonly decisions: Map<number, Decision>[] = [];
  readonly timers: Map<string, { timer: TimerId; ms: number }>[] = [];
  readonly signed: Map<string, Set<string>>[] = [];
  queue: Envelope[] = [];
  filter: Filter = () => true;
  /** replicas that neither send nor receive */
  down = new Set<number>();
  readonly keys;

  constructor(
    readonly n: number,
    readonly opts: Partial<ReplicaConfig> = {},
    mode: CryptoMode = "hmac",
  ) {
    this.keys = simKeys(99, n, mode);
    for (let i = 0; i < n; i++) this.replicas.push(this.make(i));
  }

  /** A replica with a vote signer that records what it was asked to sign. */
  make(i: number, journal?: JournalRecord[]): Replica {
    const inner = this.keys.voteSigner(i);
    this.signed[i] ??= new Map();
    const log = this.signed[i]!;
    const signer: VoteSigner = {
      signVote: (v) => {
        const r = v.round.toString();
        if (!log.has(r)) log.set(r, new Set());
        log.get(r)!.add(`${v.verdict}/${v.score}/${v.evidenceCid}`);
        return inner.signVote(v);
      },
    };
    this.outputs[i] = [];
    this.journals[i] ??= [];
    this.decisions[i] ??= new Map();
    this.timers[i] = new Map();
    return new Replica(
      { requestTimeoutMs: 100, batchTimeoutMs: 0, ...this.opts, id: i, members: this.keys.members, auth: this.keys.auth(i), voteSigner: signer, voteVerifier: this.keys.verifier },
      journal,
    );
  }

  apply(i: number, outs: ReplicaOutput[]): void {
    this.outputs[i]!.push(...outs);
    for (const o of outs) {
      switch (o.type) {
        case "persist":
          this.journals[i]!.push(o.record);
          break;
        case "broadcast":
          for (let to = 0; to < this.n; to++) if (to !== i) this.queue.push({ from: i, to, message: o.message });
          break;
        case "send":
          this.queue.push({ from: i, to: o.to, message: o.message });
          break;
        case "decide":
          this.decisions[i]!.set(o.decision.seq, o.decision);
          break;
        case "set-timer":
          this.timers[i]!.set(timerKey(o.timer), { timer: o.timer, ms: o.ms });
          break;
        case "cancel-timer":
          this.timers[i]!.delete(timerKey(o.timer));
          break;
        default:
          break;
      }
    }
  }

  async input(i: number, input: Parameters<Replica["step"]>[0]): Promise<ReplicaOutput[]> {
    const outs = await this.replicas[i]!.step(input);
    this.apply(i, outs);
    return outs;
  }

  async request(v: Vote, to: number[] = [...Array(this.n).keys()]): Promise<void> {
    for (const i of to) if (!this.down.has(i)) await this.input(i, { type: "request", vote: v });
  }

  /** Deliver queued messages until none are left (or `limit` deliveries). */
  async run(limit = 100_000): Promise<number> {
    let delivered = 0;
    while (this.queue.length > 0 && delivered < limit) {
      const e = this.queue.shift()!;
      if (this.down.has(e.from) || this.down.has(e.to) || !this.filter(e.from, e.to, e.message)) continue;
      delivered++;
      await this.input(e.to, { type: "message", message: e.message });
    }
    return delivered;
  }

  /** Fire replica i's pending timer of the given kind. */
  async fire(i: number, kind: TimerId["kind"]): Promise<boolean> {
    for (const [key, t] of this.timers[i]!) {
      if (t.timer.kind !== kind) continue;
      this.timers[i]!.delete(key);
      await this.input(i, { type: "timeout", timer: t.timer });
      return true;
    }
    return false;
  }

  async fireAll(kind: TimerId["kind"]): Promise<void> {
    for (let i = 0; i < this.n; i++) if (!this.down.has(i)) await this.fire(i, kind);
  }
}
