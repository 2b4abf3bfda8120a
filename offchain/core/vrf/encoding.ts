/** Byte, hex and big-endian integer conversions for the VRF, with typed errors on bad input. */
import { hexDigits, hexOf } from "../hex.js";
import { VrfError } from "./errors.js";

const HEX_RE = /^(0x)?([0-9a-fA-F]{2})*$/;

/** Parses hex with or without a 0x prefix; odd length or non-hex characters are unusable input. */
export function hexToBytes(hex: string, what = "value"): Uint8Array {
  const trimmed = hex.trim();
  if (!HEX_RE.test(trimmed)) {
    throw new VrfError("VRF_INVALID_HEX", `${what} is not valid hex`, {
      metaMessages: ["Expected an even number of hex digits, optionally prefixed with 0x."],
    });
  }
  const body = trimmed.startsWith("0x") ? trimmed.slice(2) : trimmed;
  return new Uint8Array(Buffer.from(body, "hex"));
}

export function bytesToHex(bytes: Uint8Array, prefix = true): string {
  return prefix ? hexOf(bytes) : hexDigits(bytes);
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** Big-endian, left-padded to `length` bytes; the caller guarantees the value fits. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n || value < 0n) {
    throw new VrfError("VRF_SCALAR_RANGE", `integer does not fit in ${length} bytes`);
  }
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
