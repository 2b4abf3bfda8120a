/**
 * Certificates for TrustBoard.submitCertificate: the vote and 2f+1 EIP-712 signatures of
 * distinct committee members, signers in ascending address order (the contract checks order to
 * reject duplicates cheaply).
 */
import type { Address } from "viem";
import { quorumSize } from "./quorum.js";
import type { Certificate, CommitMsg, Vote } from "./types.js";

/**
 * Builds the certificate of `batch[index]` from matching commits whose endorsements were already
 * checked. Returns null when fewer than 2f+1 replicas endorsed that vote.
 */
export function buildCertificate(
  vote: Vote,
  index: number,
  commits: readonly CommitMsg[],
  members: readonly Address[],
): Certificate | null {
  const bySigner = new Map<string, { signer: Address; signature: CommitMsg["endorsements"][number] }>();
  for (const c of commits) {
    const e = c.endorsements[index];
    const signer = members[c.replica];
    if (!e || !signer) continue;
    bySigner.set(signer.toLowerCase(), { signer, signature: e });
  }
  if (bySigner.size < quorumSize(members.length)) return null;
  const sorted = [...bySigner.values()].sort((a, b) => {
    const x = BigInt(a.signer);
    const y = BigInt(b.signer);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return {
    vote,
    signers: sorted.map((s) => s.signer),
    signatures: sorted.map((s) => s.signature!.signature),
    vrfOutputs: sorted.map((s) => s.signature!.vrfOutput),
  };
}
