import { expect } from "chai";
import { bytesToHex } from "viem";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { MemoryRegistryView } from "../../offchain/p2p/registry-view.js";
import { DIRECT_PROTOCOL, MessageType } from "../../offchain/p2p/topics.js";
import type { ReceivedMessage, RejectedMessage } from "../../offchain/p2p/host.js";
import { signEnvelope } from "../../offchain/p2p/envelope.js";
import { CHAIN_ID, newAccount, register, startCluster, startHost, stopAll, waitFor, waitForMesh, type Member } from "./cluster.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connectedTo(a: Member, b: Member): boolean {
  return a.host.libp2p.getConnections(b.host.peerId).length > 0;
}

describe("p2p network: 7 gateways on loopback", function () {
  this.timeout(60_000);
  const registry = new MemoryRegistryView();
  let members: Member[] = [];

  before(async () => {
    members = await startCluster(registry, 7);
  });
  after(async () => stopAll(members));

  it("admits every bound peer and delivers signed messages to all six others", async () => {
    const inbox = members.map(() => [] as ReceivedMessage[]);
    members.forEach((m, i) => m.host.subscribe("pbft", (msg) => inbox[i]!.push(msg)));
    await waitForMesh(members, "pbft");
    for (const m of members) {
      const nodeIds = m.host.admittedPeers().map((p) => p.nodeId).sort();
      expect(nodeIds).to.have.length(6);
      expect(nodeIds).to.not.include(m.nodeId);
    }
    const payload = new Uint8Array(1024).fill(0xab);
    await members[3]!.host.publish({ type: MessageType.Pbft, round: 42n, payload });
    await waitFor(() => inbox.filter((b, i) => i !== 3 && b.length === 1).length === 6, 5_000, "delivery to 6 peers");
    expect(inbox[3]).to.have.length(0);
    for (const [i, box] of inbox.entries()) {
      if (i === 3) continue;
      expect(box[0]!.envelope.sender).to.equal(members[3]!.nodeId);
      expect(box[0]!.envelope.round).to.equal(42n);
      expect(bytesToHex(box[0]!.envelope.payload)).to.equal(bytesToHex(payload));
      // `from` is the mesh peer that relayed it; the author is the envelope's signer.
      expect(members[i]!.host.admittedPeers().map((p) => p.peerId)).to.include(box[0]!.from);
    }
  });

  it("delivers 300 direct messages over one stream per direction, and opens a new one after a reset", async () => {
    // One stream per message cost a yamux SYN, a multistream-select exchange, a peer-store
    // update and two FINs per message (direct-links.ts); the link now stays open.
    const [from, to] = [members[0]!, members[1]!];
    const got: number[] = [];
    const unsubscribe = to.host.subscribe("attestation", (m) => {
      if (m.via === "direct" && m.envelope.round === 777n) got.push(m.envelope.payload[0]! | (m.envelope.payload[1]! << 8));
    });
    const directStreams = (a: Member, b: Member) => a.host.libp2p.getConnections(b.host.peerId).flatMap((c) => c.streams).filter((st) => st.protocol === DIRECT_PROTOCOL);
    try {
      const send = (i: number) => from.host.sendDirect(to.nodeId, { type: MessageType.AttestResponse, round: 777n, payload: new Uint8Array([i & 0xff, i >> 8]) });
      for (let i = 0; i < 150; i++) await send(i);
      // And 150 without waiting for each other: frames must not interleave (each envelope's signature is checked).
      await Promise.all(Array.from({ length: 150 }, (_, k) => send(150 + k)));
      await waitFor(() => got.length === 300, 10_000, "300 direct deliveries");
      // Validation is asynchronous, so arrival order is not promised; every message arrives once.
      expect([...got].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
      expect(directStreams(from, to).map((st) => st.direction)).to.deep.equal(["outbound"]);
      expect(directStreams(to, from).map((st) => st.direction)).to.deep.equal(["inbound"]);

      const first = directStreams(from, to)[0]!;
      first.abort(new Error("test: link reset"));
      await waitFor(() => directStreams(to, from).length === 0, 5_000, "the reset reaches the receiver");
      await send(300);
      await waitFor(() => got.length === 301, 5_000, "delivery on a new link");
      expect(got[300]).to.equal(300);
      const now = directStreams(from, to);
      expect(now).to.have.length(1);
      expect(now[0]!.id).to.not.equal(first.id);
    } finally {
      unsubscribe();
    }
  });

  it("disconnects a node live when the registry bans it, and keeps it out", async () => {
    const victim = members[6]!;
    await waitFor(() => members.slice(0, 6).every((m) => connectedTo(m, victim)), 5_000, "victim connected");
    registry.update(victim.account.address, { banned: true });
    await waitFor(() => members.slice(0, 6).every((m) => !connectedTo(m, victim)), 5_000, "victim disconnected everywhere");
    expect(members[0]!.host.admissions.isDenied(victim.host.peerId.toString())).to.equal(true);
    let opened = 0;
    const onOpen = (e: CustomEvent<{ remotePeer: { toString(): string } }>) => {
      if (e.detail.remotePeer.toString() === victim.host.peerId.toString()) opened++;
    };
    members[0]!.host.libp2p.addEventListener("connection:open", onOpen);
    await victim.host.dial(members[0]!.host.multiaddrs[0]!).catch(() => undefined);
    await waitFor(() => !connectedTo(victim, members[0]!), 5_000, "victim's redial torn down");
    members[0]!.host.libp2p.removeEventListener("connection:open", onOpen);
    expect(opened).to.equal(0);
    expect(members[0]!.host.admittedPeers().map((p) => p.nodeId)).to.not.include(victim.nodeId);
  });
});

describe("p2p network: gating of unregistered peers", function () {
  this.timeout(60_000);
  const registry = new MemoryRegistryView();
  let members: Member[] = [];
  let outsider: Member | undefined;

  before(async () => {
    members = await startCluster(registry, 2);
  });
  after(async () => stopAll([...members, ...(outsider ? [outsider] : [])]));

  it("refuses a peer whose gateway key is not registered, then gates its redial", async () => {
    outsider = await startHost(registry, newAccount(), 99n); // never registered
    const target = members[0]!;
    await outsider.host.dial(target.host.multiaddrs[0]!).catch(() => undefined);
    await waitFor(() => target.host.admissions.isDenied(outsider!.host.peerId.toString()), 5_000, "outsider denied");
    await waitFor(() => !connectedTo(target, outsider!), 5_000, "outsider disconnected");
    expect(target.host.admissions.denialReason(outsider.host.peerId.toString())).to.match(/not registered/);
    await waitFor(() => !connectedTo(outsider!, target), 5_000, "outsider sees the hang-up");
    // The gate refuses right after the Noise handshake: the target never opens a connection
    // for the outsider. (The dialer may briefly believe it connected: its side of the
    // upgrade can finish before the responder's refusal arrives.)
    let opened = 0;
    const onOpen = (e: CustomEvent<{ remotePeer: { toString(): string } }>) => {
      if (e.detail.remotePeer.toString() === outsider!.host.peerId.toString()) opened++;
    };
    target.host.libp2p.addEventListener("connection:open", onOpen);
    await outsider.host.dial(target.host.multiaddrs[0]!).catch(() => undefined);
    await waitFor(() => !connectedTo(outsider!, target), 5_000, "outsider's redial torn down");
    target.host.libp2p.removeEventListener("connection:open", onOpen);
    expect(opened).to.equal(0);
    expect(connectedTo(target, outsider)).to.equal(false);
    expect(target.host.admittedPeers().map((p) => p.nodeId)).to.deep.equal([members[1]!.nodeId]);
  });

  it("disconnects a peer that presents no binding within the timeout", async () => {
    const { createLibp2p } = await import("libp2p");
    const { tcp } = await import("@libp2p/tcp");
    const { noise } = await import("@libp2p/noise");
    const { yamux } = await import("@libp2p/yamux");
    const { identify } = await import("@libp2p/identify");
    // A plain libp2p node: speaks Noise and Yamux but not the trustmesh binding protocol.
    const plain = await createLibp2p({
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
    });
    try {
      const target = members[1]!;
      await plain.dial(target.host.multiaddrs[0]!);
      await waitFor(() => target.host.libp2p.getConnections(plain.peerId).length === 1, 2_000, "plain peer connected");
      await waitFor(() => target.host.libp2p.getConnections(plain.peerId).length === 0, 5_000, "binding timeout");
      expect(target.host.admissions.denialReason(plain.peerId.toString())).to.match(/no valid binding/);
    } finally {
      await plain.stop();
    }
  });

  it("refuses a binding whose node id disagrees with the registry", async () => {
    const liar = newAccount();
    register(registry, liar, 50n);
    const m = await startHost(registry, liar, 51n); // claims node 51, registry says 50
    try {
      await m.host.dial(members[0]!.host.multiaddrs[0]!).catch(() => undefined);
      await waitFor(() => members[0]!.host.admissions.isDenied(m.host.peerId.toString()), 5_000, "liar denied");
    } finally {
      await m.host.stop();
    }
  });
});

describe("p2p network: invalid, unsigned and replayed messages", function () {
  this.timeout(60_000);
  const registry = new MemoryRegistryView();
  let a: Member, b: Member, mallory: Member;
  const rejectedAtA: RejectedMessage[] = [];
  const inboxB: ReceivedMessage[] = [];
  const inboxA: ReceivedMessage[] = [];

  before(async () => {
    // Line topology mallory - a - b: whatever b sees of mallory's traffic, a forwarded.
    const accounts = [newAccount(), newAccount(), newAccount()];
    accounts.forEach((acc, i) => register(registry, acc, BigInt(i + 1)));
    a = await startHost(registry, accounts[0]!, 1n);
    b = await startHost(registry, accounts[1]!, 2n);
    mallory = await startHost(registry, accounts[2]!, 3n);
    await b.host.dial(a.host.multiaddrs[0]!);
    await mallory.host.dial(a.host.multiaddrs[0]!);
    a.host.subscribe("pbft", (m) => inboxA.push(m));
    b.host.subscribe("pbft", (m) => inboxB.push(m));
    mallory.host.subscribe("pbft", () => undefined);
    a.host.onRejected((r) => rejectedAtA.push(r));
    await waitFor(() => a.host.admittedPeers().length === 2 && a.host.subscribers("pbft").length === 2, 10_000, "line mesh");
    await waitFor(() => mallory.host.subscribers("pbft").length === 1 && b.host.subscribers("pbft").length === 1, 10_000, "subscriptions");
    await sleep(500); // unbound-score cache window of one heartbeat
  });
  after(async () => stopAll([a, b, mallory]));

  it("delivers an honest message from mallory's position across the line (control)", async () => {
    await mallory.host.publish({ type: MessageType.Pbft, round: 1n, payload: new Uint8Array([1]) });
    await waitFor(() => inboxB.length === 1, 5_000, "b receives via a");
    expect(inboxB[0]!.envelope.sender).to.equal(3n);
    expect(a.host.scoreOf(mallory.host.peerId)).to.equal(0);
  });

  it("drops a replayed envelope re-published by another peer: never delivered twice", async () => {
    const seenBy = inboxB.length;
    const seenByA = inboxA.length;
    let captured: Uint8Array | undefined;
    // mallory captures a's genuine message from the wire and republishes the same bytes.
    const off = mallory.host.subscribe("pbft", (m) => (captured = m.data));
    await a.host.publish({ type: MessageType.Pbft, round: 5n, payload: new Uint8Array([5]) });
    await waitFor(() => captured !== undefined && inboxB.length === seenBy + 1, 5_000, "genuine delivery");
    off();
    // The message id is the envelope's hash: gossipsub drops the copy as a duplicate of what
    // it saw, before validation (a replay older than its seen cache meets the host's replay
    // window instead, see "replay" in host.ts).
    // mallory's own gossipsub refuses to publish a message id it has seen...
    await mallory.host.publishRaw("pbft", captured!).then(
      () => expect.fail("published a duplicate"),
      (e: Error) => expect(e.message).to.match(/Duplicate/),
    );
    // ...so the bytes go to eve, who never saw them (not on the pbft topic), and eve sends them to a.
    const eveAccount = newAccount();
    register(registry, eveAccount, 4n);
    const eve = await startHost(registry, eveAccount, 4n);
    try {
      await eve.host.dial(a.host.multiaddrs[0]!);
      await waitFor(() => a.host.admittedPeers().some((p) => p.nodeId === 4n), 5_000, "eve admitted");
      await sleep(300);
      await eve.host.publishRaw("pbft", captured!);
      await sleep(500);
      expect(inboxB.length).to.equal(seenBy + 1);
      expect(inboxA.length).to.equal(seenByA);
    } finally {
      await eve.host.stop();
    }
  });
  it("rejects garbage and unsigned envelopes, does not forward them, and graylists the repeat offender", async () => {
    const before = inboxB.length;
    const beforeA = inboxA.length;
    const firstReject = rejectedAtA.length;
    const { bytes } = await signEnvelope(mallory.account, CHAIN_ID, {
      type: MessageType.Pbft, round: 2n, sender: 3n, timestamp: BigInt(Date.now()), nonce: new Uint8Array(16).fill(1), payload: new Uint8Array([2]),
    });
    const unsigned = bytes.slice();
    unsigned.fill(0, unsigned.length - 65);
    await mallory.host.publishRaw("pbft", new TextEncoder().encode("not an envelope"));
    await mallory.host.publishRaw("pbft", unsigned);
    await mallory.host.publishRaw("pbft", new TextEncoder().encode("not an envelope either"));
    await waitFor(() => rejectedAtA.length >= firstReject + 3, 10_000, "three rejections at a");
    const fresh = rejectedAtA.slice(firstReject);
    expect(fresh.map((r) => r.reason)).to.have.members(["schema", "bad-signature", "schema"]);
    expect(fresh.every((r) => r.propagationSource === mallory.host.peerId.toString())).to.equal(true);
    // Three offences: P4 (-10 x 3^2) plus the app penalty put mallory under gossipsub's
    // graylist threshold (-80): a now drops its RPCs before validation.
    expect(a.host.scoreOf(mallory.host.peerId)).to.be.below(-80);
    expect(a.host.scoreOf(b.host.peerId)).to.equal(0);
    const { bytes: impersonation } = await signEnvelope(mallory.account, CHAIN_ID, {
      type: MessageType.Pbft, round: 2n, sender: 1n, timestamp: BigInt(Date.now()), nonce: new Uint8Array(16).fill(2), payload: new Uint8Array([2]),
    });
    // Ignored while graylisted, rejected as sender-mismatch once the penalty decays: never delivered.
    await mallory.host.publishRaw("pbft", impersonation);
    await sleep(800);
    expect(inboxA.length).to.equal(beforeA);
    expect(inboxB.length).to.equal(before);
  });
});

describe("p2p network: Registered (not yet trusted) nodes", function () {
  this.timeout(60_000);
  const registry = new MemoryRegistryView();
  let members: Member[] = [];
  let newcomer: Member | undefined;
  let greedy: Member | undefined;
  let joiner: Member | undefined;
  let fallen: Member | undefined;
  const GRACE_MS = 1_000;

  before(async () => {
    members = await startCluster(registry, 3, 1n, { scopeGraceMs: GRACE_MS });
  });
  after(async () => stopAll([...members, ...[newcomer, greedy, joiner, fallen].filter((m): m is Member => m !== undefined)]));

  const denied = (m: Member) => members.some((x) => x.host.admissions.isDenied(m.host.peerId.toString()));

  it("lets a Registered node reach the attestation topic and nothing else", async () => {
    const acc = newAccount();
    register(registry, acc, 20n, NodeStatus.Registered);
    newcomer = await startHost(registry, acc, 20n);
    const attestInbox: ReceivedMessage[] = [];
    newcomer.host.subscribe("attestation", (m) => attestInbox.push(m));
    const trustedAttest = members.map(() => [] as ReceivedMessage[]);
    const trustedPbft = members.map(() => [] as ReceivedMessage[]);
    const rejected: RejectedMessage[] = [];
    members.forEach((m, i) => {
      m.host.subscribe("attestation", (x) => trustedAttest[i]!.push(x));
      m.host.subscribe("pbft", (x) => trustedPbft[i]!.push(x));
      m.host.onRejected((r) => rejected.push(r));
    });
    for (const m of members) await newcomer.host.dial(m.host.multiaddrs[0]!);
    await waitFor(() => members.every((m) => m.host.admissions.get(newcomer!.host.peerId.toString())?.scope === "attestation"), 5_000, "newcomer admitted with attestation scope");
    await waitFor(() => members.every((m) => m.host.subscribers("attestation").includes(newcomer!.host.peerId.toString())), 5_000, "newcomer subscribed");
    await sleep(500);

    await newcomer.host.publish({ type: MessageType.AttestRequest, round: 1n, payload: new Uint8Array([7]) });
    await waitFor(() => trustedAttest.every((box) => box.length === 1), 5_000, "attestation request reaches trusted nodes");
    await members[0]!.host.publish({ type: MessageType.AttestResponse, round: 1n, payload: new Uint8Array([8]) });
    await waitFor(() => attestInbox.length === 1, 5_000, "attestation response reaches the newcomer");

    await newcomer.host.publish({ type: MessageType.Pbft, round: 1n, payload: new Uint8Array([9]) });
    await waitFor(() => rejected.some((r) => r.reason === "not-admitted" || r.reason === "source-scope"), 5_000, "pbft from newcomer rejected");
    await sleep(300);
    expect(trustedPbft.every((box) => box.length === 0)).to.equal(true);
    expect(members.every((m) => connectedTo(m, newcomer!))).to.equal(true);
  });

  it("evicts a Registered node that subscribes beyond the attestation topic", async () => {
    const acc = newAccount();
    register(registry, acc, 21n, NodeStatus.Registered);
    greedy = await startHost(registry, acc, 21n);
    greedy.host.subscribe("pbft", () => undefined);
    await greedy.host.dial(members[0]!.host.multiaddrs[0]!);
    await waitFor(() => members[0]!.host.admissions.isDenied(greedy!.host.peerId.toString()), 5_000, "greedy evicted");
    await waitFor(() => !connectedTo(members[0]!, greedy!), 5_000, "greedy disconnected");
    expect(members[0]!.host.subscribers("pbft")).to.not.include(greedy.host.peerId.toString());
  });

  it("a node that joins only its own scope's topics stays connected, and joins consensus once Trusted", async () => {
    // The devnet failure this guards against: a Registered node (bootstrap over) that joined
    // every topic was evicted by each peer that admitted it afresh, so it was never attested.
    const acc = newAccount();
    register(registry, acc, 22n, NodeStatus.Registered);
    joiner = await startHost(registry, acc, 22n);
    joiner.host.setOwnScope("attestation");
    const pbftInbox: ReceivedMessage[] = [];
    joiner.host.subscribe("attestation", () => undefined);
    joiner.host.subscribe("pbft", (m) => pbftInbox.push(m));
    expect(joiner.host.joinedTopics()).to.deep.equal(["attestation"]);
    for (const m of members) await joiner.host.dial(m.host.multiaddrs[0]!);
    const peer = joiner.host.peerId.toString();
    await waitFor(() => members.every((m) => m.host.admissions.get(peer)?.scope === "attestation"), 5_000, "joiner admitted with attestation scope");
    await sleep(GRACE_MS + 500);
    expect(denied(joiner), "evicted while on its own scope").to.equal(false);
    expect(members.every((m) => connectedTo(m, joiner!))).to.equal(true);
    expect(members.every((m) => !m.host.subscribers("pbft").includes(peer))).to.equal(true);

    registry.update(acc.address, { status: NodeStatus.Trusted });
    joiner.host.setOwnScope("full");
    expect(joiner.host.joinedTopics().sort()).to.deep.equal(["attestation", "pbft"]);
    await waitFor(() => members.every((m) => m.host.subscribers("pbft").includes(peer)), 5_000, "joiner on the pbft topic");
    await sleep(GRACE_MS + 500);
    expect(denied(joiner), "evicted after its promotion").to.equal(false);
    await members[0]!.host.publish({ type: MessageType.Pbft, round: 5n, payload: new Uint8Array([5]) });
    await waitFor(() => pbftInbox.length === 1, 5_000, "pbft traffic reaches the promoted node");
  });

  it("does not evict a peer whose subscription arrives before its peers see its new standing", async () => {
    // The node learned its promotion first and joined the consensus topic; its peers still
    // hold it Registered for a moment. Within the grace they catch up, and nothing happens.
    const acc = newAccount();
    register(registry, acc, 23n, NodeStatus.Registered);
    const early = await startHost(registry, acc, 23n);
    fallen = early;
    early.host.subscribe("attestation", () => undefined);
    early.host.subscribe("pbft", () => undefined);
    for (const m of members) await early.host.dial(m.host.multiaddrs[0]!);
    const peer = early.host.peerId.toString();
    await waitFor(() => members.every((m) => m.host.admissions.get(peer)?.scope === "attestation"), 5_000, "admitted with attestation scope");
    await waitFor(() => members.every((m) => m.host.subscribers("pbft").includes(peer)), 5_000, "its pbft subscription seen");
    registry.update(acc.address, { status: NodeStatus.Trusted });
    await sleep(GRACE_MS + 500);
    expect(denied(early)).to.equal(false);
    expect(members.every((m) => connectedTo(m, early))).to.equal(true);

    // Its status falls: it leaves the topic it lost within the grace and stays connected, so
    // it can be attested back.
    registry.update(acc.address, { status: NodeStatus.Untrusted });
    await waitFor(() => members.every((m) => m.host.admissions.get(peer)?.scope === "attestation"), 5_000, "re-scoped");
    early.host.setOwnScope("attestation");
    await sleep(GRACE_MS + 500);
    expect(denied(early)).to.equal(false);
    expect(members.every((m) => connectedTo(m, early))).to.equal(true);
  });

  it("widens a node's scope live when the registry marks it Trusted", async () => {
    const peer = newcomer!.host.peerId.toString();
    registry.update(newcomer!.account.address, { status: NodeStatus.Trusted });
    await waitFor(() => members.every((m) => m.host.admissions.get(peer)?.scope === "full"), 5_000, "scope widened");
  });
});
