/**
 * gossipsub's StrictSign policy (TrustmeshHostOptions.gossipSignaturePolicy): every message also
 * carries its publisher's libp2p signature, checked by gossipsub before our envelope validator.
 */
import { expect } from "chai";
import type { GossipsubMessage } from "@libp2p/gossipsub";
import { MemoryRegistryView } from "../../offchain/p2p/registry-view.js";
import { MessageType } from "../../offchain/p2p/topics.js";
import type { ReceivedMessage } from "../../offchain/p2p/host.js";
import { newAccount, register, startCluster, startHost, stopAll, waitFor, waitForMesh, type Member } from "./cluster.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("p2p network with gossipsub StrictSign", function () {
  this.timeout(60_000);
  const registry = new MemoryRegistryView();
  let signing: Member[] = [];
  let unsigned: Member | undefined;

  before(async () => {
    signing = await startCluster(registry, 3, 1n, { gossipSignaturePolicy: "StrictSign" });
  });
  after(async () => stopAll([...signing, ...(unsigned ? [unsigned] : [])]));

  it("delivers messages signed by the publisher's libp2p key, and validated envelopes", async () => {
    const inbox = signing.map(() => [] as ReceivedMessage[]);
    const raw = signing.map(() => [] as GossipsubMessage[]);
    signing.forEach((m, i) => {
      m.host.subscribe("task", (msg) => inbox[i]!.push(msg));
      m.host.libp2p.services.pubsub.addEventListener("gossipsub:message", (e) => raw[i]!.push(e.detail));
    });
    await waitForMesh(signing, "task");
    await signing[0]!.host.publish({ type: MessageType.TaskAnnounce, round: 5n, payload: new Uint8Array([1, 2, 3]) });
    await waitFor(() => inbox[1]!.length === 1 && inbox[2]!.length === 1, 5_000, "delivery to both others");
    for (const i of [1, 2]) {
      expect(inbox[i]![0]!.envelope.sender).to.equal(signing[0]!.nodeId);
      const msg = raw[i]![0]!.msg;
      expect(msg.type, "gossipsub carried a libp2p signature").to.equal("signed");
      if (msg.type === "signed") {
        expect(msg.from.toString()).to.equal(signing[0]!.host.peerId.toString());
        expect(msg.signature.length).to.be.greaterThan(0);
      }
    }
  });

  it("a host on the other policy is admitted but its messages are dropped, and it drops theirs", async () => {
    const account = newAccount();
    register(registry, account, 9n);
    unsigned = await startHost(registry, account, 9n, { gossipSignaturePolicy: "StrictNoSign" });
    for (const m of signing) await unsigned.host.dial(m.host.multiaddrs[0]!);
    const fromUnsigned: ReceivedMessage[] = [];
    const toUnsigned: ReceivedMessage[] = [];
    const offs = signing.map((m) => m.host.subscribe("task", (msg) => msg.envelope.sender === 9n && fromUnsigned.push(msg)));
    unsigned.host.subscribe("task", (msg) => toUnsigned.push(msg));
    await waitFor(() => signing.every((m) => m.host.admittedPeers().some((p) => p.nodeId === 9n)) && signing.every((m) => m.host.subscribers("task").includes(unsigned!.host.peerId.toString())), 10_000, "the StrictNoSign host admitted and subscribed");
    await sleep(500);
    await unsigned.host.publish({ type: MessageType.TaskAnnounce, round: 6n, payload: new Uint8Array([4]) });
    await signing[1]!.host.publish({ type: MessageType.TaskAnnounce, round: 7n, payload: new Uint8Array([5]) });
    // The signed message still reaches the other signing host: the network works, only the mismatch is dropped.
    const delivered: ReceivedMessage[] = [];
    const off = signing[2]!.host.subscribe("task", (msg) => msg.envelope.round === 7n && delivered.push(msg));
    await waitFor(() => delivered.length === 1, 5_000, "the signed message at another signing host");
    await sleep(1_000);
    off();
    for (const o of offs) o();
    expect(fromUnsigned, "unsigned messages reached a StrictSign host").to.have.length(0);
    expect(toUnsigned, "signed messages reached the StrictNoSign host").to.have.length(0);
  });
});
