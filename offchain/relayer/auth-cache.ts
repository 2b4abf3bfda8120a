/**
 * PBFT message authentication with memoised verification. A replica checks each signed
 * message once per receipt, but the same message comes back inside proofs (prepared
 * certificates, view changes), and in a devnet every gateway of the process checks it.
 * Verification is a pure function of (key, bytes, signature), so its result is kept in a
 * bounded process-wide table; signing is unchanged.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { hashTypedData, recoverAddress, type Address, type Hex, type TypedDataDomain } from "viem";
import { secp256k1Authenticator } from "../core/pbft/index.js";
import { voteTypes, type Vote } from "../chain/eip712.js";

type Authenticator = ReturnType<typeof secp256k1Authenticator>;

const verified = new Map<string, boolean>();
const MAX_ENTRIES = 8192;

export function cachedSecp256k1Authenticator(secretKey: Hex, publicKeys: readonly Hex[]): Authenticator {
  const inner = secp256k1Authenticator(secretKey, publicKeys);
  return {
    sign: (bytes) => inner.sign(bytes),
    async verify(replica, bytes, sig) {
      const pk = publicKeys[replica];
      if (pk === undefined) return false;
      const key = `${pk}:${bytesToHex(keccak_256(bytes))}:${sig}`;
      const hit = verified.get(key);
      if (hit !== undefined) return hit;
      const ok = await inner.verify(replica, bytes, sig);
      if (verified.size >= MAX_ENTRIES) verified.delete(verified.keys().next().value as string);
      verified.set(key, ok);
      return ok;
    },
  };
}

const voteSigners = new Map<string, Address | null>();

/**
 * The signer of an EIP-712 Vote signature, as the contract's ecrecover finds it; memoised
 * by (typed-data hash, signature) because every member checks every commit's endorsement,
 * then again when it completes a certificate and when it watches for equivocation.
 */
export async function voteSignerOf(domain: TypedDataDomain, vote: Vote, signature: Hex): Promise<Address | null> {
  const hash = hashTypedData({ domain, types: voteTypes, primaryType: "Vote", message: vote });
  const key = `${hash}:${signature}`;
  const hit = voteSigners.get(key);
  if (hit !== undefined) return hit;
  let signer: Address | null;
  try {
    signer = await recoverAddress({ hash, signature });
  } catch {
    signer = null;
  }
  if (voteSigners.size >= MAX_ENTRIES) voteSigners.delete(voteSigners.keys().next().value as string);
  voteSigners.set(key, signer);
  return signer;
}

/** The PBFT vote verifier over the memoised recovery (same answers as viemVoteVerifier). */
export function cachedVoteVerifier(domain: TypedDataDomain): { verifyVote: (vote: Vote, signature: Hex, signer: Address) => Promise<boolean> } {
  return {
    verifyVote: async (vote, signature, signer) => (await voteSignerOf(domain, vote, signature))?.toLowerCase() === signer.toLowerCase(),
  };
}
