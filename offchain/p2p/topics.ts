/**
 * Message types and the gossipsub topics that carry them. A type travels on exactly one
 * topic; a validator rejects a type seen on another topic (no cross-topic smuggling).
 */
import type { AdmissionScope } from "./registry-view.js";

export const MessageType = {
  AttestRequest: 1,
  AttestResponse: 2,
  Pbft: 3,
  TaskAnnounce: 4,
  /** A selected verifier reveals its VRF proof for a round (committee formation). */
  Reveal: 5,
  /** A signed vote made public (single-vote path; equivocation evidence). */
  VoteAnnounce: 6,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export type TopicKind = "attestation" | "pbft" | "task";
export const TOPIC_KINDS: readonly TopicKind[] = ["attestation", "pbft", "task"];

export function topicKindOf(type: MessageType): TopicKind {
  switch (type) {
    case MessageType.AttestRequest:
    case MessageType.AttestResponse:
    case MessageType.Reveal:
    case MessageType.VoteAnnounce:
      return "attestation";
    case MessageType.Pbft:
      return "pbft";
    case MessageType.TaskAnnounce:
      return "task";
  }
}

export function isMessageType(n: number): n is MessageType {
  return Number.isInteger(n) && n >= MessageType.AttestRequest && n <= MessageType.VoteAnnounce;
}

/** Topic names carry the chain id so two deployments never share a mesh. */
export function topicName(chainId: number, kind: TopicKind): string {
  return `/trustmesh/${chainId}/${kind}/1`;
}

export function scopeAllows(scope: AdmissionScope, kind: TopicKind): boolean {
  return scope === "full" || (scope === "attestation" && kind === "attestation");
}

/** Custom protocol over which each side presents its signed peer binding. */
export const BIND_PROTOCOL = "/trustmesh/bind/1.0.0";

/** Point-to-point delivery of signed envelopes (PBFT `send`, replies to one node): length-framed on one stream per peer (direct-links.ts). */
export const DIRECT_PROTOCOL = "/trustmesh/direct/2.0.0";
