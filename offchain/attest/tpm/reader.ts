/**
 * Bounds-checked reader for TPM wire structures (big-endian) and, with the `le` methods,
 * for the little-endian TCG event log. Every read checks the remaining length first, so a
 * truncated or hostile buffer yields an AttestError, never a RangeError or a silent zero.
 */
import { AttestError, type AttestErrorCode } from "../errors.js";

export interface TpmReaderOptions {
  /** Error code raised on malformed input; "TPM_PARSE" unless the caller parses another format. */
  code?: AttestErrorCode;
  /** Name of the structure being read, used in error messages. */
  what?: string;
}

export class TpmReader {
  private pos = 0;
  private readonly code: AttestErrorCode;
  private readonly what: string;

  constructor(
    private readonly buf: Uint8Array,
    options: TpmReaderOptions = {},
  ) {
    this.code = options.code ?? "TPM_PARSE";
    this.what = options.what ?? "TPM structure";
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Raises this reader's error at the current offset. */
  fail(message: string, meta: string[] = []): never {
    throw new AttestError(this.code, `${this.what}: ${message}`, {
      metaMessages: [`at byte offset ${this.pos} of ${this.buf.length}`, ...meta],
    });
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) {
      this.fail(`truncated reading ${field}: need ${n} bytes, ${this.remaining} left`);
    }
  }

  u8(field = "u8"): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field = "u16"): number {
    this.need(2, field);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(field = "u32"): number {
    this.need(4, field);
    const b = this.buf;
    const p = this.pos;
    const v = ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    this.pos += 4;
    return v;
  }

  u64(field = "u64"): bigint {
    const hi = this.u32(field);
    const lo = this.u32(field);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  u16le(field = "u16"): number {
    this.need(2, field);
    const v = this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }

  u32le(field = "u32"): number {
    this.need(4, field);
    const b = this.buf;
    const p = this.pos;
    const v = ((b[p + 3]! << 24) >>> 0) + ((b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!);
    this.pos += 4;
    return v;
  }

  u64le(field = "u64"): bigint {
    const lo = this.u32le(field);
    const hi = this.u32le(field);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** `n` raw bytes, copied so the result never aliases a caller's buffer. */
  bytes(n: number, field = "bytes"): Buffer {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`invalid length ${n} for ${field}`);
    this.need(n, field);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** A TPM2B: u16 size then that many bytes. `max` bounds the size as the spec's union does. */
  tpm2b(field = "TPM2B", max?: number): Buffer {
    const size = this.u16(`${field}.size`);
    if (max !== undefined && size > max) this.fail(`${field} size ${size} exceeds maximum ${max}`);
    return this.bytes(size, field);
  }

  /** Rejects trailing bytes: a structure that parses but carries extra data is not the one signed. */
  assertEnd(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing byte(s) after the structure`);
  }
}
