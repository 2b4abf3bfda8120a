/**
 * PBFT for attestation verdicts. Public API for drivers (the libp2p adapter in
 * offchain/p2p/pbft-transport.ts, the relayer, the simulator and the benchmark):
 *
 *   const replica = createReplica(config, journal?);
 *   const outputs = await replica.step({ type: "message", message });   // or "request" / "timeout"
 *   for (const o of outputs) switch (o.type) {
 *     case "persist": await journal.append(o.record); break;   // durably, BEFORE sending later outputs
 *     case "broadcast": ...; case "send": ...; case "set-timer": ...; case "cancel-timer": ...;
 *     case "decide": ... o.decision.certificates[i] -> TrustBoard.submitCertificate
 *   }
 *
 * Wire format: encodeMessage / decodeMessage (schema-checked; authenticity is checked by the replica).
 */
export * from "./types.js";
export {
  encodeMessage,
  decodeMessage,
  parseMessage,
  signingBytes,
  encodeBundle,
  packMessages,
  decodeMessages,
  MAX_BUNDLE_MESSAGES,
  voteDigest,
  batchDigest,
  nextStateDigest,
  NULL_BATCH_DIGEST,
  GENESIS_STATE_DIGEST,
  ZERO_BYTES32,
} from "./codec.js";
export { Replica, createReplica } from "./replica.js";
export { buildCertificate } from "./certificate.js";
export { VoteCounter, faultTolerance, quorumSize } from "./quorum.js";
export { primaryOf, planNewView } from "./proofs.js";
export { secp256k1Authenticator, publicKeyOf, secretKeyVoteSigner, viemVoteSigner, viemVoteVerifier, type VoteDomain } from "./auth.js";
