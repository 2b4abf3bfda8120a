/**
 * KDFa (TPM 2.0 Part 1, 11.4.10.2): SP 800-108 KDF in counter mode with HMAC.
 *   K(i) = HMAC_hash(key, [i]32 || label || 0x00 || contextU || contextV || [bits]32)
 * concatenated for i = 1.. until `bits` are produced. The label is a string whose
 * terminating NUL is part of the input (the 0x00 above); we add it when absent.
 */
import { createHmac } from "node:crypto";

export function kdfa(hash: string, key: Uint8Array, label: string, contextU: Uint8Array, contextV: Uint8Array, bits: number): Buffer {
  const labelBytes = Buffer.from(label.endsWith("\0") ? label : `${label}\0`, "latin1");
  const bitsBuf = Buffer.alloc(4);
  bitsBuf.writeUInt32BE(bits);
  const bytes = Math.ceil(bits / 8);
  const out: Buffer[] = [];
  let produced = 0;
  for (let i = 1; produced < bytes; i++) {
    const ctr = Buffer.alloc(4);
    ctr.writeUInt32BE(i);
    const block = createHmac(hash, key).update(ctr).update(labelBytes).update(contextU).update(contextV).update(bitsBuf).digest();
    out.push(block);
    produced += block.length;
  }
  const result = Buffer.concat(out).subarray(0, bytes);
  // A bit count that is not a multiple of 8 masks the unused high bits of the first byte.
  if (bits % 8 !== 0) result[0] = (result[0] as number) & ((1 << (bits % 8)) - 1);
  return result;
}
