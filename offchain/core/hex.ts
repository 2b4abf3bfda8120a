/**
 * Hex text as one flat string. Hex built by appending per byte (viem's and noble's
 * bytesToHex, a `+=` loop) is a V8 cons-string per byte: a 32-byte digest kept in a cache
 * holds about 1 KB that way, against under 100 bytes flat. A gateway keeps hundreds of
 * thousands of such strings (replay ids, tickets, votes), and the garbage collector walks
 * them all: at 10 rounds/s the cons strings were most of the seven-gateway devnet's growth.
 */
export function hexOf(bytes: Uint8Array): `0x${string}` {
  return `0x${hexDigits(bytes)}`;
}

/** The same without the 0x prefix. */
export function hexDigits(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
