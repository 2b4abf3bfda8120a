/**
 * Memo tables and per-round state kept in a Map bounded by insertion order: many are
 * process-wide and fed by what peers send, so none may grow without limit.
 */

/** Sets `key` to `value`, first dropping the oldest entry when `map` already holds `max` others; returns `value`. */
export function rememberBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): V {
  if (!map.has(key) && map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
  return value;
}
