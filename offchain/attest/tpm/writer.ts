/**
 * Growable big/little-endian byte writer: the inverse of TpmReader, used to encode PCR
 * selections, build digests over structures and write test evidence.
 */
export class TpmWriter {
  private chunks: Buffer[] = [];
  private len = 0;

  get length(): number {
    return this.len;
  }

  private push(b: Buffer): this {
    this.chunks.push(b);
    this.len += b.length;
    return this;
  }

  u8(v: number): this {
    return this.push(Buffer.from([v & 0xff]));
  }

  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    return this.push(b);
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return this.push(b);
  }

  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, v));
    return this.push(b);
  }

  u16le(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    return this.push(b);
  }

  u32le(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return this.push(b);
  }

  u64le(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v));
    return this.push(b);
  }

  bytes(b: Uint8Array): this {
    return this.push(Buffer.from(b));
  }

  /** u16 size prefix then the bytes (TPM2B). */
  tpm2b(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.len);
  }
}
