/**
 * EIP-712 typed data of the TrustBoard. The domain always carries chainId and the
 * verifying contract, so a signature made for one chain or deployment is void on another.
 *
 * Content identifiers (CIDs) travel on chain as the binary CID bytes (CIDv1), hashed by
 * EIP-712 as `bytes`.
 */
import type { Address, Hex } from "viem";

export const TRUSTBOARD_DOMAIN_NAME = "TrustMesh TrustBoard";
export const TRUSTBOARD_DOMAIN_VERSION = "1";

export function trustBoardDomain(chainId: number | bigint, verifyingContract: Address) {
  return {
    name: TRUSTBOARD_DOMAIN_NAME,
    version: TRUSTBOARD_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract,
  } as const;
}

/** A verifier's vote on one attestation round. */
export const voteTypes = {
  Vote: [
    { name: "round", type: "uint256" },
    { name: "node", type: "uint64" },
    { name: "verdict", type: "uint8" },
    { name: "score", type: "uint8" },
    { name: "evidenceCid", type: "bytes" },
    { name: "policyCid", type: "bytes" },
  ],
} as const;

export interface Vote {
  round: bigint;
  node: bigint;
  verdict: number;
  score: number;
  evidenceCid: Hex;
  policyCid: Hex;
}

/**
 * A sortition claim: the signer says "my VRF proof for this round and role is `proof`".
 * Signed claims travel in attestation requests; a signed claim whose proof is invalid, or
 * whose output is above the committee threshold, is slashable VRF fraud (see Disputes).
 */
export const vrfClaimTypes = {
  VrfClaim: [
    { name: "round", type: "uint256" },
    { name: "role", type: "uint8" },
    { name: "proof", type: "bytes" },
  ],
} as const;

export interface VrfClaim {
  round: bigint;
  role: number;
  proof: Hex;
}
