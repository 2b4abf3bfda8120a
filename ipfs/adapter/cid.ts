/**
 * The CID convention of trustmesh: single-block content is addressed by a CIDv1 with the
 * raw codec (0x55) and a sha2-256 multihash. On chain a CID travels as its binary bytes
 * (see offchain/chain/eip712.ts), so `cidToHex` / `hexToCid` are the only bridge.
 * Pure: no I/O.
 */
import { createHash } from "node:crypto";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import * as Digest from "multiformats/hashes/digest";
import { IpfsError } from "./errors.js";

export const RAW_CODEC = raw.code; // 0x55
export const SHA2_256 = 0x12;

export type Hex = `0x${string}`;

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** The raw/sha2-256 CIDv1 of `bytes`. */
export function rawCid(bytes: Uint8Array): CID {
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, sha256(bytes)));
}

/**
 * Throws CID_MISMATCH unless `bytes` hash to the CID's multihash. Only sha2-256 is
 * accepted: a CID naming a hash we cannot recompute would be taken on trust.
 */
export function verifyBlock(cid: CID, bytes: Uint8Array): void {
  if (cid.multihash.code !== SHA2_256) {
    throw new IpfsError("CID_INVALID", `CID ${cid} uses multihash 0x${cid.multihash.code.toString(16)}, only sha2-256 is accepted`);
  }
  const digest = sha256(bytes);
  const expected = cid.multihash.digest;
  let same = digest.length === expected.length;
  for (let i = 0; same && i < digest.length; i++) same = digest[i] === expected[i];
  if (!same) {
    throw new IpfsError("CID_MISMATCH", `content does not match CID ${cid}`, {
      metaMessages: [`received ${bytes.length} bytes with sha256 ${Buffer.from(digest).toString("hex")}`],
    });
  }
}

/** Parses a CID string, binary bytes or a CID object; throws CID_INVALID. */
export function toCid(value: CID | string | Uint8Array): CID {
  try {
    const cid = typeof value === "string" ? CID.parse(value) : value instanceof Uint8Array ? CID.decode(value) : CID.asCID(value);
    if (cid === null) throw new TypeError("not a CID");
    if (cid.version !== 1) throw new TypeError(`CIDv${cid.version}, expected CIDv1`);
    return cid;
  } catch (cause) {
    if (cause instanceof IpfsError) throw cause;
    throw new IpfsError("CID_INVALID", `not a CIDv1: ${describe(value)}`, { cause });
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 80));
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return typeof value;
}

/** Binary CID as 0x-hex, the form viem passes to `bytes` parameters. */
export function cidToHex(cid: CID): Hex {
  return `0x${Buffer.from(cid.bytes).toString("hex")}`;
}

export function hexToCid(hex: string): CID {
  if (!/^0x([0-9a-fA-F]{2})+$/.test(hex)) {
    throw new IpfsError("CID_INVALID", `not 0x-prefixed even-length hex: ${JSON.stringify(hex.slice(0, 80))}`);
  }
  return toCid(new Uint8Array(Buffer.from(hex.slice(2), "hex")));
}

export { CID };
