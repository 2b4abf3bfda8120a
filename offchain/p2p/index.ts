/**
 * The trustmesh P2P network: one libp2p host per gateway with proof-of-trust admission,
 * signed envelopes on gossipsub topics, and the PBFT adapter. See host.ts for the entry point.
 */
export { createTrustmeshHost, TrustmeshHost, type TrustmeshHostOptions, type ReceivedMessage, type RejectedMessage, type PublishParameters, type MessageHandler } from "./host.js";
export { PbftTransport, type PbftTransportOptions, type PbftJournal } from "./pbft-transport.js";
export { MemoryRegistryView, RegistryCache, admissionScope, type RegistryView, type NodeRecord, type RegistryChange, type AdmissionScope } from "./registry-view.js";
export { PeerAdmissions, type AdmittedPeer, type AdmissionEvent } from "./admissions.js";
export { PeerBindingService, peerBinding, type PeerBindingInit, type PeerBindingComponents } from "./bind-service.js";
export { signPeerBinding, verifyBinding, encodeBinding, decodeBinding, peerBindingTypes, peerBindingDomain, type PeerBinding, type SignedPeerBinding } from "./binding.js";
export { signEnvelope, decodeEnvelope, recoverEnvelopeSigner, envelopeDigest, ENVELOPE_VERSION, MAX_PAYLOAD_BYTES, type Envelope, type EnvelopeFields } from "./envelope.js";
export { validateMessage, RejectReason, type ValidationContext, type ValidationResult } from "./validation.js";
export { SeenCache } from "./seen-cache.js";
export { MessageType, topicName, topicKindOf, scopeAllows, TOPIC_KINDS, BIND_PROTOCOL, DIRECT_PROTOCOL, type TopicKind } from "./topics.js";
export { P2pError, P2pErrorCode } from "./errors.js";
export { secretKeyGatewaySigner, type GatewaySigner } from "./signer.js";
