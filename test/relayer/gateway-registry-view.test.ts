// The gateway's registry view over a scripted chain client: the bootstrap rule in the
// records it serves, and the change notices a peer needs to re-judge every Registered node
// when the eligible count crosses the quorum.
import { expect } from "chai";
import { zeroAddress, type Address } from "viem";
import { NodeStatus } from "../../offchain/core/protocol.js";
import type { RegistryChange } from "../../offchain/p2p/registry-view.js";
import type { ChainEvent, NodeInfo } from "../../offchain/relayer/chain-context.js";
import { GatewayRegistryView, type RegistryChain } from "../../offchain/relayer/gateway-registry-view.js";

const QUORUM = 3;
const gatewayOf = (id: bigint): Address => `0x${id.toString(16).padStart(40, "0")}`;

class ScriptedChain implements RegistryChain {
  readonly statuses = new Map<bigint, number>();
  private readonly listeners = new Set<(e: ChainEvent) => void>();

  constructor(statuses: number[]) {
    statuses.forEach((s, i) => this.statuses.set(BigInt(i + 1), s));
  }

  onEvent(listener: (e: ChainEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async node(nodeId: bigint): Promise<NodeInfo> {
    const status = this.statuses.get(nodeId);
    if (status === undefined) throw new Error(`no node ${nodeId}`);
    return { nodeId, operator: zeroAddress, gateway: gatewayOf(nodeId), status, tier: 0, until: 0n, stake: 0n, vrfPublicKey: [0n, 0n], identityDigest: "0x" };
  }

  async nodeIdOf(gateway: Address): Promise<bigint> {
    for (const id of this.statuses.keys()) if (gatewayOf(id) === gateway) return id;
    return 0n;
  }

  async nodeCount(): Promise<bigint> {
    return BigInt(this.statuses.size);
  }

  async bootstrapOpen(quorum: number): Promise<boolean> {
    return [...this.statuses.values()].filter((s) => s === NodeStatus.Trusted).length < quorum;
  }

  async canSign(node: NodeInfo, quorum: number): Promise<boolean> {
    return node.status === NodeStatus.Trusted || (node.status === NodeStatus.Registered && (await this.bootstrapOpen(quorum)));
  }

  /** A status change on chain, as the event follower reports it. */
  setStatus(nodeId: bigint, status: number): void {
    this.statuses.set(nodeId, status);
    const e: ChainEvent = { address: zeroAddress, eventName: "StatusChanged", args: { nodeId }, blockNumber: 1n, transactionHash: "0x" };
    for (const l of this.listeners) l(e);
  }
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe("gateway registry view (bootstrap rule and change notices)", () => {
  it("serves a Registered node as Trusted while the network bootstraps, and as Registered after", async () => {
    const chain = new ScriptedChain([NodeStatus.Trusted, NodeStatus.Trusted, NodeStatus.Registered, NodeStatus.Registered]);
    const view = new GatewayRegistryView(chain, QUORUM);
    try {
      expect((await view.getNodeByGateway(gatewayOf(4n)))?.status).to.equal(NodeStatus.Trusted);
      chain.statuses.set(3n, NodeStatus.Trusted);
      expect((await view.getNodeByGateway(gatewayOf(4n)))?.status).to.equal(NodeStatus.Registered);
      expect(await view.getNodeByGateway(gatewayOf(9n))).to.equal(null);
    } finally {
      view.close();
    }
  });

  it("announces every node when the eligible count crosses the quorum, only the changed one otherwise", async () => {
    const chain = new ScriptedChain([NodeStatus.Registered, NodeStatus.Trusted, NodeStatus.Registered, NodeStatus.Registered]);
    const view = new GatewayRegistryView(chain, QUORUM);
    const changes: RegistryChange[] = [];
    view.onChange((c) => changes.push(c));
    try {
      await settle();
      chain.setStatus(3n, NodeStatus.Trusted); // 2 Trusted: still bootstrapping
      await settle();
      expect(changes.map((c) => c.nodeId)).to.deep.equal([3n]);

      changes.length = 0;
      chain.setStatus(4n, NodeStatus.Trusted); // 3 Trusted: bootstrap over, node 1 loses full rights
      await settle();
      expect(changes.map((c) => c.nodeId)).to.deep.equal([4n, 1n, 2n, 3n]);
      expect(changes.find((c) => c.nodeId === 1n)?.gateway).to.equal(gatewayOf(1n));

      changes.length = 0;
      chain.setStatus(2n, NodeStatus.Untrusted); // back under the quorum: bootstrap resumes
      await settle();
      expect(changes.map((c) => c.nodeId).sort()).to.deep.equal([1n, 2n, 3n, 4n]);
    } finally {
      view.close();
    }
  });
});
