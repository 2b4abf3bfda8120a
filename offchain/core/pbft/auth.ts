/**
 * Production implementations of the injected crypto: secp256k1 message authentication
 * (ECDSA over keccak256 of the canonical encoding) and EIP-712 Vote signing/verification with
 * viem. Pure computation, no I/O; keys are passed in by the caller.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { verifyTypedData, type Address, type Hex, type LocalAccount } from "viem";
import { voteTypes, type Vote } from "../../chain/eip712.js";
import type { Authenticator, VoteSigner, VoteVerifier } from "./types.js";

/** The TrustBoard domain object (see trustBoardDomain in offchain/chain/eip712.ts). */
export interface VoteDomain {
  name: string;
  version: string;
  chainId: bigint;
  verifyingContract: Address;
}

function strip(h: Hex): Uint8Array {
  return hexToBytes(h.slice(2));
}

/**
 * ECDSA/secp256k1 authenticator: `sign` with this replica's secret key, `verify` against the
 * compressed or uncompressed public keys of all replicas (by index).
 */
export function secp256k1Authenticator(secretKey: Hex, publicKeys: readonly Hex[]): Authenticator {
  const sk = strip(secretKey);
  const pks = publicKeys.map(strip);
  return {
    sign(bytes) {
      return `0x${bytesToHex(secp256k1.sign(keccak_256(bytes), sk, { prehash: false }))}`;
    },
    verify(replica, bytes, sig) {
      const pk = pks[replica];
      if (!pk || sig.length !== 130) return false;
      try {
        return secp256k1.verify(strip(sig), keccak_256(bytes), pk, { prehash: false });
      } catch {
        return false;
      }
    },
  };
}

export function publicKeyOf(secretKey: Hex): Hex {
  return `0x${bytesToHex(secp256k1.getPublicKey(strip(secretKey), true))}`;
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

/** Checks a Vote signature exactly as the contract's ECDSA recovery would (viem verifyTypedData). */
export function viemVoteVerifier(domain: VoteDomain): VoteVerifier {
  return {
    verifyVote: (vote, signature, signer) =>
      verifyTypedData({ address: signer, domain, types: voteTypes, primaryType: "Vote", message: vote, signature }),
  };
}
