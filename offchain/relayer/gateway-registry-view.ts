/**
 * The registry as the gateway's P2P gate sees it, read through the gateway's own chain
 * client (its caches and its event follower). A node with full network rights is one whose
 * signature TrustBoard would count: Trusted, or Registered while the network bootstraps with
 * fewer eligible verifiers than the quorum; other registered nodes may only be attested.
 */
import type { Address } from "viem";
import { NodeStatus } from "../core/protocol.js";
import type { NodeRecord, RegistryListener, RegistryView } from "../p2p/registry-view.js";
import type { GatewayChain } from "./chain-context.js";

/** What the view reads from the chain client. */
export type RegistryChain = Pick<GatewayChain, "onEvent" | "node" | "nodeIdOf" | "nodeCount" | "canSign" | "bootstrapOpen">;

export class GatewayRegistryView implements RegistryView {
  private readonly listeners = new Set<RegistryListener>();
  private readonly unsubscribe: () => void;
  /** Whether the bootstrap rule was in force at the last status change (undefined: not read yet). */
  private bootstrap: boolean | undefined;

  constructor(private readonly chain: RegistryChain, private readonly quorum: number) {
    this.unsubscribe = chain.onEvent((e) => {
      if (e.eventName !== "StatusChanged" && e.eventName !== "NodeSlashed" && e.eventName !== "GatewayRotated" && e.eventName !== "NodeRegistered") return;
      const nodeId = e.args.nodeId as bigint | undefined;
      if (nodeId === undefined) return;
      void this.changed(nodeId).catch(() => undefined);
    });
    void chain.bootstrapOpen(quorum).then(
      (open) => (this.bootstrap ??= open),
      () => undefined,
    );
  }

  private async changed(nodeId: bigint): Promise<void> {
    const n = await this.chain.node(nodeId, 0);
    this.emit(n.gateway, nodeId);
    // A Registered node counts as Trusted while the bootstrap rule is in force: when the
    // eligible count crosses the quorum, every Registered node's scope changes with it,
    // though only one node's status did. Every node is re-announced, so no peer keeps an
    // old scope (one peer widening what another narrows is how a fresh gateway came to
    // refuse a Registered node the others still admitted, which then was never attested).
    const before = this.bootstrap;
    this.bootstrap = await this.chain.bootstrapOpen(this.quorum);
    if (before === undefined || before === this.bootstrap) return;
    const count = await this.chain.nodeCount();
    for (let id = 1n; id <= count; id++) {
      if (id === nodeId) continue;
      const other = await this.chain.node(id, 0);
      this.emit(other.gateway, id);
    }
  }

  private emit(gateway: Address, nodeId: bigint): void {
    for (const l of this.listeners) l({ gateway, nodeId });
  }

  async getNodeByGateway(gateway: Address): Promise<NodeRecord | null> {
    const nodeId = await this.chain.nodeIdOf(gateway);
    if (nodeId === 0n) return null;
    const n = await this.chain.node(nodeId, 0);
    const banned = n.status === NodeStatus.Banned;
    let status = n.status as NodeStatus;
    if (status === NodeStatus.Registered && (await this.chain.canSign(n, this.quorum))) status = NodeStatus.Trusted;
    return { nodeId, gateway: n.gateway, status, banned, slashed: banned };
  }

  onChange(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
  }
}
