/**
 * Deterministic discrete-event scheduler and lossy network for the PBFT simulator. Time is
 * virtual (ms); every random choice comes from one seeded PRNG, so a failing seed replays
 * exactly.
 */
import type { PbftMessage, TimerId, Vote } from "../types.js";
import type { Prng } from "./prng.js";

export interface Partition {
  start: number;
  end: number;
  /** replicas in different groups cannot talk while the partition lasts */
  groups: number[][];
}

export interface NetworkConfig {
  minDelay: number;
  maxDelay: number;
  dropRate: number;
  duplicateRate: number;
  partitions: Partition[];
  /** Global stabilisation time: from here on no drops and no partitions (delays stay bounded). */
  gst: number;
}

export type SimEvent =
  | { kind: "deliver"; to: number; from: number; message: PbftMessage }
  | { kind: "timer"; replica: number; timer: TimerId; token: number }
  | { kind: "request"; replica: number; vote: Vote };

interface Queued {
  time: number;
  order: number;
  event: SimEvent;
}

/** Binary min-heap on (time, insertion order). */
export class EventQueue {
  private heap: Queued[] = [];
  private order = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: number, event: SimEvent): void {
    const h = this.heap;
    h.push({ time, order: this.order++, event });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  pop(): Queued | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Queued, b: Queued): boolean {
  return a.time < b.time || (a.time === b.time && a.order < b.order);
}

export class SimNetwork {
  dropped = 0;
  delivered = 0;

  constructor(
    private readonly cfg: NetworkConfig,
    private readonly rng: Prng,
    private readonly queue: EventQueue,
  ) {}

  private cut(now: number, from: number, to: number): boolean {
    if (now >= this.cfg.gst) return false;
    for (const p of this.cfg.partitions) {
      if (now < p.start || now >= p.end) continue;
      const gf = p.groups.findIndex((g) => g.includes(from));
      const gt = p.groups.findIndex((g) => g.includes(to));
      if (gf !== gt) return true;
    }
    return false;
  }

  /** Schedule delivery with random delay (so reordering), maybe dropped or duplicated. */
  send(now: number, from: number, to: number, message: PbftMessage): void {
    if (this.cut(now, from, to) || (now < this.cfg.gst && this.rng.chance(this.cfg.dropRate))) {
      this.dropped++;
      return;
    }
    const copies = this.rng.chance(this.cfg.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.queue.push(now + this.rng.int(this.cfg.minDelay, this.cfg.maxDelay), { kind: "deliver", to, from, message });
    }
  }
}
