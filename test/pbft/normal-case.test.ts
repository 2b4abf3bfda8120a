import { expect } from "chai";
import { recoverTypedDataAddress } from "viem";
import { trustBoardDomain, voteTypes } from "../../offchain/chain/eip712.js";
import { batchDigest, signMessage } from "../../offchain/core/pbft/codec.js";
import { ReplicaMode, SlotPhase, type CommitMsg, type PrePrepareMsg, type PrepareMsg } from "../../offchain/core/pbft/types.js";
import { Cluster, vote } from "./harness.js";

describe("pbft normal case", () => {
  it("pre-prepare, prepare and commit decide one batch at every replica with a TrustBoard certificate", async () => {
    const c = new Cluster(4, {}, "secp256k1");
    await c.request(vote(1), [0]);
    const pp = c.outputs[0]!.find((o) => o.type === "broadcast" && o.message.type === "pre-prepare");
    expect(pp, "primary broadcasts a pre-prepare at once without batching").to.not.equal(undefined);
    await c.run();
    for (let i = 0; i < 4; i++) {
      const d = c.decisions[i]!.get(1)!;
      expect(d.batch).to.deep.equal([vote(1)]);
      expect(d.digest).to.equal(batchDigest([vote(1)]));
      expect(c.replicas[i]!.status()).to.include({ lastExecuted: 1, view: 0, mode: ReplicaMode.Normal });
    }
    const cert = c.decisions[2]!.get(1)!.certificates[0]!;
    expect(cert.signers.length).to.be.gte(3);
    const sorted = [...cert.signers].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    expect(cert.signers).to.deep.equal(sorted);
    const domain = trustBoardDomain(31337, "0x00000000000000000000000000000000000000b0");
    for (let k = 0; k < cert.signers.length; k++) {
      const who = await recoverTypedDataAddress({ domain, types: voteTypes, primaryType: "Vote", message: cert.vote, signature: cert.signatures[k]! });
      expect(who).to.equal(cert.signers[k]);
    }
  });

  it("backups prepare only after the pre-prepare, and commit only once prepared (2f prepares)", async () => {
    const c = new Cluster(4);
    // Hold back every prepare so nobody gets prepared.
    c.filter = (_f, _t, m) => m.type !== "prepare";
    await c.request(vote(1), [0]);
    await c.run();
    for (let i = 1; i < 4; i++) {
      expect(c.outputs[i]!.some((o) => o.type === "broadcast" && o.message.type === "prepare")).to.equal(true);
      expect(c.outputs[i]!.some((o) => o.type === "broadcast" && o.message.type === "commit")).to.equal(false);
      const slot = c.replicas[i]!.s.slots.get("0:1")!;
      expect(slot.phase).to.equal(SlotPhase.PrePrepared);
    }
    expect(c.decisions.every((d) => d.size === 0)).to.equal(true);
  });

  it("rejects a message whose authenticator does not verify (forged sender)", async () => {
    const c = new Cluster(4);
    await c.request(vote(1), [0]);
    const ppOut = c.outputs[0]!.find((o) => o.type === "broadcast" && o.message.type === "pre-prepare")!;
    const pp = ppOut.type === "broadcast" && ppOut.message.type === "pre-prepare" ? ppOut.message : null;
    // Replica 3 forges a prepare in replica 2's name, authenticated with its own key.
    const forged = await signMessage<PrepareMsg>({ type: "prepare", replica: 2, view: 0, seq: 1, digest: pp!.digest }, (b) => c.keys.auth(3).sign(b));
    const outs = await c.input(1, { type: "message", message: forged });
    expect(outs).to.deep.include({ type: "reject", from: 2, reason: "auth", messageType: "prepare" });
    const tampered = { ...pp!, batch: [vote(1, 2)] };
    const outs2 = await c.input(1, { type: "message", message: tampered });
    expect(outs2.some((o) => o.type === "reject" && o.reason === "auth")).to.equal(true);
  });

  it("rejects pre-prepares from a non-primary, outside the watermarks, or with a wrong digest", async () => {
    const c = new Cluster(4, { checkpointInterval: 2, watermarkWindow: 4 });
    const auth2 = c.keys.auth(2);
    const fromBackup = await signMessage<PrePrepareMsg>({ type: "pre-prepare", replica: 2, view: 0, seq: 1, digest: batchDigest([vote(1)]), batch: [vote(1)] }, (b) => auth2.sign(b));
    expect(await c.input(1, { type: "message", message: fromBackup })).to.deep.include({ type: "reject", from: 2, reason: "not-primary", messageType: "pre-prepare" });
    const auth0 = c.keys.auth(0);
    const far = await signMessage<PrePrepareMsg>({ type: "pre-prepare", replica: 0, view: 0, seq: 5, digest: batchDigest([vote(1)]), batch: [vote(1)] }, (b) => auth0.sign(b));
    expect(await c.input(1, { type: "message", message: far })).to.deep.include({ type: "reject", from: 0, reason: "out-of-window", messageType: "pre-prepare" });
    const lying = await signMessage<PrePrepareMsg>({ type: "pre-prepare", replica: 0, view: 0, seq: 1, digest: batchDigest([vote(2)]), batch: [vote(1)] }, (b) => auth0.sign(b));
    expect(await c.input(1, { type: "message", message: lying })).to.deep.include({ type: "reject", from: 0, reason: "bad-digest", messageType: "pre-prepare" });
  });

  it("a second, conflicting pre-prepare for the same view and sequence is refused", async () => {
    const c = new Cluster(4);
    const auth0 = c.keys.auth(0);
    const a = await signMessage<PrePrepareMsg>({ type: "pre-prepare", replica: 0, view: 0, seq: 1, digest: batchDigest([vote(1)]), batch: [vote(1)] }, (b) => auth0.sign(b));
    const b = await signMessage<PrePrepareMsg>({ type: "pre-prepare", replica: 0, view: 0, seq: 1, digest: batchDigest([vote(1, 2)]), batch: [vote(1, 2)] }, (x) => auth0.sign(x));
    await c.input(1, { type: "message", message: a });
    const outs = await c.input(1, { type: "message", message: b });
    expect(outs).to.deep.include({ type: "reject", from: 0, reason: "conflicting-pre-prepare", messageType: "pre-prepare" });
    const prepares = c.outputs[1]!.filter((o) => o.type === "broadcast" && o.message.type === "prepare");
    expect(prepares).to.have.length(1);
  });

  it("drops a commit whose Vote signature does not verify (bad endorsement)", async () => {
    const c = new Cluster(4);
    c.filter = (_f, _t, m) => m.type !== "commit";
    await c.request(vote(1), [0]);
    await c.run();
    const auth3 = c.keys.auth(3);
    const slot = c.replicas[1]!.s.slots.get("0:1")!;
    const bad = await signMessage<CommitMsg>(
      { type: "commit", replica: 3, view: 0, seq: 1, digest: slot.prePrepare!.digest, endorsements: [{ signature: "0xdead", vrfOutput: `0x${"00".repeat(32)}` }] },
      (x) => auth3.sign(x),
    );
    const outs = await c.input(1, { type: "message", message: bad });
    expect(outs).to.deep.include({ type: "reject", from: 3, reason: "bad-endorsement", messageType: "commit" });
  });

  it("replayed and duplicated messages change nothing", async () => {
    const c = new Cluster(4);
    const seen: typeof c.queue = [];
    const orig = c.filter;
    c.filter = (f, t, m) => {
      seen.push({ from: f, to: t, message: m });
      return orig(f, t, m);
    };
    await c.request(vote(1), [0]);
    await c.run();
    const before = c.decisions.map((d) => d.size);
    c.queue.push(...seen, ...seen);
    await c.run();
    expect(c.decisions.map((d) => d.size)).to.deep.equal(before);
    expect(c.signed.every((m) => [...m.values()].every((s) => s.size === 1))).to.equal(true);
  });

  it("endorsementCheck at-certificate: a bad Vote signature still orders, but never enters a certificate", async () => {
    const c = new Cluster(4, { endorsementCheck: "at-certificate" });
    // Replica 3 endorses with garbage; everyone else honestly.
    c.replicas[3] = new (c.replicas[3]!.constructor as typeof import("../../offchain/core/pbft/replica.js").Replica)({
      id: 3,
      members: c.keys.members,
      auth: c.keys.auth(3),
      voteSigner: { signVote: () => "0xbad0" },
      voteVerifier: c.keys.verifier,
      endorsementCheck: "at-certificate",
      batchTimeoutMs: 0,
    });
    for (let r = 1; r <= 3; r++) await c.request(vote(r), [0]);
    await c.run();
    for (let i = 0; i < 4; i++) expect(c.decisions[i]!.size).to.be.greaterThan(0);
    let built = 0;
    for (let i = 0; i < 3; i++) {
      const late = c.outputs[i]!.flatMap((o) => (o.type === "certificate" ? [o.certificate] : []));
      for (const d of [...c.decisions[i]!.values(), { certificates: late }]) {
        for (const cert of d.certificates) {
          if (!cert) continue;
          built++;
          expect(cert.signers).to.not.include(c.keys.members[3]);
          for (let k = 0; k < cert.signers.length; k++) expect(await c.keys.verifier.verifyVote(cert.vote, cert.signatures[k]!, cert.signers[k]!)).to.equal(true);
        }
      }
    }
    // 3 proposals, every one certified at replicas 0..2 (in the decision or completed later)
    expect(built).to.equal(9);
  });
});
