/**
 * Who is on this host's network right now: peers whose binding was checked (with their
 * node and scope), peers refused for a while, and each peer's application penalty. Plain
 * state, no streams; the connection gater, the gossipsub app score and the binding
 * service all read and write it.
 */
import type { ConnectionGater, PeerId } from "@libp2p/interface";
import type { Address } from "viem";
import type { AdmissionScope } from "./registry-view.js";

export interface AdmittedPeer {
  peerId: string;
  nodeId: bigint;
  gateway: Address;
  scope: Exclude<AdmissionScope, "none">;
}

interface Denial {
  until: number;
  gateway: Address | undefined;
  reason: string;
}

export interface AdmissionsOptions {
  now?: () => number;
  /** App score of a connected peer whose binding is not yet checked: under gossipsub's
   * publish and gossip thresholds, above graylist, so nothing is sent to it meanwhile
   * but its subscriptions are still recorded. */
  unboundScore?: number;
  /** Score lost per rejected message. */
  penaltyWeight?: number;
  /** Penalties halve every this many ms. */
  penaltyHalfLifeMs?: number;
}

export type AdmissionEvent =
  | { kind: "admitted"; peer: AdmittedPeer }
  | { kind: "denied"; peerId: string; reason: string };

export class PeerAdmissions {
  private readonly admitted = new Map<string, AdmittedPeer>();
  private readonly denials = new Map<string, Denial>();
  private readonly penalties = new Map<string, { value: number; at: number }>();
  private readonly listeners = new Set<(e: AdmissionEvent) => void>();
  private readonly now: () => number;
  readonly unboundScore: number;
  private readonly penaltyWeight: number;
  private readonly halfLifeMs: number;

  constructor(opts: AdmissionsOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.unboundScore = opts.unboundScore ?? -60;
    this.penaltyWeight = opts.penaltyWeight ?? 10;
    this.halfLifeMs = opts.penaltyHalfLifeMs ?? 60_000;
  }

  get(peerId: string): AdmittedPeer | undefined {
    return this.admitted.get(peerId);
  }

  list(): AdmittedPeer[] {
    return [...this.admitted.values()];
  }

  byGateway(gateway: Address): AdmittedPeer[] {
    return this.list().filter((p) => p.gateway === gateway);
  }

  admit(peer: AdmittedPeer): void {
    this.denials.delete(peer.peerId);
    this.admitted.set(peer.peerId, peer);
    this.emit({ kind: "admitted", peer });
  }

  deny(peerId: string, forMs: number, reason: string, gateway?: Address): void {
    this.admitted.delete(peerId);
    this.denials.set(peerId, { until: this.now() + forMs, gateway, reason });
    this.emit({ kind: "denied", peerId, reason });
  }

  /** Lift denials that rest on this gateway's registry record (it changed; re-judge on next connect). */
  forgiveGateway(gateway: Address): void {
    for (const [peerId, d] of this.denials) if (d.gateway === gateway) this.denials.delete(peerId);
  }

  isDenied(peerId: string): boolean {
    const d = this.denials.get(peerId);
    if (d === undefined) return false;
    if (d.until > this.now()) return true;
    this.denials.delete(peerId);
    return false;
  }

  /** Every refusal still in force: who, why, and for how much longer. */
  denied(): { peerId: string; reason: string; remainingMs: number }[] {
    const now = this.now();
    return [...this.denials]
      .filter(([, d]) => d.until > now)
      .map(([peerId, d]) => ({ peerId, reason: d.reason, remainingMs: d.until - now }));
  }

  denialReason(peerId: string): string | undefined {
    return this.isDenied(peerId) ? this.denials.get(peerId)?.reason : undefined;
  }

  /** A peer sent or relayed a message we rejected. */
  penalise(peerId: string, amount = 1): void {
    const now = this.now();
    this.penalties.set(peerId, { value: this.penaltyOf(peerId, now) + amount, at: now });
  }

  /** Gossipsub P5 (application-specific) score. */
  appScore(peerId: string): number {
    if (!this.admitted.has(peerId)) return this.unboundScore;
    return -this.penaltyWeight * this.penaltyOf(peerId, this.now());
  }

  forget(peerId: string): void {
    this.admitted.delete(peerId);
  }

  onEvent(listener: (e: AdmissionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The gate: a refused peer is turned away at dial and right after the Noise handshake. */
  gater(): ConnectionGater {
    const denied = (peerId: PeerId) => this.isDenied(peerId.toString());
    return {
      denyDialPeer: denied,
      denyInboundEncryptedConnection: denied,
      denyOutboundEncryptedConnection: denied,
      denyInboundUpgradedConnection: denied,
      denyOutboundUpgradedConnection: denied,
    };
  }

  private penaltyOf(peerId: string, now: number): number {
    const p = this.penalties.get(peerId);
    if (p === undefined) return 0;
    return p.value * Math.pow(0.5, (now - p.at) / this.halfLifeMs);
  }

  private emit(e: AdmissionEvent): void {
    for (const l of [...this.listeners]) l(e);
  }
}
