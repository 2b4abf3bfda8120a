/**
 * Cheap HMAC-SHA256 stand-ins for the injected crypto, for simulations that run thousands of
 * clusters. Each replica signs with its own key; verifiers hold every replica's key. That is
 * NOT an authenticator for production (a verifier could forge), but inside the simulator the
 * Byzantine replicas only ever get their own key, so forgery is still detected.
 */
import { createHmac } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Address, Hex } from "viem";
import { voteDigest } from "../codec.js";
import type { Authenticator, Vote, VoteSigner, VoteVerifier } from "../types.js";

function mac(key: Uint8Array, bytes: Uint8Array): Hex {
  return `0x${createHmac("sha256", key).update(bytes).digest("hex")}`;
}

export function simKey(seed: number, replica: number): Uint8Array {
  return sha256(utf8ToBytes(`pbft-sim-key:${seed}:${replica}`));
}

export function hmacAuthenticator(ownKey: Uint8Array, keys: readonly Uint8Array[]): Authenticator {
  return {
    sign: (bytes) => mac(ownKey, bytes),
    verify: (replica, bytes, sig) => {
      const k = keys[replica];
      return k !== undefined && mac(k, bytes) === sig;
    },
  };
}

/** A fake "vote signature": HMAC over the vote digest with the replica's key. */
export function hmacVoteSigner(ownKey: Uint8Array): VoteSigner {
  return { signVote: (vote: Vote) => mac(ownKey, hexToBytes(voteDigest(vote).slice(2))) };
}

export function hmacVoteVerifier(keysByAddress: ReadonlyMap<string, Uint8Array>): VoteVerifier {
  return {
    verifyVote: (vote: Vote, signature: Hex, signer: Address) => {
      const k = keysByAddress.get(signer.toLowerCase());
      return k !== undefined && mac(k, hexToBytes(voteDigest(vote).slice(2))) === signature;
    },
  };
}
