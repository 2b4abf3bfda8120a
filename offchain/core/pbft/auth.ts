/**
 * Production implementations of the injected crypto: secp256k1 message authentication
 * (ECDSA over keccak256 of the canonical encoding) and EIP-712 Vote signing/verification.
 * All on offchain/core/crypto (libsecp256k1 where it loads): the formats are the ones viem
 * and the contracts use, byte for byte. Pure computation, no I/O; keys come from the caller.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import type { Address, Hex, LocalAccount } from "viem";
import { voteTypes, type Vote } from "../../chain/eip712.js";
import { voteTypedHash, type TypedDomain } from "../../chain/typed-hash.js";
import { publicKeyFromSecret, recoverAddressFromHash, signDigest, signHash, uncompressedPublicKey, verifyDigest } from "../crypto/index.js";
import type { Authenticator, VoteSigner, VoteVerifier } from "./types.js";

/** The TrustBoard domain object (see trustBoardDomain in offchain/chain/eip712.ts), as typed-hash.ts hashes it. */
export type VoteDomain = TypedDomain;

function strip(h: Hex): Uint8Array {
  return hexToBytes(h.slice(2));
}

/**
 * ECDSA/secp256k1 authenticator: `sign` with this replica's secret key (64-byte r||s, low s),
 * `verify` against the compressed or uncompressed public keys of all replicas (by index).
 * Keys are parsed here, once. A malformed own key throws CryptoError; a malformed member key
 * (a registry entry) only makes that member's messages fail verification, as before.
 */
export function secp256k1Authenticator(secretKey: Hex, publicKeys: readonly Hex[]): Authenticator {
  const sk = strip(secretKey);
  publicKeyFromSecret(sk);
  const pks = publicKeys.map((pk) => {
    try {
      return uncompressedPublicKey(strip(pk));
    } catch {
      return null;
    }
  });
  return {
    sign(bytes) {
      return `0x${bytesToHex(signDigest(sk, keccak_256(bytes)).signature)}`;
    },
    verify(replica, bytes, sig) {
      const pk = pks[replica];
      if (!pk || typeof sig !== "string" || !/^0x[0-9a-fA-F]{128}$/.test(sig)) return false;
      return verifyDigest(pk, keccak_256(bytes), strip(sig));
    },
  };
}

export function publicKeyOf(secretKey: Hex): Hex {
  return `0x${bytesToHex(publicKeyFromSecret(strip(secretKey), true))}`;
}

/** EIP-712 Vote signer from a viem local account (privateKeyToAccount). */
export function viemVoteSigner(
  account: Pick<LocalAccount, "signTypedData">,
  domain: VoteDomain,
  vrfOutput?: (round: bigint) => Hex | Promise<Hex>,
): VoteSigner {
  return {
    signVote: (vote: Vote) => account.signTypedData({ domain, types: voteTypes, primaryType: "Vote", message: vote }),
    ...(vrfOutput ? { vrfOutput } : {}),
  };
}

/**
 * EIP-712 Vote signer from the secret key itself: the same 65-byte r||s||v as
 * viemVoteSigner (both RFC 6979, low s) at a twentieth of the cost. A batch of k requests
 * means k Vote signatures per replica per commit, so this is on the throughput path.
 */
export function secretKeyVoteSigner(secretKey: Hex, domain: VoteDomain, vrfOutput?: (round: bigint) => Hex | Promise<Hex>): VoteSigner {
  const sk = strip(secretKey);
  publicKeyFromSecret(sk);
  return {
    signVote: (vote: Vote) => signHash(sk, strip(voteTypedHash(domain, vote))),
    ...(vrfOutput ? { vrfOutput } : {}),
  };
}

/**
 * Checks a Vote signature as the contract's ECDSA.recover would: recovery to the signer's
 * address, low s only (high-s signatures revert on chain, so they must not count here).
 */
export function viemVoteVerifier(domain: VoteDomain): VoteVerifier {
  return {
    verifyVote: (vote, signature, signer) => recoverAddressFromHash(voteTypedHash(domain, vote), signature)?.toLowerCase() === signer.toLowerCase(),
  };
}
