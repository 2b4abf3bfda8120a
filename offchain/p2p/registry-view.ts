/**
 * What the P2P layer needs to know about NodeRegistry, and nothing more: who a gateway
 * key belongs to and whether it may take part. The chain-backed implementation lives in
 * offchain/chain/registry-view.ts; tests and simulations use `MemoryRegistryView`, a real
 * implementation over a Map.
 */
import { getAddress, type Address } from "viem";
import { NodeStatus } from "../core/protocol.js";

export interface NodeRecord {
  nodeId: bigint;
  gateway: Address;
  status: NodeStatus;
  /** Set by governance or a dispute; a banned node is refused whatever its status says. */
  banned: boolean;
  /** Stake was slashed (equivocation, VRF fraud): refused until re-registered. */
  slashed: boolean;
}

/** A change to one gateway's record; listeners re-read it with getNodeByGateway. */
export interface RegistryChange {
  gateway: Address;
  nodeId?: bigint;
}

export type RegistryListener = (change: RegistryChange) => void;

export interface RegistryView {
  getNodeByGateway(gateway: Address): Promise<NodeRecord | null>;
  /** Subscribe to record changes; returns the unsubscribe function. */
  onChange(listener: RegistryListener): () => void;
}

/**
 * What a node may do on the network.
 * - full: every topic and protocol (Trusted).
 * - attestation: may connect only to be attested: publish and receive on the attestation
 *   topic, nothing else (Registered, Untrusted awaiting re-attestation, Exiting).
 * - none: refused at the gate (unknown, banned, slashed, withdrawn).
 */
export type AdmissionScope = "full" | "attestation" | "none";

export function admissionScope(record: NodeRecord | null): AdmissionScope {
  if (record === null || record.banned || record.slashed) return "none";
  switch (record.status) {
    case NodeStatus.Trusted:
      return "full";
    case NodeStatus.Registered:
    case NodeStatus.Untrusted:
    case NodeStatus.Exiting:
      return "attestation";
    default:
      return "none";
  }
}

/** In-memory registry: the reference implementation of RegistryView (tests, simulations). */
export class MemoryRegistryView implements RegistryView {
  private readonly byGateway = new Map<Address, NodeRecord>();
  private readonly listeners = new Set<RegistryListener>();

  async getNodeByGateway(gateway: Address): Promise<NodeRecord | null> {
    const r = this.byGateway.get(getAddress(gateway));
    return r === undefined ? null : { ...r };
  }

  onChange(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Insert or replace a record and notify listeners. */
  set(record: NodeRecord): void {
    const gateway = getAddress(record.gateway);
    this.byGateway.set(gateway, { ...record, gateway });
    this.emit({ gateway, nodeId: record.nodeId });
  }

  /** Change some fields of an existing record (ban, slash, status change). */
  update(gateway: Address, patch: Partial<Omit<NodeRecord, "gateway">>): void {
    const key = getAddress(gateway);
    const current = this.byGateway.get(key);
    if (current === undefined) return;
    this.set({ ...current, ...patch, gateway: key });
  }

  remove(gateway: Address): void {
    const key = getAddress(gateway);
    const current = this.byGateway.get(key);
    if (this.byGateway.delete(key)) this.emit({ gateway: key, nodeId: current?.nodeId });
  }

  private emit(change: RegistryChange): void {
    for (const l of [...this.listeners]) l(change);
  }
}

/**
 * Caches lookups so the validator of every gossip message does not hit the chain; an
 * entry is dropped on a change event for its gateway, and expires after `ttlMs` as a
 * backstop for missed events.
 */
export class RegistryCache {
  private readonly entries = new Map<Address, { record: NodeRecord | null; until: number }>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly view: RegistryView,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = view.onChange((c) => this.entries.delete(getAddress(c.gateway)));
  }

  async get(gateway: Address): Promise<NodeRecord | null> {
    const key = getAddress(gateway);
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.until > this.now()) return hit.record;
    const record = await this.view.getNodeByGateway(key);
    this.entries.set(key, { record, until: this.now() + this.ttlMs });
    return record;
  }

  close(): void {
    this.unsubscribe();
    this.entries.clear();
  }
}
