/**
 * Minimal crypto-agile event log writer for tests and fixtures (the firmware owns the
 * production writer). Deliberately independent of the parser: it builds bytes with
 * Buffer writes so a parser bug cannot cancel out a matching writer bug.
 */
import { createHash } from "node:crypto";

export interface WriterEvent {
  pcrIndex: number;
  eventType: number;
  /** Data hashed into every bank (unless `digests` overrides it) and stored as event data. */
  data: Buffer;
  /** Explicit digest per TPM hash id, e.g. an image digest measured elsewhere. */
  digests?: Map<number, Buffer>;
}

const NODE_HASH: Record<number, [string, number]> = { 0x4: ["sha1", 20], 0xb: ["sha256", 32], 0xc: ["sha384", 48], 0xd: ["sha512", 64] };

function u32le(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
function u16le(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

export function writeEventLog(banks: number[], events: WriterEvent[], opts: { startupLocality?: number } = {}): Buffer {
  const specBody = Buffer.concat([
    Buffer.from("Spec ID Event03\0", "latin1"),
    u32le(0), // platformClass: client
    Buffer.from([0, 2, 0, 2]), // minor, major, errata, uintnSize=2 (64-bit)
    u32le(banks.length),
    ...banks.map((a) => Buffer.concat([u16le(a), u16le(NODE_HASH[a]![1])])),
    Buffer.from([0]),
  ]);
  const parts: Buffer[] = [u32le(0), u32le(3), Buffer.alloc(20), u32le(specBody.length), specBody];
  if (opts.startupLocality !== undefined) {
    const body = Buffer.concat([Buffer.from("StartupLocality\0", "latin1"), Buffer.from([opts.startupLocality])]);
    parts.push(u32le(0), u32le(3), u32le(0), u32le(body.length), body);
  }
  for (const e of events) {
    parts.push(u32le(e.pcrIndex), u32le(e.eventType), u32le(banks.length));
    for (const a of banks) {
      const [node] = NODE_HASH[a]!;
      parts.push(u16le(a), e.digests?.get(a) ?? createHash(node).update(e.data).digest());
    }
    parts.push(u32le(e.data.length), e.data);
  }
  return Buffer.concat(parts);
}

/** What a TPM's PCRs hold after the events above: PCR = H(PCR || digest) from zero. */
export function expectedPcrs(banks: number[], events: WriterEvent[], startupLocality?: number): Map<number, Map<number, Buffer>> {
  const out = new Map<number, Map<number, Buffer>>();
  for (const a of banks) {
    const [node, size] = NODE_HASH[a]!;
    const bank = new Map<number, Buffer>();
    for (const e of events) {
      if (e.eventType === 3) continue;
      let cur = bank.get(e.pcrIndex);
      if (!cur) {
        cur = Buffer.alloc(size);
        if (e.pcrIndex === 0 && startupLocality !== undefined) cur[size - 1] = startupLocality;
      }
      const d = e.digests?.get(a) ?? createHash(node).update(e.data).digest();
      bank.set(e.pcrIndex, createHash(node).update(cur).update(d).digest());
    }
    out.set(a, bank);
  }
  return out;
}
