/**
 * Vote counting, on its own: distinct senders per key. A replica counts one message per
 * sender per key, so a duplicate or a replay never moves a quorum.
 */

/** f for n = 3f+1 (extra replicas beyond 3f+1 add no fault tolerance). */
export function faultTolerance(n: number): number {
  return Math.floor((n - 1) / 3);
}

/** 2f+1: any two such sets share at least f+1 replicas, so at least one honest one. */
export function quorumSize(n: number): number {
  return 2 * faultTolerance(n) + 1;
}

export class VoteCounter<T> {
  private readonly byKey = new Map<string, Map<number, T>>();

  /** Adds `item` from `sender` under `key`; false when that sender was already counted there. */
  add(key: string, sender: number, item: T): boolean {
    let senders = this.byKey.get(key);
    if (!senders) {
      senders = new Map();
      this.byKey.set(key, senders);
    }
    if (senders.has(sender)) return false;
    senders.set(sender, item);
    return true;
  }

  count(key: string): number {
    return this.byKey.get(key)?.size ?? 0;
  }

  has(key: string, sender: number): boolean {
    return this.byKey.get(key)?.has(sender) ?? false;
  }

  items(key: string): T[] {
    return [...(this.byKey.get(key)?.values() ?? [])];
  }

  entries(key: string): [number, T][] {
    return [...(this.byKey.get(key)?.entries() ?? [])];
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }
}
