/**
 * The decision on one gossip message, as a plain async function over injected lookups:
 * no sockets, no libp2p. The host maps `ok: false` to gossipsub's Reject (not forwarded,
 * the propagation source loses score).
 */
import type { Address } from "viem";
import { decodeEnvelope, recoverEnvelopeSigner, type Envelope } from "./envelope.js";
import { admissionScope, type NodeRecord } from "./registry-view.js";
import type { SeenCache } from "./seen-cache.js";
import { scopeAllows, topicKindOf, type TopicKind } from "./topics.js";

export const RejectReason = {
  Schema: "schema",
  WrongTopic: "wrong-topic",
  Stale: "stale",
  Future: "future",
  BadSignature: "bad-signature",
  UnknownSender: "unknown-sender",
  SenderMismatch: "sender-mismatch",
  NotAdmitted: "not-admitted",
  Replay: "replay",
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export interface ValidationContext {
  chainId: number;
  /** The topic the message arrived on. */
  topic: TopicKind;
  now: number;
  /** Envelopes whose timestamp is further than this from `now` are refused. */
  windowMs: number;
  lookup: (gateway: Address) => Promise<NodeRecord | null>;
  seen: SeenCache;
}

export type ValidationResult =
  | { ok: true; envelope: Envelope; signer: NodeRecord }
  | { ok: false; reason: RejectReason; detail: string };

function reject(reason: RejectReason, detail: string): ValidationResult {
  return { ok: false, reason, detail };
}

export async function validateMessage(data: Uint8Array, ctx: ValidationContext): Promise<ValidationResult> {
  const decoded = decodeEnvelope(ctx.chainId, data);
  if (!decoded.ok) return reject(RejectReason.Schema, decoded.reason);
  const env = decoded.envelope;
  if (topicKindOf(env.type) !== ctx.topic) {
    return reject(RejectReason.WrongTopic, `type ${env.type} does not belong on the ${ctx.topic} topic`);
  }
  const age = ctx.now - Number(env.timestamp);
  if (age > ctx.windowMs) return reject(RejectReason.Stale, `timestamp is ${age} ms old`);
  if (-age > ctx.windowMs) return reject(RejectReason.Future, `timestamp is ${-age} ms ahead`);
  // Cheap replay check before the signature: a replay of a valid message is the common
  // attack and costs no ecrecover this way. The id is recorded only after full success,
  // so a forged copy cannot poison the cache for the genuine message.
  if (ctx.seen.has(env.digest)) return reject(RejectReason.Replay, `envelope ${env.digest} already seen`);
  const gateway = recoverEnvelopeSigner(env);
  if (gateway === null) return reject(RejectReason.BadSignature, "signature does not recover");
  const signer = await ctx.lookup(gateway);
  if (signer === null || signer.gateway !== gateway) {
    return reject(RejectReason.UnknownSender, `gateway ${gateway} is not a registered node's current key`);
  }
  if (signer.nodeId !== env.sender) {
    return reject(RejectReason.SenderMismatch, `envelope claims node ${env.sender}, signed by node ${signer.nodeId}`);
  }
  const scope = admissionScope(signer);
  if (!scopeAllows(scope, ctx.topic)) {
    return reject(RejectReason.NotAdmitted, `node ${signer.nodeId} (scope ${scope}) may not publish on ${ctx.topic}`);
  }
  if (!ctx.seen.add(env.digest)) return reject(RejectReason.Replay, `envelope ${env.digest} already seen`);
  return { ok: true, envelope: env, signer };
}
