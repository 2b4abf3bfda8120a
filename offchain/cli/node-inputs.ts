/**
 * Parsing of operator inputs (VRF public key, digests, CIDs, token amounts, node keys)
 * into the exact on-chain shapes. Pure and browser-safe (the dashboard uses it too);
 * every bad input is a CliInputError naming the flag.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { CID } from "multiformats/cid";
import { bytesToHex, hexToBytes, getAddress, isAddress, isHex, parseUnits, type Address, type Hex } from "viem";
import { CliInputError } from "./input-error.js";

/** A secp256k1 point from SEC1 hex (compressed 33 bytes or uncompressed 65) or raw x||y (64 bytes). */
export function parseVrfPublicKey(hex: string, flag = "--vrf-public-key"): readonly [bigint, bigint] {
  const h = hex.replace(/^0x/, "");
  const sec1 = h.length === 128 ? `04${h}` : h;
  try {
    const p = secp256k1.Point.fromHex(sec1);
    const { x, y } = p.toAffine();
    return [x, y] as const;
  } catch (cause) {
    throw new CliInputError("CLI_BAD_VRF_KEY", `${flag} is not a secp256k1 public key`, {
      metaMessages: ["Give 33-byte compressed, 65-byte uncompressed or 64-byte x||y hex."],
      cause,
    });
  }
}

export function parseBytes32(v: string, flag: string): Hex {
  const h = (v.startsWith("0x") ? v : `0x${v}`) as Hex;
  if (!isHex(h) || h.length !== 66) throw new CliInputError("CLI_BAD_BYTES32", `${flag} must be 32 bytes of hex`);
  return h;
}

/** A CID in text form (bafy…, Qm…) or its binary form as hex, to the binary bytes the chain stores. */
export function parseCid(v: string, flag: string): Hex {
  if (isHex(v)) {
    try {
      CID.decode(hexToBytes(v));
      return v;
    } catch (cause) {
      throw new CliInputError("CLI_BAD_CID", `${flag} hex is not a binary CID`, { cause });
    }
  }
  try {
    return bytesToHex(CID.parse(v).bytes);
  } catch (cause) {
    throw new CliInputError("CLI_BAD_CID", `${flag} "${v}" is not a CID`, { cause });
  }
}

/** "100" or "0.5" tokens (18 decimals) to base units. */
export function parseTokenAmount(v: string, flag: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(v)) throw new CliInputError("CLI_BAD_AMOUNT", `${flag} must be a token amount like 100 or 0.5, got "${v}"`);
  return parseUnits(v, 18);
}

export function parseAddress(v: string, flag: string): Address {
  if (!isAddress(v, { strict: false })) throw new CliInputError("CLI_BAD_ADDRESS", `${flag} is not an address`);
  return getAddress(v);
}

/** The node identity an operator registers; the gateway's enrolment can write it as JSON (--keys FILE). */
export interface NodeKeysInput {
  gateway?: string;
  vrfPublicKey?: string;
  akDigest?: string;
  ekCertDigest?: string;
  fingerprintRoot?: string;
  tier?: number;
  metadataCid?: string;
}

export interface Registration {
  gateway: Address;
  vrfPublicKey: readonly [bigint, bigint];
  akDigest: Hex;
  ekCertDigest: Hex;
  fingerprintRoot: Hex;
  tier: number;
  metadataCid: Hex;
  stake: bigint;
}

const ZERO32 = `0x${"00".repeat(32)}` as Hex;

/** Builds the on-chain Registration from flags over a keys file; the gateway defaults to the signer. */
export function buildRegistration(k: NodeKeysInput, stake: bigint, signer: Address): Registration {
  if (!k.vrfPublicKey) throw new CliInputError("CLI_MISSING", "--vrf-public-key is required (or vrfPublicKey in --keys)");
  if (!k.akDigest) throw new CliInputError("CLI_MISSING", "--ak-digest is required (or akDigest in --keys)");
  if (!k.fingerprintRoot) throw new CliInputError("CLI_MISSING", "--fingerprint-root is required (or fingerprintRoot in --keys)");
  if (!k.metadataCid) throw new CliInputError("CLI_MISSING", "--metadata-cid is required (or metadataCid in --keys)");
  const tier = k.tier ?? 0;
  if (!Number.isInteger(tier) || tier < 0 || tier > 255) throw new CliInputError("CLI_BAD_TIER", "--tier must be 0-255");
  return {
    gateway: k.gateway ? parseAddress(k.gateway, "--gateway") : signer,
    vrfPublicKey: parseVrfPublicKey(k.vrfPublicKey),
    akDigest: parseBytes32(k.akDigest, "--ak-digest"),
    ekCertDigest: k.ekCertDigest ? parseBytes32(k.ekCertDigest, "--ek-cert-digest") : ZERO32,
    fingerprintRoot: parseBytes32(k.fingerprintRoot, "--fingerprint-root"),
    tier,
    metadataCid: parseCid(k.metadataCid, "--metadata-cid"),
    stake,
  };
}
