export { BridgeError, type BridgeErrorCode } from "./errors.js";
export { generateStaticKey, staticKeyFromSecret, type StaticKeyPair } from "./noise.js";
export { SecureChannel, MAX_FRAME, type RekeyPolicy, type ChannelOptions } from "./channel.js";
export {
  quoteNonce,
  parseRequest,
  parseResponse,
  validateSelection,
  BRIDGE_VERSION,
  type AgentRequest,
  type AgentResponse,
  type SelectionJson,
  type EvidencePart,
  type Counters,
  type ScratchState,
  type TaskRunRequest,
  type TaskProcessState,
} from "./messages.js";
export { NonceCache } from "./nonce-cache.js";
export { AgentClient, checkBinding, type AgentClientOptions, type Evidence, type QuoteRequest, type QuoteReply } from "./client.js";
export { evidenceToVerifierInput, toPcrSelection, type VerifierInput } from "./evidence.js";
export { enrolOverBridge, type EnrolOverBridgeParams } from "./enrol.js";
