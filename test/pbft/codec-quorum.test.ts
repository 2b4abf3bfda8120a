import { expect } from "chai";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import {
  NULL_BATCH_DIGEST,
  batchDigest,
  decodeMessage,
  decodeMessages,
  encodeBundle,
  encodeMessage,
  MAX_BUNDLE_MESSAGES,
  nextStateDigest,
  packMessages,
  signingBytes,
  voteDigest,
} from "../../offchain/core/pbft/codec.js";
import { buildCertificate } from "../../offchain/core/pbft/certificate.js";
import { VoteCounter, faultTolerance, quorumSize } from "../../offchain/core/pbft/quorum.js";
import type { CommitMsg, PbftMessage } from "../../offchain/core/pbft/types.js";
import { vote } from "./harness.js";

const B32 = `0x${"ab".repeat(32)}` as const;

describe("pbft codec", () => {
  const samples: PbftMessage[] = [
    { type: "request", replica: 1, sig: "0x01", vote: { ...vote(1), round: (1n << 255n) + 5n, node: (1n << 64n) - 1n } },
    { type: "pre-prepare", replica: 0, sig: "0x02", view: 3, seq: 9, digest: batchDigest([vote(1), vote(2)]), batch: [vote(1), vote(2)] },
    { type: "prepare", replica: 2, sig: "0x03", view: 3, seq: 9, digest: B32 },
    { type: "commit", replica: 2, sig: "0x04", view: 3, seq: 9, digest: B32, endorsements: [{ signature: "0x1234", vrfOutput: B32 }, null] },
    { type: "checkpoint", replica: 3, sig: "0x05", seq: 16, stateDigest: B32 },
  ];

  it("round-trips every message type through the wire encoding", () => {
    for (const m of samples) expect(decodeMessage(encodeMessage(m))).to.deep.equal(m);
    const vc: PbftMessage = {
      type: "view-change",
      replica: 1,
      sig: "0x06",
      view: 4,
      stableSeq: 16,
      checkpointProof: [samples[4] as never],
      prepared: [{ prePrepare: samples[1] as never, prepares: [samples[2] as never] }],
    };
    const nv: PbftMessage = { type: "new-view", replica: 0, sig: "0x07", view: 4, viewChanges: [vc as never], prePrepares: [samples[1] as never] };
    expect(decodeMessage(encodeMessage(nv))).to.deep.equal(nv);
  });

  it("bundles: several messages in one payload, accepted whole or not at all", () => {
    expect(decodeMessages(encodeBundle(samples))).to.deep.equal(samples);
    expect(decodeMessages(encodeMessage(samples[2]!))).to.deep.equal([samples[2]]);
    const malformed = (text: string): boolean => {
      try {
        decodeMessages(new TextEncoder().encode(text));
        return false;
      } catch (e) {
        return isTrustmeshError(e, "PBFT_MALFORMED");
      }
    };
    expect(malformed("[]"), "empty bundle").to.equal(true);
    const good = JSON.parse(new TextDecoder().decode(encodeMessage(samples[2]!)));
    expect(malformed(JSON.stringify(Array.from({ length: MAX_BUNDLE_MESSAGES + 1 }, () => good))), "too many").to.equal(true);
    expect(malformed(JSON.stringify([good, { ...good, view: -1 }])), "one bad member").to.equal(true);
    expect(() => encodeBundle([])).to.throw(/bundle carries/);
  });

  it("packs messages into as few payloads as the byte and count limits allow, in order", () => {
    const sizes = samples.map((m) => encodeMessage(m).length);
    // Everything fits: one payload, exactly encodeBundle's bytes.
    const one = packMessages(samples, 1 << 20);
    expect(one).to.have.length(1);
    expect(Buffer.from(one[0]!).equals(Buffer.from(encodeBundle(samples)))).to.equal(true);
    // A single message travels in its plain encoding, not as a bundle of one.
    const single = packMessages([samples[2]!], 1 << 20);
    expect(Buffer.from(single[0]!).equals(Buffer.from(encodeMessage(samples[2]!)))).to.equal(true);
    // A limit that holds the first two (brackets and a comma included) but not three.
    const limit = sizes[0]! + sizes[1]! + 3;
    const split = packMessages(samples, limit);
    expect(split.length).to.be.greaterThan(1);
    for (const p of split) expect(p.length, "each payload within the limit").to.be.at.most(Math.max(limit, ...sizes));
    expect(split.flatMap((p) => decodeMessages(p))).to.deep.equal(samples);
    expect(decodeMessages(split[0]!)).to.deep.equal(samples.slice(0, 2));
    // Exactly at the limit still fits; one byte less does not.
    expect(packMessages(samples.slice(0, 2), limit)).to.have.length(1);
    expect(packMessages(samples.slice(0, 2), limit - 1)).to.have.length(2);
    // A message larger than the limit is not dropped: it goes alone.
    const alone = packMessages(samples, 8);
    expect(alone).to.have.length(samples.length);
    expect(alone.map((p) => decodeMessage(p))).to.deep.equal(samples);
    // The count limit: MAX_BUNDLE_MESSAGES + 1 small messages make two payloads.
    const many = Array.from({ length: MAX_BUNDLE_MESSAGES + 1 }, () => samples[2]!);
    const counted = packMessages(many, 1 << 30);
    expect(counted.map((p) => decodeMessages(p).length)).to.deep.equal([MAX_BUNDLE_MESSAGES, 1]);
    expect(packMessages([], 1024)).to.deep.equal([]);
  });

  it("signing bytes do not depend on key order in memory and exclude the authenticator", () => {
    const a = { type: "prepare", replica: 2, sig: "0x03", view: 3, seq: 9, digest: B32 } as const;
    const b = { digest: B32, seq: 9, view: 3, replica: 2, type: "prepare", sig: "0xff" } as const;
    expect(Buffer.from(signingBytes(a)).equals(Buffer.from(signingBytes(b)))).to.equal(true);
    expect(new TextDecoder().decode(signingBytes(a))).to.not.include("sig");
  });

  it("rejects malformed input with PBFT_MALFORMED instead of crashing", () => {
    const bad = [
      "not json",
      JSON.stringify({ type: "prepare", replica: 1, sig: "0x", view: -1, seq: 1, digest: B32 }),
      JSON.stringify({ type: "prepare", replica: 1, sig: "0x", view: 1, seq: 1, digest: "0x12" }),
      JSON.stringify({ type: "prepare", replica: 1, sig: "0x", view: 1, seq: 1, digest: B32, extra: 1 }),
      JSON.stringify({ type: "teleport", replica: 1, sig: "0x" }),
      JSON.stringify({ type: "request", replica: 1, sig: "0x", vote: { ...JSON.parse(new TextDecoder().decode(encodeMessage(samples[0]!))).vote, verdict: 256 } }),
      JSON.stringify({ type: "request", replica: 1, sig: "0x", vote: { ...JSON.parse(new TextDecoder().decode(encodeMessage(samples[0]!))).vote, node: (1n << 64n).toString() } }),
      JSON.stringify({ type: "commit", replica: 1, sig: "0xAB", view: 1, seq: 1, digest: B32, endorsements: [] }),
    ];
    for (const b of bad) {
      let err: unknown;
      try {
        decodeMessage(new TextEncoder().encode(b));
      } catch (e) {
        err = e;
      }
      expect(isTrustmeshError(err, "PBFT_MALFORMED"), b).to.equal(true);
    }
  });

  it("digests: votes are identified by content, batches by order, state is a hash chain", () => {
    expect(voteDigest(vote(1))).to.equal(voteDigest({ ...vote(1) }));
    expect(voteDigest(vote(1))).to.not.equal(voteDigest(vote(1, 2)));
    expect(batchDigest([vote(1), vote(2)])).to.not.equal(batchDigest([vote(2), vote(1)]));
    expect(batchDigest([])).to.equal(NULL_BATCH_DIGEST);
    const s1 = nextStateDigest(B32, 1, NULL_BATCH_DIGEST);
    expect(nextStateDigest(B32, 2, NULL_BATCH_DIGEST)).to.not.equal(s1);
  });
});

describe("pbft vote counting and certificates", () => {
  it("quorum sizes for n = 3f+1", () => {
    expect([4, 7, 10, 13].map(faultTolerance)).to.deep.equal([1, 2, 3, 4]);
    expect([4, 7, 10, 13].map(quorumSize)).to.deep.equal([3, 5, 7, 9]);
  });

  it("counts each sender once per key", () => {
    const c = new VoteCounter<string>();
    expect(c.add("d", 1, "a")).to.equal(true);
    expect(c.add("d", 1, "again")).to.equal(false);
    c.add("d", 2, "b");
    c.add("e", 1, "x");
    expect(c.count("d")).to.equal(2);
    expect(c.items("d")).to.deep.equal(["a", "b"]);
    expect(c.has("e", 1)).to.equal(true);
    c.delete("d");
    expect(c.count("d")).to.equal(0);
  });

  it("builds a certificate only from 2f+1 endorsements, signers ascending, nulls skipped", () => {
    const members = ["0x00000000000000000000000000000000000000c3", "0x00000000000000000000000000000000000000a1", "0x00000000000000000000000000000000000000b2", "0x00000000000000000000000000000000000000d4"] as const;
    const commit = (replica: number, e: CommitMsg["endorsements"][number]): CommitMsg => ({ type: "commit", replica, sig: "0x", view: 0, seq: 1, digest: B32, endorsements: [e] });
    const e = (k: number) => ({ signature: `0x0${k}` as const, vrfOutput: B32 });
    expect(buildCertificate(vote(1), 0, [commit(0, e(0)), commit(1, e(1)), commit(2, null)], [...members])).to.equal(null);
    const cert = buildCertificate(vote(1), 0, [commit(0, e(0)), commit(1, e(1)), commit(2, e(2))], [...members])!;
    expect(cert.signers).to.deep.equal([members[1], members[2], members[0]]);
    expect(cert.signatures).to.deep.equal(["0x01", "0x02", "0x00"]);
  });
});
