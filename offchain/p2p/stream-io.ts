/** Read a whole (small) libp2p stream into one buffer, bounded in size and time. */
import type { Stream } from "@libp2p/interface";

/** Returns null when the stream exceeds `maxBytes` (it is aborted) or times out. */
export async function readAll(stream: Stream, maxBytes: number, timeoutMs: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let failed = false;
  const timer = setTimeout(() => {
    failed = true;
    stream.abort(new Error("read timed out"));
  }, timeoutMs);
  try {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
      total += bytes.length;
      if (total > maxBytes) {
        failed = true;
        stream.abort(new Error(`more than ${maxBytes} bytes`));
        break;
      }
      chunks.push(bytes);
    }
  } catch {
    failed = true;
  } finally {
    clearTimeout(timer);
  }
  if (failed) return null;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
