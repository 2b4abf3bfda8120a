/**
 * PBFT message authentication with memoised verification. A replica checks each signed
 * message once per receipt, but the same message comes back inside proofs (prepared
 * certificates, view changes), and in a devnet every gateway of the process checks it.
 * Verification is a pure function of (key, bytes, signature), so its result is kept in a
 * bounded process-wide table; signing is unchanged.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Address, Hex } from "viem";
import { recoverAddressFromHash } from "../core/crypto/index.js";
import { secp256k1Authenticator, type VoteDomain } from "../core/pbft/index.js";
import type { Vote } from "../chain/eip712.js";
import { voteTypedHash } from "../chain/typed-hash.js";
import { rememberBounded } from "../core/bounded-map.js";

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
      return rememberBounded(verified, key, ok, MAX_ENTRIES);
    },
  };
}

const voteSigners = new Map<string, Address | null>();

/**
 * The signer of an EIP-712 Vote signature, as the contract's ECDSA.recover finds it (low s
 * only: the contract reverts on a high-s signature, so it has no signer here either); memoised
 * by (typed-data hash, signature) because every member checks every commit's endorsement,
 * then again when it completes a certificate and when it watches for equivocation.
 */
export function voteSignerOf(domain: VoteDomain, vote: Vote, signature: Hex): Address | null {
  const hash = voteTypedHash(domain, vote);
  const key = `${hash}:${signature}`;
  const hit = voteSigners.get(key);
  if (hit !== undefined) return hit;
  const signer = recoverAddressFromHash(hash, signature);
  return rememberBounded(voteSigners, key, signer, MAX_ENTRIES);
}

/** The PBFT vote verifier over the memoised recovery (same answers as viemVoteVerifier). */
export function cachedVoteVerifier(domain: VoteDomain): { verifyVote: (vote: Vote, signature: Hex, signer: Address) => boolean } {
  return {
    verifyVote: (vote, signature, signer) => voteSignerOf(domain, vote, signature)?.toLowerCase() === signer.toLowerCase(),
  };
}
