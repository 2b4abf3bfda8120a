/**
 * Remembers message ids for a time-to-live, so a replayed envelope (same signed bytes
 * re-wrapped in a fresh gossip message) is recognised. Bounded in time: the validator also
 * rejects envelopes older than the replay window, so an id never needs to outlive it.
 */
export class SeenCache {
  private readonly expiries = new Map<string, number>();
  private nextSweep = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  has(id: string): boolean {
    const until = this.expiries.get(id);
    return until !== undefined && until > this.now();
  }

  /** Records `id`; returns false if it was already present (a replay). */
  add(id: string): boolean {
    const now = this.now();
    this.sweep(now);
    const until = this.expiries.get(id);
    if (until !== undefined && until > now) return false;
    this.expiries.delete(id); // re-insert at the end to keep expiry order
    this.expiries.set(id, now + this.ttlMs);
    return true;
  }

  get size(): number {
    return this.expiries.size;
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    // Map keeps insertion order and every entry has the same TTL, so expired ids are a prefix.
    for (const [id, until] of this.expiries) {
      if (until > now) break;
      this.expiries.delete(id);
    }
    this.nextSweep = now + Math.max(1, Math.floor(this.ttlMs / 4));
  }
}
