/**
 * EIP-712 digests of the TrustBoard's flat messages (Vote, VrfClaim), computed with the type
 * hash and the domain separator prepared once. Every gateway signs one VrfClaim per round it
 * is drawn for and checks every member's claim and vote signatures: viem's generic
 * hashTypedData re-encodes the domain and the type strings on each call, and at 10 rounds/s
 * that was 6% of the gateways' thread in the devnet profile. The digests are the same bytes
 * (test/chain/typed-hash.test.ts compares them with viem's for random messages).
 *
 * Only what these structs use is supported: uintN, address, bytes32, bytes, string fields,
 * no nested structs or arrays. A value out of its type's range is refused, as viem refuses it.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import type { Address, Hex } from "viem";
import { voteTypes, vrfClaimTypes, type Vote, type VrfClaim } from "./eip712.js";

export class TypedDataError extends Error {
  override name = "TypedDataError";
}

interface Field {
  readonly name: string;
  readonly type: string;
}

const utf8 = new TextEncoder();

function typeHash(primary: string, fields: readonly Field[]): Uint8Array {
  return keccak_256(utf8.encode(`${primary}(${fields.map((f) => `${f.type} ${f.name}`).join(",")})`));
}

function hexBytes(value: unknown, what: string): Uint8Array {
  if (typeof value !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(value)) throw new TypedDataError(`${what}: not 0x-prefixed hex bytes`);
  return hexToBytes(value.slice(2));
}

function uintWord(value: unknown, bits: number, what: string): Uint8Array {
  const n = typeof value === "bigint" ? value : typeof value === "number" && Number.isSafeInteger(value) ? BigInt(value) : undefined;
  if (n === undefined || n < 0n || n >= 1n << BigInt(bits)) throw new TypedDataError(`${what}: not a uint${bits}`);
  return hexToBytes(n.toString(16).padStart(64, "0"));
}

/** One field's 32-byte encoding (EIP-712 encodeData): atomic values padded, dynamic ones hashed. */
function encodeField(field: Field, value: unknown): Uint8Array {
  const what = field.name;
  const uint = /^uint(\d+)$/.exec(field.type);
  if (uint) return uintWord(value, Number(uint[1]), what);
  switch (field.type) {
    case "bytes":
      return keccak_256(hexBytes(value, what));
    case "string":
      if (typeof value !== "string") throw new TypedDataError(`${what}: not a string`);
      return keccak_256(utf8.encode(value));
    case "bytes32": {
      const b = hexBytes(value, what);
      if (b.length !== 32) throw new TypedDataError(`${what}: not 32 bytes`);
      return b;
    }
    case "address": {
      const b = hexBytes(value, what);
      if (b.length !== 20) throw new TypedDataError(`${what}: not an address`);
      const word = new Uint8Array(32);
      word.set(b, 12);
      return word;
    }
    default:
      throw new TypedDataError(`${what}: type ${field.type} is not supported here`);
  }
}

function hashStruct(typeHashBytes: Uint8Array, fields: readonly Field[], message: Record<string, unknown>): Uint8Array {
  const buf = new Uint8Array(32 * (fields.length + 1));
  buf.set(typeHashBytes, 0);
  fields.forEach((f, i) => buf.set(encodeField(f, message[f.name]), 32 * (i + 1)));
  return keccak_256(buf);
}

const DOMAIN_FIELDS: readonly Field[] = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];
const DOMAIN_TYPEHASH = typeHash("EIP712Domain", DOMAIN_FIELDS);
const VOTE_TYPEHASH = typeHash("Vote", voteTypes.Vote);
const VRF_CLAIM_TYPEHASH = typeHash("VrfClaim", vrfClaimTypes.VrfClaim);

/** The domains these messages are signed under: the TrustBoard's (trustBoardDomain) or a test's. */
export interface TypedDomain {
  name: string;
  version: string;
  chainId: number | bigint;
  verifyingContract: Address;
}

/** Domain separators by domain: a gateway knows one, a test a few. */
const separators = new Map<string, Uint8Array>();

function separatorOf(domain: TypedDomain): Uint8Array {
  const key = `${domain.name}|${domain.version}|${domain.chainId}|${String(domain.verifyingContract).toLowerCase()}`;
  let sep = separators.get(key);
  if (sep === undefined) {
    sep = hashStruct(DOMAIN_TYPEHASH, DOMAIN_FIELDS, { ...domain, chainId: BigInt(domain.chainId) });
    if (separators.size >= 64) separators.clear();
    separators.set(key, sep);
  }
  return sep;
}

function digest(separator: Uint8Array, structHash: Uint8Array): Hex {
  const buf = new Uint8Array(66);
  buf[0] = 0x19;
  buf[1] = 0x01;
  buf.set(separator, 2);
  buf.set(structHash, 34);
  return `0x${bytesToHex(keccak_256(buf))}`;
}

/**
 * Digests by vote object (votes are values, never changed once made, as codec.ts's memo
 * assumes too): a member checks the same decoded vote against each endorsement it carries.
 */
const voteDigests = new WeakMap<Vote, { separator: Uint8Array; hash: Hex }>();

/** The EIP-712 digest of a Vote (what viem's hashTypedData returns, and the contract recovers from). */
export function voteTypedHash(domain: TypedDomain, vote: Vote): Hex {
  const separator = separatorOf(domain);
  const hit = voteDigests.get(vote);
  if (hit !== undefined && hit.separator === separator) return hit.hash;
  const hash = digest(separator, hashStruct(VOTE_TYPEHASH, voteTypes.Vote, vote as unknown as Record<string, unknown>));
  voteDigests.set(vote, { separator, hash });
  return hash;
}

/** The EIP-712 digest of a VrfClaim (what viem's hashTypedData returns). */
export function vrfClaimTypedHash(domain: TypedDomain, claim: VrfClaim): Hex {
  return digest(separatorOf(domain), hashStruct(VRF_CLAIM_TYPEHASH, vrfClaimTypes.VrfClaim, claim as unknown as Record<string, unknown>));
}
