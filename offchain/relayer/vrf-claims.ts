/**
 * Signed sortition claims: a verifier signs (EIP-712 VrfClaim, TrustBoard domain) the VRF
 * proof it presents, so a false claim - an invalid proof, or one whose output is not under
 * the epoch threshold - is provable on chain by anyone (Disputes.disputeVrfFraud).
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import type { Address, Hex } from "viem";
import { trustBoardDomain } from "../chain/eip712.js";
import { vrfClaimTypedHash } from "../chain/typed-hash.js";
import { recoverAddressFromHash, signHash } from "../core/crypto/index.js";
import { checkClaim, type ClaimCheck } from "../core/sortition.js";
import { computeFastVerifyParams, decodeProof } from "../core/vrf/index.js";
import { Role } from "../core/protocol.js";
import { rememberBounded } from "../core/bounded-map.js";
import type { EpochInfo } from "./chain-context.js";

export interface ClaimContext {
  chainId: number;
  board: Address;
}

/** The gateway key's EIP-712 signature of its claim (the bytes viem's signTypedData makes). */
export function signVrfClaim(gatewaySecret: Hex, ctx: ClaimContext, round: bigint, proof: Hex): Hex {
  return signHash(hexToBytes(gatewaySecret.slice(2)), hexToBytes(vrfClaimTypedHash(trustBoardDomain(ctx.chainId, ctx.board), { round, role: Role.Verifier, proof }).slice(2)));
}

/**
 * Every claim is checked several times: by the target with the request, and by each
 * committee member with the reveal; in a devnet every gateway of the process checks it.
 * Both checks are pure functions of their inputs, so their results are kept in bounded
 * process-wide tables (the same idea as auth-cache.ts).
 */
const MAX_MEMO = 4096;
const signers = new Map<string, Address | null>();
const claimChecks = new Map<string, ClaimCheck>();


export async function claimSigner(ctx: ClaimContext, round: bigint, proof: Hex, signature: Hex): Promise<Address | null> {
  const key = `${ctx.chainId}:${ctx.board}:${round}:${proof}:${signature}`;
  const hit = signers.get(key);
  if (hit !== undefined) return hit;
  let signer: Address | null;
  try {
    signer = recoverAddressFromHash(vrfClaimTypedHash(trustBoardDomain(ctx.chainId, ctx.board), { round, role: Role.Verifier, proof }), signature);
  } catch {
    signer = null;
  }
  return rememberBounded(signers, key, signer, MAX_MEMO);
}

/** Checks a verifier's claim; malformed proofs count as invalid (they are fraud when signed). */
export function checkVerifierClaim(vrfPublicKey: readonly [bigint, bigint], epoch: EpochInfo, round: bigint, proof: Hex): ClaimCheck {
  const key = `${vrfPublicKey[0]}:${vrfPublicKey[1]}:${Buffer.from(epoch.seed).toString("hex")}:${epoch.threshold}:${round}:${proof}`;
  const hit = claimChecks.get(key);
  if (hit !== undefined) return hit;
  let check: ClaimCheck;
  try {
    check = checkClaim([vrfPublicKey[0], vrfPublicKey[1]], { seed: epoch.seed, round, role: Role.Verifier }, hexBytes(proof), epoch.threshold);
  } catch {
    check = { ok: false, reason: "invalid-proof" };
  }
  return rememberBounded(claimChecks, key, check, MAX_MEMO);
}

/**
 * The off-chain helper points fastVerify needs. For a proof that does not even decode
 * (or is invalid) there is nothing to help with: zeros, and the contract's own check
 * of the proof decides.
 */
export function fastVerifyHelpers(
  vrfPublicKey: readonly [bigint, bigint],
  proof: Hex,
  alpha: Uint8Array,
): { uPoint: readonly [bigint, bigint]; vComponents: readonly [bigint, bigint, bigint, bigint] } {
  try {
    decodeProof(hexBytes(proof));
    const p = computeFastVerifyParams([vrfPublicKey[0], vrfPublicKey[1]], hexBytes(proof), alpha);
    return { uPoint: [p.uPoint[0], p.uPoint[1]], vComponents: [p.vComponents[0], p.vComponents[1], p.vComponents[2], p.vComponents[3]] };
  } catch {
    return { uPoint: [0n, 0n], vComponents: [0n, 0n, 0n, 0n] };
  }
}

export function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h.replace(/^0x/, ""), "hex"));
}
