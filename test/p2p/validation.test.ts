import { expect } from "chai";
import { bytesToHex, type Address } from "viem";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { decodeBinding, encodeBinding, signPeerBinding, verifyBinding } from "../../offchain/p2p/binding.js";
import { decodeEnvelope, ENVELOPE_VERSION, signEnvelope, type EnvelopeFields } from "../../offchain/p2p/envelope.js";
import { admissionScope, MemoryRegistryView, RegistryCache, type NodeRecord } from "../../offchain/p2p/registry-view.js";
import { SeenCache } from "../../offchain/p2p/seen-cache.js";
import { MessageType } from "../../offchain/p2p/topics.js";
import { validateMessage, type ValidationContext } from "../../offchain/p2p/validation.js";
import { PeerAdmissions } from "../../offchain/p2p/admissions.js";
import { newAccount } from "./cluster.js";

const CHAIN = 31337;
const NOW = 1_800_000_000_000;

function fields(over: Partial<EnvelopeFields> = {}): EnvelopeFields {
  return {
    type: MessageType.Pbft,
    round: 7n,
    sender: 1n,
    timestamp: BigInt(NOW),
    nonce: new Uint8Array(16).fill(9),
    payload: new TextEncoder().encode("prepare"),
    ...over,
  };
}

describe("p2p envelope and message validation (pure)", () => {
  const alice = newAccount();
  const mallory = newAccount();
  const records = new Map<Address, NodeRecord>([
    [alice.address, { nodeId: 1n, gateway: alice.address, status: NodeStatus.Trusted, banned: false, slashed: false }],
  ]);
  let seen: SeenCache;
  let ctx: ValidationContext;

  beforeEach(() => {
    seen = new SeenCache(120_000, () => NOW);
    ctx = { chainId: CHAIN, topic: "pbft", now: NOW, windowMs: 60_000, lookup: async (g) => records.get(g) ?? null, seen };
  });

  it("round-trips every field through the canonical encoding", async () => {
    const f = fields({ round: (1n << 200n) + 5n, payload: new Uint8Array(1024).fill(3) });
    const { bytes, digest } = await signEnvelope(alice, CHAIN, f);
    expect(bytes.length).to.equal(70 + 1024 + 65);
    const d = decodeEnvelope(CHAIN, bytes);
    if (!d.ok) throw new Error(d.reason);
    expect(d.envelope.round).to.equal(f.round);
    expect(d.envelope.sender).to.equal(1n);
    expect(d.envelope.timestamp).to.equal(BigInt(NOW));
    expect(bytesToHex(d.envelope.payload)).to.equal(bytesToHex(f.payload));
    expect(d.envelope.digest).to.equal(digest);
  });

  it("accepts a well-formed message signed by the registered sender", async () => {
    const { bytes } = await signEnvelope(alice, CHAIN, fields());
    const r = await validateMessage(bytes, ctx);
    expect(r.ok).to.equal(true);
    if (r.ok) expect(r.signer.nodeId).to.equal(1n);
  });

  it("rejects schema violations: truncation, trailing bytes, unknown version and type", async () => {
    const { bytes } = await signEnvelope(alice, CHAIN, fields());
    const cases: Uint8Array[] = [bytes.slice(0, 50), new Uint8Array([...bytes, 0]), new Uint8Array(0)];
    const badVersion = bytes.slice();
    badVersion[0] = ENVELOPE_VERSION + 1;
    const badType = bytes.slice();
    badType[1] = 99;
    cases.push(badVersion, badType);
    for (const c of cases) {
      const r = await validateMessage(c, ctx);
      expect(r.ok ? "ok" : r.reason).to.equal("schema");
    }
  });

  it("rejects an unsigned (zero signature) and a tampered message as bad signature or mismatch", async () => {
    const { bytes } = await signEnvelope(alice, CHAIN, fields());
    const unsigned = bytes.slice();
    unsigned.fill(0, unsigned.length - 65);
    const r1 = await validateMessage(unsigned, ctx);
    expect(r1.ok ? "ok" : r1.reason).to.equal("bad-signature");
    const tampered = bytes.slice();
    tampered[70] = tampered[70]! ^ 1; // payload byte: signature now recovers some other key
    const r2 = await validateMessage(tampered, ctx);
    expect(r2.ok ? "ok" : r2.reason).to.be.oneOf(["unknown-sender", "bad-signature"]);
  });

  it("rejects a message signed by an unregistered key, or claiming another node", async () => {
    const r1 = await validateMessage((await signEnvelope(mallory, CHAIN, fields())).bytes, ctx);
    expect(r1.ok ? "ok" : r1.reason).to.equal("unknown-sender");
    const r2 = await validateMessage((await signEnvelope(alice, CHAIN, fields({ sender: 2n }))).bytes, ctx);
    expect(r2.ok ? "ok" : r2.reason).to.equal("sender-mismatch");
  });

  it("rejects a replay of an accepted message, but not before it was accepted", async () => {
    const { bytes } = await signEnvelope(alice, CHAIN, fields());
    expect((await validateMessage(bytes, ctx)).ok).to.equal(true);
    const r = await validateMessage(bytes, ctx);
    expect(r.ok ? "ok" : r.reason).to.equal("replay");
  });

  it("rejects stale and future timestamps, wrong topic and other chains", async () => {
    const stale = await validateMessage((await signEnvelope(alice, CHAIN, fields({ timestamp: BigInt(NOW - 61_000) }))).bytes, ctx);
    expect(stale.ok ? "ok" : stale.reason).to.equal("stale");
    const future = await validateMessage((await signEnvelope(alice, CHAIN, fields({ timestamp: BigInt(NOW + 61_000) }))).bytes, ctx);
    expect(future.ok ? "ok" : future.reason).to.equal("future");
    const wrong = await validateMessage((await signEnvelope(alice, CHAIN, fields({ type: MessageType.TaskAnnounce }))).bytes, ctx);
    expect(wrong.ok ? "ok" : wrong.reason).to.equal("wrong-topic");
    // Signed for chain 1: the digest differs, so the recovered key is not alice's.
    const other = await validateMessage((await signEnvelope(alice, 1, fields())).bytes, ctx);
    expect(other.ok ? "ok" : other.reason).to.be.oneOf(["unknown-sender", "bad-signature"]);
  });

  it("limits a Registered (not yet trusted) node to the attestation topic", async () => {
    const reg = new Map(records);
    reg.set(alice.address, { ...records.get(alice.address)!, status: NodeStatus.Registered });
    const c = { ...ctx, lookup: async (g: Address) => reg.get(g) ?? null };
    const pbft = await validateMessage((await signEnvelope(alice, CHAIN, fields())).bytes, c);
    expect(pbft.ok ? "ok" : pbft.reason).to.equal("not-admitted");
    const att = await validateMessage((await signEnvelope(alice, CHAIN, fields({ type: MessageType.AttestRequest }))).bytes, { ...c, topic: "attestation" });
    expect(att.ok).to.equal(true);
  });

  it("maps registry records to admission scopes", () => {
    const base: NodeRecord = { nodeId: 1n, gateway: alice.address, status: NodeStatus.Trusted, banned: false, slashed: false };
    expect(admissionScope(null)).to.equal("none");
    expect(admissionScope(base)).to.equal("full");
    expect(admissionScope({ ...base, status: NodeStatus.Registered })).to.equal("attestation");
    expect(admissionScope({ ...base, banned: true })).to.equal("none");
    expect(admissionScope({ ...base, slashed: true })).to.equal("none");
    expect(admissionScope({ ...base, status: NodeStatus.Withdrawn })).to.equal("none");
  });
});

describe("p2p seen cache, registry cache and admissions (pure)", () => {
  it("forgets ids after the TTL", () => {
    let t = 0;
    const c = new SeenCache(1000, () => t);
    expect(c.add("a")).to.equal(true);
    expect(c.add("a")).to.equal(false);
    t = 1001;
    expect(c.has("a")).to.equal(false);
    expect(c.add("b")).to.equal(true);
    expect(c.size).to.equal(1);
    expect(c.add("a")).to.equal(true);
  });

  it("drops a cached registry record when the registry announces a change", async () => {
    const view = new MemoryRegistryView();
    const a = newAccount();
    view.set({ nodeId: 4n, gateway: a.address, status: NodeStatus.Trusted, banned: false, slashed: false });
    const cache = new RegistryCache(view);
    expect((await cache.get(a.address))?.banned).to.equal(false);
    view.update(a.address, { banned: true });
    expect((await cache.get(a.address))?.banned).to.equal(true);
    cache.close();
  });

  it("scores unbound peers below gossipsub's publish threshold and decays penalties", () => {
    let t = 0;
    const adm = new PeerAdmissions({ now: () => t, penaltyHalfLifeMs: 1000 });
    expect(adm.appScore("p")).to.be.below(-50);
    adm.admit({ peerId: "p", nodeId: 1n, gateway: newAccount().address, scope: "full" });
    expect(adm.appScore("p")).to.equal(0);
    adm.penalise("p");
    adm.penalise("p");
    expect(adm.appScore("p")).to.equal(-20);
    t = 1000;
    expect(adm.appScore("p")).to.be.closeTo(-10, 1e-9);
    adm.deny("p", 500, "test");
    expect(adm.isDenied("p")).to.equal(true);
    t = 1501;
    expect(adm.isDenied("p")).to.equal(false);
  });
});

describe("p2p peer binding (EIP-712)", () => {
  const gw = newAccount();
  const peerId = "12D3KooWExamplePeerIdForBindingTests";
  const now = 1_800_000_000n;

  it("verifies a binding signed by the gateway for this peer and chain", async () => {
    const b = await signPeerBinding(gw, { peerId, nodeId: 9n, chainId: 31337n, expiry: now + 60n });
    const decoded = decodeBinding(encodeBinding(b));
    expect(decoded).to.deep.equal(b);
    await verifyBinding(decoded, { remotePeer: peerId, chainId: 31337n, now });
  });

  it("refuses a binding for another peer, another chain, expired, or with a forged gateway", async () => {
    const b = await signPeerBinding(gw, { peerId, nodeId: 9n, chainId: 31337n, expiry: now + 60n });
    const attempts = [
      verifyBinding(b, { remotePeer: "12D3KooWSomeoneElse", chainId: 31337n, now }),
      verifyBinding(b, { remotePeer: peerId, chainId: 1n, now }),
      verifyBinding(b, { remotePeer: peerId, chainId: 31337n, now: now + 61n }),
      verifyBinding({ ...b, gateway: newAccount().address }, { remotePeer: peerId, chainId: 31337n, now }),
      verifyBinding({ ...b, nodeId: 10n }, { remotePeer: peerId, chainId: 31337n, now }),
    ];
    for (const a of attempts) {
      const err = await a.then(() => null, (e: unknown) => e);
      expect(isTrustmeshError(err, "P2P_BINDING_INVALID"), String(err)).to.equal(true);
    }
  });

  it("refuses malformed binding bytes with a typed error", () => {
    for (const raw of ["", "{}", "[1]", '{"peerId":"x","gateway":"0x12","signature":"0x"}', "\u00ff"]) {
      expect(() => decodeBinding(new TextEncoder().encode(raw))).to.throw().that.satisfies((e: unknown) => isTrustmeshError(e, "P2P_BINDING_MALFORMED"));
    }
  });
});
