/**
 * The proof-of-trust handshake as a libp2p service. Right after a connection opens, each
 * side pushes its signed binding over BIND_PROTOCOL; the receiver checks the binding and
 * the signer's NodeRegistry standing, then admits the peer with a scope, or closes every
 * connection to it and denies it at the gate. A peer that presents no valid binding within
 * `timeoutMs` is treated the same. Registry changes are applied live: a ban or slash
 * disconnects the node's peers at once, a status change re-scopes them.
 */
import type { Connection, Libp2pEvents, Logger, ComponentLogger, PeerId, Startable, Stream } from "@libp2p/interface";
import type { ConnectionManager, Registrar } from "@libp2p/interface-internal";
import type { TypedEventTarget } from "main-event";
import { getAddress, type Address } from "viem";
import type { PeerAdmissions } from "./admissions.js";
import { decodeBinding, encodeBinding, MAX_BINDING_BYTES, verifyBinding, type SignedPeerBinding } from "./binding.js";
import { isTrustmeshError } from "../core/errors.js";
import { admissionScope, type RegistryCache, type RegistryChange, type RegistryView } from "./registry-view.js";
import { readAll } from "./stream-io.js";
import { BIND_PROTOCOL } from "./topics.js";

export interface PeerBindingInit {
  admissions: PeerAdmissions;
  registry: RegistryView;
  cache: RegistryCache;
  /** This host's own signed binding, presented to every peer (re-signed by the provider before it expires). */
  binding: () => Promise<SignedPeerBinding>;
  chainId: bigint;
  /** How long a connected peer has to present a valid binding. */
  timeoutMs?: number;
  /** How long a refused peer stays refused at the gate (a registry change for its gateway lifts it). */
  denyMs?: number;
  /** Unix seconds; injectable for tests. */
  nowSeconds?: () => bigint;
}

/** Only what the service uses, so it can be run against any host that provides these. */
export interface PeerBindingComponents {
  registrar: Registrar;
  connectionManager: ConnectionManager;
  events: TypedEventTarget<Libp2pEvents>;
  logger: ComponentLogger;
}

export class PeerBindingService implements Startable {
  private readonly log: Logger;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private unsubscribeRegistry: (() => void) | undefined;
  private readonly timeoutMs: number;
  private readonly denyMs: number;
  private readonly nowSeconds: () => bigint;
  private started = false;

  constructor(
    private readonly components: PeerBindingComponents,
    private readonly init: PeerBindingInit,
  ) {
    this.log = components.logger.forComponent("trustmesh:bind");
    this.timeoutMs = init.timeoutMs ?? 5_000;
    this.denyMs = init.denyMs ?? 60_000;
    this.nowSeconds = init.nowSeconds ?? (() => BigInt(Math.floor(Date.now() / 1000)));
  }

  readonly [Symbol.toStringTag] = "@trustmesh/peer-binding";

  async start(): Promise<void> {
    await this.components.registrar.handle(BIND_PROTOCOL, (stream, connection) => this.onBindStream(stream, connection), {
      maxInboundStreams: 4,
    });
    this.components.events.addEventListener("connection:open", this.onConnectionOpen);
    this.components.events.addEventListener("peer:disconnect", this.onPeerDisconnect);
    this.unsubscribeRegistry = this.init.registry.onChange((c) => void this.onRegistryChange(c));
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
    this.components.events.removeEventListener("connection:open", this.onConnectionOpen);
    this.components.events.removeEventListener("peer:disconnect", this.onPeerDisconnect);
    this.unsubscribeRegistry?.();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.components.registrar.unhandle(BIND_PROTOCOL);
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail;
    const peer = connection.remotePeer.toString();
    if (this.init.admissions.isDenied(peer)) {
      void connection.close().catch(() => connection.abort(new Error("denied")));
      return;
    }
    if (this.init.admissions.get(peer) === undefined && !this.timers.has(peer)) {
      const t = setTimeout(() => {
        this.timers.delete(peer);
        // Slowness is no misbehaviour (a loaded peer's binding may just be late): a short
        // deny, so the peer can come back soon, instead of the refusal's long one.
        if (this.init.admissions.get(peer) === undefined) void this.evict(connection.remotePeer, "no valid binding in time", undefined, this.timeoutMs);
      }, this.timeoutMs);
      t.unref?.();
      this.timers.set(peer, t);
    }
    void this.presentBinding(connection);
  };

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString();
    const t = this.timers.get(peer);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(peer);
    this.init.admissions.forget(peer);
  };

  private async presentBinding(connection: Connection): Promise<void> {
    try {
      const binding = await this.init.binding();
      const stream = await connection.newStream(BIND_PROTOCOL, { signal: AbortSignal.timeout(this.timeoutMs) });
      stream.send(encodeBinding(binding));
      await stream.close();
    } catch (err) {
      // The remote may already have hung up on us (we are banned there); nothing to repair.
      this.log("could not present binding to %p: %e", connection.remotePeer, err);
    }
  }

  private async onBindStream(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer;
    try {
      const bytes = await readAll(stream, MAX_BINDING_BYTES, this.timeoutMs);
      const binding = decodeBinding(bytes ?? new Uint8Array(0));
      await verifyBinding(binding, { remotePeer: peer.toString(), chainId: this.init.chainId, now: this.nowSeconds() });
      const record = await this.init.cache.get(binding.gateway);
      const scope = admissionScope(record);
      if (record === null || scope === "none") {
        await this.evict(peer, record === null ? "gateway not registered" : "node banned, slashed or withdrawn", binding.gateway);
        return;
      }
      if (record.nodeId !== binding.nodeId || record.gateway !== binding.gateway) {
        await this.evict(peer, `binding claims node ${binding.nodeId}, registry says ${record.nodeId}`, binding.gateway);
        return;
      }
      if (!this.started) return;
      const t = this.timers.get(peer.toString());
      if (t !== undefined) clearTimeout(t);
      this.timers.delete(peer.toString());
      this.init.admissions.admit({ peerId: peer.toString(), nodeId: record.nodeId, gateway: record.gateway, scope });
    } catch (err) {
      const reason = isTrustmeshError(err) ? err.shortMessage : "binding stream failed";
      this.log("binding from %p refused: %s", peer, reason);
      await this.evict(peer, reason);
    } finally {
      if (stream.status === "open") await stream.close().catch(() => undefined);
    }
  }

  private async onRegistryChange(change: RegistryChange): Promise<void> {
    const gateway = getAddress(change.gateway);
    this.init.admissions.forgiveGateway(gateway);
    const affected = this.init.admissions.byGateway(gateway);
    if (affected.length === 0) return;
    const record = await this.init.cache.get(gateway);
    const scope = admissionScope(record);
    for (const p of affected) {
      if (record === null || scope === "none" || record.nodeId !== p.nodeId) {
        await this.evict(p.peerId, "registry no longer admits this node", gateway);
      } else if (scope !== p.scope) {
        this.init.admissions.admit({ ...p, scope });
      }
    }
  }

  /** Refuse a peer: deny at the gate, then close every connection to it. */
  async evict(peer: PeerId | string, reason: string, gateway?: Address, forMs = this.denyMs): Promise<void> {
    const id = peer.toString();
    this.init.admissions.deny(id, forMs, reason, gateway);
    const conns = this.components.connectionManager.getConnections().filter((c) => c.remotePeer.toString() === id);
    await Promise.all(conns.map((c) => c.close({ signal: AbortSignal.timeout(1_000) }).catch((e: Error) => c.abort(e))));
  }
}

export function peerBinding(init: PeerBindingInit): (components: PeerBindingComponents) => PeerBindingService {
  return (components) => new PeerBindingService(components, init);
}
