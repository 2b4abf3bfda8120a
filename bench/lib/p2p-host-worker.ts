/**
 * One gateway host in its own worker thread, for bench/lib/p2p-workers.ts: the product runs
 * one host per machine, and a host per thread lets the hosts of a loopback cluster validate
 * in parallel instead of queueing on one event loop. Same code as the gateway: TrustmeshHost,
 * the secret-key signer, PBFT over PbftTransport with real secp256k1 and EIP-712.
 *
 * Times sent to the parent are `performance.timeOrigin + performance.now()`: one clock for
 * every thread of the process.
 */
import "../../offchain/core/polyfills.js";
import { parentPort, workerData } from "node:worker_threads";
import { randomBytes } from "node:crypto";
import type { Address, Hex } from "viem";
import { trustBoardDomain } from "../../offchain/chain/eip712.js";
import { createReplica, publicKeyOf, secp256k1Authenticator, secretKeyVoteSigner, viemVoteVerifier, type Vote } from "../../offchain/core/pbft/index.js";
import { NodeStatus, Verdict } from "../../offchain/core/protocol.js";
import { signEnvelope } from "../../offchain/p2p/envelope.js";
import { createTrustmeshHost } from "../../offchain/p2p/host.js";
import { PbftTransport } from "../../offchain/p2p/pbft-transport.js";
import { MemoryRegistryView } from "../../offchain/p2p/registry-view.js";
import { secretKeyGatewaySigner } from "../../offchain/p2p/signer.js";
import { MessageType } from "../../offchain/p2p/topics.js";

export interface HostWorkerData {
  index: number;
  chainId: number;
  secretKeys: Hex[];
  nodeIds: bigint[];
  heartbeatIntervalMs: number;
}

export type HostCommand =
  | { cmd: "dial"; addrs: string[] }
  | { cmd: "status" }
  | { cmd: "subscribe-task" }
  | { cmd: "publish-paced"; id: number; bytes: number }
  | { cmd: "publish-burst"; ids: number[]; bytes: number }
  | { cmd: "pbft-start"; maxBatch: number; batchTimeoutMs: number; requestTimeoutMs: number }
  | { cmd: "submit"; rounds: bigint[] }
  | { cmd: "stop" };

export type HostEvent =
  | { ev: "ready"; addr: string }
  | { ev: "ack" }
  | { ev: "status"; admitted: number; pbftSubscribers: number; taskSubscribers: number }
  | { ev: "recv"; id: number; at: number }
  | { ev: "sent"; id: number; at: number; signMs: number }
  | { ev: "decided"; votes: number; at: number }
  | { ev: "error"; message: string };

const data = workerData as HostWorkerData;
const port = parentPort!;
const post = (e: HostEvent) => port.postMessage(e);
const now = () => performance.timeOrigin + performance.now();
const PBFT_DOMAIN = trustBoardDomain(data.chainId, "0x00000000000000000000000000000000000000b0");

const signers = data.secretKeys.map((sk) => secretKeyGatewaySigner(sk));
const registry = new MemoryRegistryView();
signers.forEach((s, i) => registry.set({ nodeId: data.nodeIds[i]!, gateway: s.address, status: NodeStatus.Trusted, banned: false, slashed: false }));
const me = data.index;
const signer = signers[me]!;
const host = await createTrustmeshHost({
  signer,
  nodeId: data.nodeIds[me]!,
  chainId: data.chainId,
  registry,
  heartbeatIntervalMs: data.heartbeatIntervalMs,
  bindTimeoutMs: 1_500,
});
await host.start();
let transport: PbftTransport | undefined;

function payload(id: number, bytes: number): Uint8Array {
  const p = new Uint8Array(bytes);
  new DataView(p.buffer).setUint32(0, id);
  return p;
}

async function handle(c: HostCommand): Promise<void> {
  switch (c.cmd) {
    case "dial":
      for (const a of c.addrs) await host.dial(a);
      return post({ ev: "ack" });
    case "status":
      return post({ ev: "status", admitted: host.admittedPeers().length, pbftSubscribers: host.subscribers("pbft").length, taskSubscribers: host.subscribers("task").length });
    case "subscribe-task":
      host.subscribe("task", (m) => {
        const at = now();
        post({ ev: "recv", id: new DataView(m.envelope.payload.buffer, m.envelope.payload.byteOffset).getUint32(0), at });
      });
      return post({ ev: "ack" });
    case "publish-paced": {
      const s0 = now();
      const { bytes } = await signEnvelope(signer, data.chainId, {
        type: MessageType.TaskAnnounce,
        round: BigInt(c.id),
        sender: data.nodeIds[me]!,
        timestamp: BigInt(Date.now()),
        nonce: randomBytes(16),
        payload: payload(c.id, c.bytes),
      });
      const at = now();
      await host.publishRaw("task", bytes);
      return post({ ev: "sent", id: c.id, at, signMs: at - s0 });
    }
    case "publish-burst":
      for (const id of c.ids) await host.publish({ type: MessageType.TaskAnnounce, round: BigInt(id), payload: payload(id, c.bytes) });
      return post({ ev: "ack" });
    case "pbft-start": {
      const pks = data.secretKeys.map(publicKeyOf);
      const replica = createReplica({
        id: me,
        members: signers.map((s) => s.address as Address),
        auth: secp256k1Authenticator(data.secretKeys[me]!, pks),
        voteSigner: secretKeyVoteSigner(data.secretKeys[me]!, PBFT_DOMAIN),
        voteVerifier: viemVoteVerifier(PBFT_DOMAIN),
        maxBatch: c.maxBatch,
        batchTimeoutMs: c.batchTimeoutMs,
        requestTimeoutMs: c.requestTimeoutMs,
      });
      transport = new PbftTransport({ host, replica, committee: data.nodeIds, onDecide: (d) => post({ ev: "decided", votes: d.batch.length, at: now() }) });
      await transport.start();
      return post({ ev: "ack" });
    }
    case "submit":
      for (const round of c.rounds) {
        const vote: Vote = { round, node: 9n, verdict: Verdict.Trusted, score: 90, evidenceCid: "0x0155", policyCid: "0x0170" };
        transport?.submit(vote);
      }
      return post({ ev: "ack" });
    case "stop":
      await transport?.stop();
      await host.stop();
      post({ ev: "ack" });
      port.close();
      return;
  }
}

port.on("message", (c: HostCommand) => {
  handle(c).catch((err: unknown) => post({ ev: "error", message: err instanceof Error ? err.message : String(err) }));
});
post({ ev: "ready", addr: host.multiaddrs[0]!.toString() });
