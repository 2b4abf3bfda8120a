/**
 * Peers at the gate of the devnet's gateways: a libp2p host with a fresh identity whose
 * gateway key is not registered on chain, and probes of what the gateways' hosts let
 * through (connections opened, peers admitted, messages delivered to handlers).
 */
import { randomBytes } from "node:crypto";
import type { Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { createTrustmeshHost, type ReceivedMessage, type TrustmeshHost } from "../../offchain/p2p/host.js";
import { MemoryRegistryView } from "../../offchain/p2p/registry-view.js";
import { MessageType } from "../../offchain/p2p/topics.js";
import type { Devnet, DevnetNode } from "../../offchain/devnet/devnet.js";

/**
 * A full trustmesh host (Noise, Yamux, gossipsub, binding protocol) signed by a fresh
 * gateway key that no node registered. Its own registry view admits every devnet gateway,
 * so any refusal seen in the test is the devnet gateways' doing, not the outsider's.
 */
export async function startOutsider(net: Devnet, nodeId: bigint): Promise<{ host: TrustmeshHost; gateway: Address }> {
  const account = privateKeyToAccount(generatePrivateKey());
  const view = new MemoryRegistryView();
  for (const n of net.nodes) view.set({ nodeId: n.nodeId, gateway: n.gatewayAccount.address, status: NodeStatus.Trusted, banned: false, slashed: false });
  const host = await createTrustmeshHost({ signer: account, nodeId, chainId: 31337, registry: view, heartbeatIntervalMs: 200, bindTimeoutMs: 1_500 });
  await host.start();
  return { host, gateway: account.address };
}

/** Everything the devnet gateways' attestation handlers receive from one sender (by node id or PeerId). */
export class Inbox {
  readonly got: { at: DevnetNode; msg: ReceivedMessage }[] = [];
  private readonly offs: (() => void)[] = [];

  constructor(nodes: DevnetNode[], from: { nodeId?: bigint; peerId?: string }) {
    for (const n of nodes) {
      this.offs.push(
        n.gateway.p2p.subscribe("attestation", (msg) => {
          if ((from.nodeId !== undefined && msg.envelope.sender === from.nodeId) || (from.peerId !== undefined && msg.from === from.peerId)) this.got.push({ at: n, msg });
        }),
      );
    }
  }

  close(): void {
    for (const off of this.offs) off();
  }
}

/** Counts connections each gateway host OPENS with one peer (a refusal at the gate opens none). */
export class OpenCounter {
  count = 0;
  private readonly offs: (() => void)[] = [];

  constructor(nodes: DevnetNode[], peerId: string) {
    for (const n of nodes) {
      const onOpen = (e: CustomEvent<{ remotePeer: { toString(): string } }>): void => {
        if (e.detail.remotePeer.toString() === peerId) this.count++;
      };
      n.gateway.p2p.libp2p.addEventListener("connection:open", onOpen);
      this.offs.push(() => n.gateway.p2p.libp2p.removeEventListener("connection:open", onOpen));
    }
  }

  close(): void {
    for (const off of this.offs) off();
  }
}

export function connected(a: TrustmeshHost, peerId: string): boolean {
  return a.libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId);
}

export function admits(n: DevnetNode, peerId: string): boolean {
  return n.gateway.p2p.admittedPeers().some((p) => p.peerId === peerId);
}

/**
 * What a peer that got in would try: a signed attestation request by gossip and the same
 * bytes on the direct protocol. Errors are expected (no admitted peers, refused streams).
 */
export async function tryToSpeak(host: TrustmeshHost, to: DevnetNode, round: bigint): Promise<void> {
  const payload = new TextEncoder().encode(JSON.stringify({ kind: "probe", nonce: randomBytes(8).toString("hex") }));
  await host.publish({ type: MessageType.AttestRequest, round, payload }).catch(() => undefined);
  await host.sendDirect(to.nodeId, { type: MessageType.AttestRequest, round, payload }).catch(() => undefined);
  await host.sendRaw(to.gateway.p2p.peerId.toString(), payload).catch(() => undefined);
}
