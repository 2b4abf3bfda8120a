/**
 * One libp2p host per gateway: TCP, Noise, Yamux, identify, gossipsub (StrictNoSign by
 * default: every envelope carries its gateway's own signature; StrictSign as an option; peer
 * scoring) and the proof-of-trust binding service, with the registry-driven connection gater. The gateway daemon creates one with `createTrustmeshHost`, starts it, dials its
 * bootstrap peers, subscribes handlers per topic and publishes signed envelopes.
 *
 * Admission (see bind-service.ts and registry-view.ts `admissionScope`):
 * - unknown peers may finish the Noise handshake but must present a valid binding within
 *   `bindTimeoutMs`; until then their app score sits under gossipsub's publish and gossip
 *   thresholds, so nothing is sent to them, and their messages are rejected;
 * - Trusted nodes get scope "full"; Registered (and Untrusted, Exiting) nodes get scope
 *   "attestation": every validator rejects their messages, and messages they relay, on any
 *   other topic; a peer still subscribed to another topic when `scopeGraceMs` has passed is
 *   evicted, so it does not stay in those meshes. Each host joins only the topics of its
 *   own scope (`setOwnScope`), so an honest node is never evicted for its subscriptions;
 * - unregistered, banned, slashed or withdrawn nodes are disconnected and denied at the gate;
 *   a registry change re-judges connected peers at once.
 */
import { gossipsub, StrictNoSign, StrictSign, TopicValidatorResult, type GossipSub, type GossipsubOpts, type GossipsubMessage, type Message } from "@libp2p/gossipsub";
import { createTopicScoreParams, type TopicScoreParams } from "@libp2p/gossipsub/score";
import { identify, type Identify } from "@libp2p/identify";
import type { Libp2p, PeerId, PrivateKey, Startable, Stream } from "@libp2p/interface";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { createHash, randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { PeerAdmissions, type AdmissionEvent, type AdmittedPeer } from "./admissions.js";
import { peerBinding, type PeerBindingService } from "./bind-service.js";
import { signPeerBinding } from "./binding.js";
import { decodeEnvelope, signEnvelope, type Envelope } from "./envelope.js";
import { P2pError, P2pErrorCode } from "./errors.js";
import { RegistryCache, type AdmissionScope, type RegistryView } from "./registry-view.js";
import { SeenCache } from "./seen-cache.js";
import type { GatewaySigner } from "./signer.js";
import { DirectLinks, readFrames } from "./direct-links.js";
import { DIRECT_PROTOCOL, MessageType, scopeAllows, TOPIC_KINDS, topicKindOf, topicName, type TopicKind } from "./topics.js";
import { MAX_PAYLOAD_BYTES } from "./envelope.js";
import { validateMessage, type RejectReason } from "./validation.js";
import { coalescingNoise, lazyWindowYamux } from "./wire-tuning.js";

export interface TrustmeshHostOptions {
  /** The gateway's registered key: signs the peer binding and every envelope. */
  signer: GatewaySigner;
  nodeId: bigint;
  chainId: number;
  registry: RegistryView;
  /** libp2p identity; a fresh Ed25519 key when absent. */
  privateKey?: PrivateKey;
  listen?: string[];
  /** Binding lifetime in seconds (default one day). */
  bindingTtlSeconds?: number;
  bindTimeoutMs?: number;
  denyMs?: number;
  /** Envelope timestamp window either side of now (default 60 s); the seen cache keeps ids twice as long. */
  replayWindowMs?: number;
  heartbeatIntervalMs?: number;
  /**
   * Gossipsub mesh degree D (default 3; gossipsub's own default is 6). Publishers flood their
   * own messages to every admitted peer, so the mesh only carries relays: insurance against a
   * publisher that reaches some peers and not others, or a broken link. In a committee-sized
   * network where everyone is connected, D = 6 makes every node relay every message to every
   * other node (n - 2 duplicates per message per node, each encrypted, sent, received and
   * decoded), which cost about a third of a 7-node PBFT decision's CPU; D = 3 keeps two to
   * three relay paths per node.
   */
  meshDegree?: number;
  /**
   * Gossipsub's own message signatures. "StrictNoSign" (default): none; every envelope already
   * carries its gateway's signature, checked against the registry by every receiver and relay,
   * and the envelope's nonce and timestamp do what gossipsub's seqno does (see
   * envelopeMessageId). "StrictSign": each message is also signed with the host's libp2p key
   * and checked by gossipsub before our validator runs, for operators who want the libp2p
   * layer to stand on its own. Every host of a network must use the same policy: a StrictSign
   * host drops unsigned messages and a StrictNoSign host drops signed ones.
   */
  gossipSignaturePolicy?: "StrictSign" | "StrictNoSign";
  /**
   * How long an admitted peer may stay subscribed to topics outside its scope before it is
   * evicted (default 30 s). Two honest gateways learn a status change from the chain at
   * slightly different moments, so a subscription one of them makes on its new standing can
   * reach a peer still on the old one; and a node whose status fell needs time to leave
   * the topics it lost. A peer still beyond its scope when the grace ends is evicted.
   */
  scopeGraceMs?: number;
  /** Gossipsub's IP-colocation penalty punishes every peer on a loopback cluster; off by default there. */
  ipColocationWeight?: number;
  now?: () => number;
}

export interface ReceivedMessage {
  topic: TopicKind;
  /** "gossip" for topic traffic, "direct" for a point-to-point envelope. */
  via: "gossip" | "direct";
  envelope: Envelope;
  /**
   * PeerId that delivered it: the mesh peer that relayed it (gossip) or the sender (direct).
   * Who wrote it is `envelope.sender`, proven by the envelope's signature.
   */
  from: string;
  /** The envelope's wire bytes, exactly as signed (for relaying or evidence). */
  data: Uint8Array;
}

export type MessageHandler = (msg: ReceivedMessage) => void;

export interface RejectedMessage {
  topic: TopicKind;
  propagationSource: string;
  reason: RejectReason | "unbound-source" | "source-scope";
  detail: string;
}

export interface PublishParameters {
  type: MessageType;
  round: bigint;
  payload: Uint8Array;
}

type Services = { identify: Identify; pubsub: GossipSub; binding: PeerBindingService };

/** What we need from gossipsub beyond its public interface: scores, to read and refresh. */
interface ScoredPubSub {
  getScore(peerId: string): number;
  score: { scoreCache: Map<string, unknown> };
}

function hasScores(p: unknown): p is ScoredPubSub {
  const c = p as Partial<ScoredPubSub>;
  return typeof c.getScore === "function" && c.score !== undefined && c.score.scoreCache instanceof Map;
}

function topicScoreParams(): TopicScoreParams {
  // Only P4 (invalid messages) is weighted: the others reward volume and time in mesh,
  // which say nothing about a gateway's honesty in a small permissioned mesh.
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    timeInMeshQuantum: 1000,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.9,
  });
}

/** Rejections that follow from a registry standing rather than from a forged or broken message. */
const STANDING_REASONS: ReadonlySet<RejectedMessage["reason"]> = new Set(["not-admitted", "unbound-source", "source-scope"]);

/** Default of TrustmeshHostOptions.scopeGraceMs. */
const SCOPE_GRACE_MS = 30_000;

export class TrustmeshHost implements Startable {
  readonly admissions: PeerAdmissions;
  private readonly handlers = new Map<TopicKind, Set<MessageHandler>>();
  private readonly rejectListeners = new Set<(r: RejectedMessage) => void>();
  private readonly seen: SeenCache;
  private readonly now: () => number;
  private readonly windowMs: number;
  private unsubscribeAdmissions: (() => void) | undefined;
  private running = false;
  /** Scope each peer was last admitted with, to tell a re-scope from a first admission. */
  private readonly scopes = new Map<string, AdmittedPeer["scope"]>();
  /** Peers subscribed beyond their scope, evicted when the grace ends if they still are. */
  private readonly scopeTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly scopeGraceMs: number;
  /**
   * This node's own scope, as its peers derive it from the registry: the topics it joins.
   * A Registered node (once bootstrap is over) or an Untrusted one is admitted only to be
   * attested; were it to join the consensus topics, its peers would evict it and it could
   * never be attested back to Trusted. Handlers stay registered; only the gossip
   * subscription follows the scope.
   */
  private ownScope: AdmissionScope = "full";
  private readonly joined = new Set<TopicKind>();
  /**
   * Envelopes this host's validator accepted, by the gossip message's data buffer: gossipsub
   * hands the same buffer to the validator and then to the "message" event, so the delivery
   * reuses the decode (and its keccak over the whole body) instead of repeating it.
   */
  private readonly accepted = new WeakMap<Uint8Array, Envelope>();
  /** Outbound direct streams, one per peer (direct-links.ts). */
  private readonly directLinks = new DirectLinks((peer, options) => this.libp2p.dialProtocol(peer, DIRECT_PROTOCOL, { ...options, maxOutboundStreams: 256 }));

  constructor(
    readonly libp2p: Libp2p<Services>,
    private readonly opts: TrustmeshHostOptions,
    admissions: PeerAdmissions,
    private readonly cache: RegistryCache,
  ) {
    this.admissions = admissions;
    this.now = opts.now ?? Date.now;
    this.windowMs = opts.replayWindowMs ?? 60_000;
    this.seen = new SeenCache(2 * this.windowMs, this.now);
    this.scopeGraceMs = opts.scopeGraceMs ?? SCOPE_GRACE_MS;
  }

  get peerId(): PeerId {
    return this.libp2p.peerId;
  }

  get nodeId(): bigint {
    return this.opts.nodeId;
  }

  get multiaddrs(): Multiaddr[] {
    return this.libp2p.getMultiaddrs();
  }

  private get pubsub(): GossipSub {
    return this.libp2p.services.pubsub;
  }

  async start(): Promise<void> {
    if (!hasScores(this.pubsub)) {
      throw new P2pError(P2pErrorCode.MissingComponent, "the pubsub service does not expose gossipsub peer scores");
    }
    for (const kind of TOPIC_KINDS) {
      this.pubsub.topicValidators.set(topicName(this.opts.chainId, kind), (peer, msg) => this.validate(kind, peer, msg));
    }
    this.pubsub.addEventListener("gossipsub:message", this.onMessage);
    this.pubsub.addEventListener("subscription-change", this.onSubscriptionChange);
    this.unsubscribeAdmissions = this.admissions.onEvent(this.onAdmission);
    await this.libp2p.start();
    await this.libp2p.handle(DIRECT_PROTOCOL, (stream, connection) => this.onDirect(stream, connection.remotePeer), { maxInboundStreams: 256, maxOutboundStreams: 256 });
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.scopeTimers.values()) clearTimeout(t);
    this.scopeTimers.clear();
    await this.libp2p.unhandle(DIRECT_PROTOCOL).catch(() => undefined);
    await this.directLinks.closeAll();
    this.unsubscribeAdmissions?.();
    this.pubsub.removeEventListener("gossipsub:message", this.onMessage);
    this.pubsub.removeEventListener("subscription-change", this.onSubscriptionChange);
    await this.closeConnections();
    await this.libp2p.stop();
    this.cache.close();
  }

  /**
   * Closing a connection closes each of its streams under the one abort signal it is given,
   * one listener per stream still open (gossip, messages in flight), all removed as the
   * streams finish. libp2p's own stop passes a signal with Node's default limit of 10, so a
   * gateway stopping while busy printed leak warnings for this bounded fan-out; closing here
   * first lets that limit follow the connection's stream count.
   */
  private async closeConnections(): Promise<void> {
    await Promise.all(
      this.libp2p.getConnections().map(async (c) => {
        const signal = AbortSignal.timeout(1_000);
        // The streams, the muxer's race and the socket's close: a few beyond the stream count.
        setMaxListeners(c.streams.length + 8, signal);
        await c.close({ signal }).catch((err: Error) => c.abort(err));
      }),
    );
  }

  /** Dial (connect, encrypt, upgrade); bounded in time, so a caller's retry loop never stalls on one dial. */
  async dial(addr: Multiaddr | string, timeoutMs = 10_000): Promise<void> {
    await this.libp2p.dial(typeof addr === "string" ? multiaddr(addr) : addr, { signal: AbortSignal.timeout(timeoutMs) });
  }

  /**
   * Subscribe to a topic; returns the unsubscribe function. The topic is joined on gossip
   * while this node's own scope allows it (see setOwnScope); direct messages of the topic
   * reach the handler either way.
   */
  subscribe(kind: TopicKind, handler: MessageHandler): () => void {
    let set = this.handlers.get(kind);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(kind, set);
      this.syncTopic(kind);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0) {
        this.handlers.delete(kind);
        this.syncTopic(kind);
      }
    };
  }

  /** The scope this node's peers admit it with: it joins only the topics that scope allows. */
  setOwnScope(scope: AdmissionScope): void {
    if (scope === this.ownScope) return;
    this.ownScope = scope;
    for (const kind of TOPIC_KINDS) this.syncTopic(kind);
  }

  get scope(): AdmissionScope {
    return this.ownScope;
  }

  /** Topics this node has joined on gossip. */
  joinedTopics(): TopicKind[] {
    return [...this.joined];
  }

  private syncTopic(kind: TopicKind): void {
    const want = this.handlers.has(kind) && scopeAllows(this.ownScope, kind);
    if (want === this.joined.has(kind)) return;
    if (want) {
      this.joined.add(kind);
      this.pubsub.subscribe(topicName(this.opts.chainId, kind));
    } else {
      this.joined.delete(kind);
      this.pubsub.unsubscribe(topicName(this.opts.chainId, kind));
    }
  }

  /** Sign and publish one envelope on the topic its type belongs to. */
  async publish(p: PublishParameters): Promise<{ digest: `0x${string}`; recipients: number }> {
    if (!this.running) throw new P2pError(P2pErrorCode.NotStarted, "host is not started");
    const { bytes, digest } = await signEnvelope(this.opts.signer, this.opts.chainId, {
      type: p.type,
      round: p.round,
      sender: this.opts.nodeId,
      timestamp: BigInt(this.now()),
      nonce: randomBytes(16),
      payload: p.payload,
    });
    this.seen.add(digest);
    const res = await this.pubsub.publish(topicName(this.opts.chainId, topicKindOf(p.type)), bytes);
    return { digest, recipients: res.recipients.length };
  }

  /**
   * Sign one envelope and deliver it to one admitted node over a direct stream. The
   * receiver validates it exactly as gossip (signature, schema, replay, scope) and hands it
   * to the handlers of the envelope's topic with `via: "direct"`.
   */
  async sendDirect(nodeId: bigint, p: PublishParameters): Promise<{ digest: `0x${string}` }> {
    if (!this.running) throw new P2pError(P2pErrorCode.NotStarted, "host is not started");
    const peer = this.admissions.list().find((a) => a.nodeId === nodeId);
    if (peer === undefined) throw new P2pError(P2pErrorCode.PeerNotAdmitted, `node ${nodeId} is not an admitted peer`);
    const { bytes, digest } = await signEnvelope(this.opts.signer, this.opts.chainId, {
      type: p.type,
      round: p.round,
      sender: this.opts.nodeId,
      timestamp: BigInt(this.now()),
      nonce: randomBytes(16),
      payload: p.payload,
    });
    await this.sendRaw(peer.peerId, bytes);
    return { digest };
  }

  /** Write envelope bytes unchanged to a peer's direct protocol. */
  async sendRaw(peerId: PeerId | string, bytes: Uint8Array): Promise<void> {
    const target = typeof peerId === "string" ? this.libp2p.getPeers().find((p) => p.toString() === peerId) : peerId;
    if (target === undefined) throw new P2pError(P2pErrorCode.PeerNotAdmitted, `peer ${peerId.toString()} is not connected`);
    try {
      await this.directLinks.send(target, bytes);
    } catch (cause) {
      // libp2p's own errors (refused stream, closed connection, timeout) become one typed error.
      throw new P2pError(P2pErrorCode.DeliveryFailed, `direct delivery to ${target.toString()} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }

  /** An inbound direct link: every frame on it is one envelope, checked like a gossiped one. */
  private async onDirect(stream: Stream, remote: PeerId): Promise<void> {
    await readFrames(stream, MAX_PAYLOAD_BYTES + 1024, (data) => this.onDirectMessage(remote, data));
  }

  private async onDirectMessage(remote: PeerId, data: Uint8Array): Promise<void> {
    const source = remote.toString();
    const decoded = decodeEnvelope(this.opts.chainId, data);
    const kind: TopicKind = decoded.ok ? topicKindOf(decoded.envelope.type) : "pbft";
    const verdict = await this.validate(kind, remote, { type: "unsigned", topic: topicName(this.opts.chainId, kind), data });
    if (verdict !== TopicValidatorResult.Accept || !decoded.ok) return;
    this.deliver(kind, { topic: kind, via: "direct", envelope: decoded.envelope, from: source, data });
  }

  /** Publish already-signed envelope bytes unchanged (relays, tests of replay handling). */
  async publishRaw(kind: TopicKind, bytes: Uint8Array): Promise<number> {
    const res = await this.pubsub.publish(topicName(this.opts.chainId, kind), bytes);
    return res.recipients.length;
  }

  onRejected(listener: (r: RejectedMessage) => void): () => void {
    this.rejectListeners.add(listener);
    return () => this.rejectListeners.delete(listener);
  }

  admittedPeers(): AdmittedPeer[] {
    return this.admissions.list();
  }

  /** Gossipsub score of a peer as this host sees it (all components, app-specific included). */
  scoreOf(peer: PeerId | string): number {
    const p = this.pubsub;
    return hasScores(p) ? p.getScore(peer.toString()) : 0;
  }

  meshPeers(kind: TopicKind): string[] {
    const p = this.pubsub as GossipSub & { getMeshPeers?: (t: string) => string[] };
    return p.getMeshPeers?.(topicName(this.opts.chainId, kind)) ?? [];
  }

  subscribers(kind: TopicKind): string[] {
    return this.pubsub.getSubscribers(topicName(this.opts.chainId, kind)).map((p) => p.toString());
  }

  private async validate(kind: TopicKind, peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const source = peer.toString();
    const admitted = this.admissions.get(source);
    if (admitted === undefined) return this.rejectFrom(kind, source, "unbound-source", "propagation source has not bound its identity");
    if (!scopeAllows(admitted.scope, kind)) {
      return this.rejectFrom(kind, source, "source-scope", `node ${admitted.nodeId} (scope ${admitted.scope}) may not relay on ${kind}`);
    }
    const res = await validateMessage(msg.data, {
      chainId: this.opts.chainId,
      topic: kind,
      now: this.now(),
      windowMs: this.windowMs,
      lookup: (g) => this.cache.get(g),
      seen: this.seen,
    });
    if (!res.ok) return this.rejectFrom(kind, source, res.reason, res.detail);
    this.accepted.set(msg.data, res.envelope);
    return TopicValidatorResult.Accept;
  }

  private rejectFrom(kind: TopicKind, source: string, reason: RejectedMessage["reason"], detail: string): TopicValidatorResult {
    for (const l of [...this.rejectListeners]) l({ topic: kind, propagationSource: source, reason, detail });
    if (STANDING_REASONS.has(reason)) {
      // Refused, but not held against anyone: the sender's standing changed a moment ago
      // (a status fell, bootstrap ended, the binding is still in flight) and it or a relay
      // acted on the old one. Gossipsub's Ignore drops the message without the invalid-
      // delivery penalty; a Reject here cut honest gateways off the mesh within seconds.
      return TopicValidatorResult.Ignore;
    }
    this.admissions.penalise(source);
    this.invalidateScore(source);
    return TopicValidatorResult.Reject;
  }

  private readonly onMessage = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msg, propagationSource } = evt.detail;
    const kind = TOPIC_KINDS.find((k) => topicName(this.opts.chainId, k) === msg.topic);
    if (kind === undefined) return;
    let envelope = this.accepted.get(msg.data);
    if (envelope === undefined) {
      const decoded = decodeEnvelope(this.opts.chainId, msg.data);
      if (!decoded.ok) return;
      envelope = decoded.envelope;
    }
    this.deliver(kind, { topic: kind, via: "gossip", envelope, from: propagationSource.toString(), data: msg.data });
  };

  private deliver(kind: TopicKind, m: ReceivedMessage): void {
    for (const h of [...(this.handlers.get(kind) ?? [])]) {
      try {
        h(m);
      } catch {
        // A handler's failure is the handler's business; the host keeps delivering.
      }
    }
  }

  /** A scope-limited peer that subscribes beyond its scope is evicted, after the grace. */
  private readonly onSubscriptionChange = (evt: CustomEvent<{ peerId: PeerId; subscriptions: { topic: string; subscribe: boolean }[] }>): void => {
    const admitted = this.admissions.get(evt.detail.peerId.toString());
    if (admitted === undefined) return;
    const subscribed = evt.detail.subscriptions.filter((s) => s.subscribe).map((s) => s.topic);
    if (this.beyondScope(admitted, subscribed) !== undefined) this.armScopeCheck(admitted.peerId, false);
  };

  private readonly onAdmission = (e: AdmissionEvent): void => {
    if (e.kind === "denied") {
      this.scopes.delete(e.peerId);
      clearTimeout(this.scopeTimers.get(e.peerId));
      this.scopeTimers.delete(e.peerId);
      return;
    }
    const peerId = e.peer.peerId;
    this.invalidateScore(peerId);
    const previous = this.scopes.get(peerId);
    this.scopes.set(peerId, e.peer.scope);
    // A re-scope restarts the grace: a node whose status just fell may be in the middle of
    // a round on a topic it has now lost; its messages there are rejected from now on, and
    // it gets the grace to leave before it is evicted (an eviction would also cut it off
    // from the attestation that can restore it).
    const rescoped = previous !== undefined && previous !== e.peer.scope;
    if (rescoped || this.beyondScope(e.peer, this.subscribedTopics(peerId)) !== undefined) this.armScopeCheck(peerId, rescoped);
  };

  /** Evict `peerId` when the grace ends if it is then still subscribed beyond its scope. */
  private armScopeCheck(peerId: string, restart: boolean): void {
    if (this.scopeTimers.has(peerId) && !restart) return;
    clearTimeout(this.scopeTimers.get(peerId));
    const t = setTimeout(() => {
      this.scopeTimers.delete(peerId);
      const peer = this.admissions.get(peerId);
      if (peer === undefined || !this.running) return;
      const bad = this.beyondScope(peer, this.subscribedTopics(peerId));
      if (bad !== undefined) void this.libp2p.services.binding.evict(peerId, `scope ${peer.scope} does not include ${bad}`, peer.gateway);
    }, this.scopeGraceMs);
    t.unref?.();
    this.scopeTimers.set(peerId, t);
  }

  private subscribedTopics(peerId: string): string[] {
    return TOPIC_KINDS.filter((k) => this.subscribers(k).includes(peerId)).map((k) => topicName(this.opts.chainId, k));
  }

  /** The first of `topics` outside the peer's scope, if any. */
  private beyondScope(peer: AdmittedPeer, topics: string[]): string | undefined {
    return topics.find((t) => {
      const kind = TOPIC_KINDS.find((k) => topicName(this.opts.chainId, k) === t);
      return kind !== undefined && !scopeAllows(peer.scope, kind);
    });
  }

  /** Gossipsub caches scores for a heartbeat; admission changes must apply now. */
  private invalidateScore(peerId: string): void {
    const p = this.pubsub;
    if (hasScores(p)) p.score.scoreCache.delete(peerId);
  }
}

const DEFAULT_MESH_DEGREE = 3;

/** D and the bounds gossipsub derives its mesh maintenance from (Dout < Dlo, Dout <= D/2). */
function meshParameters(d: number): Partial<GossipsubOpts> {
  if (!Number.isInteger(d) || d < 3 || d > 12) throw new P2pError(P2pErrorCode.Config, `mesh degree ${d} is outside 3..12`);
  return { D: d, Dlo: d - 1, Dhi: 2 * d, Dscore: Math.max(1, Math.floor((2 * d) / 3)), Dout: Math.max(1, Math.floor(d / 3)) };
}

/**
 * Message identity without libp2p signatures (StrictNoSign). Every envelope is signed by
 * its gateway's registered key and checked by the topic validator, so gossipsub's own
 * Ed25519 signature per message only repeated that proof at a cost (a sign per publish, a
 * verify plus a JWK key import per receiver: 6% of a 7-gateway process's CPU). The id is
 * the envelope bytes' SHA-256, computed synchronously, so a relayed duplicate is dropped
 * before anything else runs; an envelope's nonce and timestamp make every honest one
 * distinct, and a byte-identical replay is the duplicate it should be.
 */
function envelopeMessageId(msg: { data?: Uint8Array }): string {
  return createHash("sha256").update(msg.data ?? new Uint8Array(0)).digest("base64");
}

export async function createTrustmeshHost(opts: TrustmeshHostOptions): Promise<TrustmeshHost> {
  if (!Number.isSafeInteger(opts.chainId) || opts.chainId <= 0) throw new P2pError(P2pErrorCode.Config, `bad chain id ${opts.chainId}`);
  const now = opts.now ?? Date.now;
  const privateKey = opts.privateKey ?? (await generateKeyPair("Ed25519"));
  const peerId = peerIdFromPrivateKey(privateKey);
  const ttl = opts.bindingTtlSeconds ?? 86_400;
  const signBinding = () =>
    signPeerBinding(opts.signer, {
      peerId: peerId.toString(),
      nodeId: opts.nodeId,
      chainId: BigInt(opts.chainId),
      expiry: BigInt(Math.floor(now() / 1000) + ttl),
    });
  // Signed once up front (a signer problem surfaces at creation), then again when less than
  // a tenth of its lifetime is left, so a long-running gateway never presents an expired one.
  let binding = await signBinding();
  const currentBinding = async () => {
    if (binding.expiry - BigInt(Math.floor(now() / 1000)) < BigInt(Math.ceil(ttl / 10))) binding = await signBinding();
    return binding;
  };
  const admissions = new PeerAdmissions({ now });
  const cache = new RegistryCache(opts.registry, 30_000, now);
  const topics: Record<string, TopicScoreParams> = {};
  for (const k of TOPIC_KINDS) topics[topicName(opts.chainId, k)] = topicScoreParams();
  const gossipOpts: Partial<GossipsubOpts> = {
    globalSignaturePolicy: opts.gossipSignaturePolicy === "StrictSign" ? StrictSign : StrictNoSign,
    allowedTopics: TOPIC_KINDS.map((k) => topicName(opts.chainId, k)),
    allowPublishToZeroTopicPeers: true,
    fallbackToFloodsub: false,
    emitSelf: false,
    heartbeatInterval: opts.heartbeatIntervalMs ?? 1000,
    fastMsgIdFn: envelopeMessageId,
    msgIdFn: (msg) => new TextEncoder().encode(envelopeMessageId(msg)),
    ...meshParameters(opts.meshDegree ?? DEFAULT_MESH_DEGREE),
    // A refused GRAFT (peer not yet bound) must not keep a link out of the mesh for a minute.
    pruneBackoff: 5_000,
    // IDONTWANT (gossipsub 1.2) saves bandwidth on large messages: each received one is
    // announced to every mesh peer. Ours are small (PBFT votes and reveals, under 2 KiB;
    // evidence goes direct), so at the default 512 bytes nearly every delivery cost one more
    // control frame per mesh peer, and its window update back: more socket writes than the
    // duplicates it saves. Only messages large enough to be worth it are announced.
    idontwantMinDataSize: 16 * 1024,
    scoreParams: {
      topics,
      appSpecificScore: (p: string) => admissions.appScore(p),
      appSpecificWeight: 1,
      IPColocationFactorWeight: opts.ipColocationWeight ?? 0,
    },
  };
  const libp2p = await createLibp2p<Services>({
    privateKey,
    start: false,
    addresses: { listen: opts.listen ?? ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    // Stock Noise and Yamux, written to the socket less often (wire-tuning.ts).
    connectionEncrypters: [coalescingNoise()],
    streamMuxers: [lazyWindowYamux()],
    connectionGater: admissions.gater(),
    connectionManager: { inboundConnectionThreshold: 100, maxConnections: 200 },
    services: {
      identify: identify(),
      pubsub: gossipsub(gossipOpts),
      binding: peerBinding({
        admissions,
        registry: opts.registry,
        cache,
        binding: currentBinding,
        chainId: BigInt(opts.chainId),
        timeoutMs: opts.bindTimeoutMs,
        denyMs: opts.denyMs,
        nowSeconds: () => BigInt(Math.floor(now() / 1000)),
      }),
    },
  });
  return new TrustmeshHost(libp2p, opts, admissions, cache);
}
