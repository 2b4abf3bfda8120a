/**
 * The P2P layer's RegistryView (offchain/p2p/registry-view.ts) read from the NodeRegistry
 * contract. Lookups are two view calls (nodeOfGateway, getNode); changes come from the
 * contract's events (NodeRegistered, StatusChanged, NodeSlashed, GatewayRotated), watched
 * only while someone listens.
 *
 * A rotated-out gateway stays mapped to its node on chain (so old signatures remain
 * attributable) but is no longer that node's key: such an address reads as "no node" here,
 * so a stale binding cannot re-admit a node under its old key.
 */
import { getAddress, type Address, type Chain, type PublicClient, type Transport } from "viem";
import { NodeStatus } from "../core/protocol.js";
import type { NodeRecord, RegistryChange, RegistryListener, RegistryView } from "../p2p/registry-view.js";
import { nodeRegistryAbi } from "./artifacts.js";

export interface ChainRegistryViewParameters {
  publicClient: PublicClient<Transport, Chain | undefined>;
  /** NodeRegistry address. */
  address: Address;
  /** Event polling interval (ms) for transports without subscriptions. */
  pollingIntervalMs?: number;
  /** Called when the watcher or a follow-up read fails; the view keeps watching. */
  onError?: (err: unknown) => void;
}

export class ChainRegistryView implements RegistryView {
  private readonly listeners = new Set<RegistryListener>();
  private unwatch: (() => void) | undefined;

  constructor(private readonly p: ChainRegistryViewParameters) {}

  async getNodeByGateway(gateway: Address): Promise<NodeRecord | null> {
    const address = getAddress(gateway);
    const nodeId = await this.p.publicClient.readContract({ address: this.p.address, abi: nodeRegistryAbi, functionName: "nodeOfGateway", args: [address] });
    if (nodeId === 0n) return null;
    const node = await this.p.publicClient.readContract({ address: this.p.address, abi: nodeRegistryAbi, functionName: "getNode", args: [nodeId] });
    if (getAddress(node.gateway) !== address) return null; // rotated out
    const status = node.status as NodeStatus;
    // The contract bans on every slash (status Banned until the ban ends and the operator
    // reactivates), so "slashed" is not a separate state on chain.
    return { nodeId, gateway: address, status, banned: status === NodeStatus.Banned, slashed: false };
  }

  onChange(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    if (this.unwatch === undefined) this.startWatching();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopWatching();
    };
  }

  /** Stop watching events (also happens when the last listener unsubscribes). */
  close(): void {
    this.listeners.clear();
    this.stopWatching();
  }

  private startWatching(): void {
    this.unwatch = this.p.publicClient.watchContractEvent({
      address: this.p.address,
      abi: nodeRegistryAbi,
      pollingInterval: this.p.pollingIntervalMs ?? 1_000,
      onError: (e) => this.p.onError?.(e),
      onLogs: (logs) => {
        for (const log of logs) {
          switch (log.eventName) {
            case "NodeRegistered":
              this.emit({ gateway: log.args.gateway!, nodeId: log.args.nodeId });
              break;
            case "GatewayRotated":
              this.emit({ gateway: log.args.oldGateway!, nodeId: log.args.nodeId });
              this.emit({ gateway: log.args.newGateway!, nodeId: log.args.nodeId });
              break;
            case "StatusChanged":
            case "NodeSlashed":
              if (log.args.nodeId !== undefined) void this.emitForNode(log.args.nodeId);
              break;
            default:
              break;
          }
        }
      },
    });
  }

  private stopWatching(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  private async emitForNode(nodeId: bigint): Promise<void> {
    try {
      const node = await this.p.publicClient.readContract({ address: this.p.address, abi: nodeRegistryAbi, functionName: "getNode", args: [nodeId] });
      this.emit({ gateway: node.gateway, nodeId });
    } catch (err) {
      this.p.onError?.(err);
    }
  }

  private emit(change: RegistryChange): void {
    const c = { ...change, gateway: getAddress(change.gateway) };
    for (const l of [...this.listeners]) l(c);
  }
}
