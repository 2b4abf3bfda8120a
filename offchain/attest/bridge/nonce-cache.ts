/**
 * Replay and staleness guard for gateway nonces: a nonce is accepted once, and only when
 * its issue time is within `ttlMs` of our clock. Remembered nonces are dropped after
 * 2 * ttlMs, when the staleness check alone rejects them. Time is injected.
 */
import { BridgeError } from "./errors.js";

export class NonceCache {
  private readonly seen = new Map<string, number>();

  constructor(
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 100_000,
  ) {}

  /** Accepts the nonce or throws NONCE_STALE / NONCE_REPLAYED. */
  check(nonceHex: string, issuedAt: number): void {
    const t = this.now();
    this.prune(t);
    if (Math.abs(t - issuedAt) > this.ttlMs) {
      throw new BridgeError("NONCE_STALE", `nonce issued ${t - issuedAt} ms ago; window is ${this.ttlMs} ms`);
    }
    if (this.seen.has(nonceHex)) throw new BridgeError("NONCE_REPLAYED", "gateway nonce was already used");
    if (this.seen.size >= this.maxEntries) throw new BridgeError("NONCE_STALE", "nonce cache full; retry later");
    this.seen.set(nonceHex, t + 2 * this.ttlMs);
  }

  private prune(t: number): void {
    // Map iteration is insertion order and expiries are monotone in insertion time.
    for (const [k, exp] of this.seen) {
      if (exp > t) break;
      this.seen.delete(k);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
