/**
 * Sortition claims a Byzantine gateway could present: each one is signed with its real,
 * registered gateway key (EIP-712 VrfClaim) so it is attributable; all but the control
 * (`genuineClaim`) lie about the VRF. Sent through the gateway's own libp2p host as an
 * ordinary attestation request.
 */
import { randomBytes } from "node:crypto";
import type { Hex } from "viem";
import { encodeRoundId, Role, sortitionAlpha } from "../../offchain/core/protocol.js";
import { bytesToBigInt, bytesToHex, derivePublicKey, prove, proofToHash, verify } from "../../offchain/core/vrf/index.js";
import { MessageType } from "../../offchain/p2p/topics.js";
import { encodeRoundPayload } from "../../offchain/relayer/round-messages.js";
import { signVrfClaim } from "../../offchain/relayer/vrf-claims.js";
import { parseSelectionStrings } from "../../offchain/relayer/assess.js";
import type { DevnetNode } from "../../offchain/devnet/devnet.js";

export interface EpochFacts {
  epoch: bigint;
  seed: Uint8Array;
  threshold: bigint;
}

export interface Claim {
  round: bigint;
  target: DevnetNode;
  proof: Hex;
  output: bigint;
}

/**
 * Sequence numbers far above any the schedule draws (a node gets at most 1024 rounds an
 * epoch; driven rounds start at 2^48), so a forged round never collides with a real one.
 */
const FORGED_SEQUENCE_BASE = 1n << 52n;

function roundFor(epoch: bigint, target: DevnetNode, k: bigint): bigint {
  return encodeRoundId({ epoch, node: target.nodeId, sequence: FORGED_SEQUENCE_BASE + k });
}

function honestProof(sender: DevnetNode, e: EpochFacts, round: bigint): { proof: Uint8Array; output: bigint } {
  const proof = prove(sender.gateway.rt.vrfSecret, sortitionAlpha(e.seed, round, Role.Verifier));
  return { proof, output: bytesToBigInt(proofToHash(proof)) };
}

/** The sender's genuine proof for a round in which it IS selected (output under the threshold). */
export function genuineClaim(sender: DevnetNode, target: DevnetNode, e: EpochFacts): Claim {
  for (let k = 0n; k < 256n; k++) {
    const round = roundFor(e.epoch, target, 1000n + k);
    const { proof, output } = honestProof(sender, e, round);
    if (output < e.threshold) return { round, target, proof: bytesToHex(proof) as Hex, output };
  }
  throw new Error("no selected round in 256 draws: is the threshold 0?");
}

/** A proof that does not verify: the sender's real proof with the last byte of `s` changed. */
export function invalidProofClaim(sender: DevnetNode, target: DevnetNode, e: EpochFacts): Claim {
  const round = roundFor(e.epoch, target, BigInt(randomBytes(2).readUInt16BE()));
  const { proof, output } = honestProof(sender, e, round);
  const forged = proof.slice();
  forged[80] = (forged[80] as number) ^ 0x01;
  const alpha = sortitionAlpha(e.seed, round, Role.Verifier);
  if (verify(derivePublicKey(sender.gateway.rt.vrfSecret), forged, alpha).valid) {
    throw new Error("the tampered proof still verifies");
  }
  return { round, target, proof: bytesToHex(forged) as Hex, output };
}

/** A valid proof whose output is at or above the threshold: the sender was NOT selected. */
export function aboveThresholdClaim(sender: DevnetNode, target: DevnetNode, e: EpochFacts): Claim {
  for (let k = 0n; k < 256n; k++) {
    const round = roundFor(e.epoch, target, 2000n + k);
    const { proof, output } = honestProof(sender, e, round);
    if (output >= e.threshold) return { round, target, proof: bytesToHex(proof) as Hex, output };
  }
  throw new Error("no unselected round in 256 draws: is the threshold 2^256-1?");
}

/** Signs the claim with the sender's gateway key and sends it to the target as an attestation request. */
export async function sendClaim(sender: DevnetNode, claim: Claim, chain: { chainId: number; board: `0x${string}` }): Promise<void> {
  const signature = signVrfClaim(sender.gateway.rt.gatewaySecret, chain, claim.round, claim.proof);
  const payload = encodeRoundPayload({
    kind: "request",
    target: claim.target.nodeId.toString(),
    verifierNonce: `0x${randomBytes(32).toString("hex")}`,
    selection: parseSelectionStrings(["sha256:0"]),
    claim: { proof: claim.proof, signature },
  });
  await sender.gateway.p2p.sendDirect(claim.target.nodeId, { type: MessageType.AttestRequest, round: claim.round, payload });
}
