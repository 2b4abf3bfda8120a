/**
 * How the PBFT transport bundles what the replica outputs, without sockets: a scripted replica
 * (each input's outputs given by the test) and a host that records what it was asked to
 * publish or send, and when.
 */
import { expect } from "chai";
import { decodeMessages, encodeMessage, type JournalRecord, type PbftMessage, type Replica, type ReplicaInput, type ReplicaOutput, type Vote } from "../../offchain/core/pbft/index.js";
import { MAX_PAYLOAD_BYTES } from "../../offchain/p2p/envelope.js";
import type { MessageHandler, PublishParameters, TrustmeshHost } from "../../offchain/p2p/host.js";
import { PbftTransport, type PbftTransportOptions } from "../../offchain/p2p/pbft-transport.js";

const B32 = `0x${"cd".repeat(32)}` as const;

const seqOf = (m: PbftMessage): number | undefined => ("seq" in m ? m.seq : undefined);

function prepare(replica: number, seq: number): PbftMessage {
  return { type: "prepare", replica, sig: "0x01", view: 0, seq, digest: B32 };
}

interface Wire {
  kind: "publish" | "direct";
  to?: bigint;
  messages: PbftMessage[];
  payloadBytes: number;
}

/** Records publish/sendDirect calls in one event log shared with the journal. */
class RecordingHost {
  readonly wire: Wire[] = [];
  constructor(private readonly log: string[]) {}
  subscribe(_kind: string, _handler: MessageHandler): () => void {
    return () => undefined;
  }
  async publish(p: PublishParameters): Promise<{ digest: `0x${string}`; recipients: number }> {
    this.record("publish", undefined, p);
    return { digest: B32, recipients: 6 };
  }
  async sendDirect(nodeId: bigint, p: PublishParameters): Promise<{ digest: `0x${string}` }> {
    this.record("direct", nodeId, p);
    return { digest: B32 };
  }
  admittedPeers(): [] {
    return [];
  }
  readonly admissions = { penalise: () => undefined };
  private record(kind: Wire["kind"], to: bigint | undefined, p: PublishParameters): void {
    const messages = decodeMessages(p.payload);
    this.log.push(`${kind}:${messages.map((m) => `${m.type}@${seqOf(m) ?? "-"}`).join(",")}`);
    this.wire.push({ kind, ...(to === undefined ? {} : { to }), messages, payloadBytes: p.payload.length });
  }
}

/** Each step returns the outputs the script gives for its input, after an optional delay. */
function scriptedReplica(script: (input: ReplicaInput, n: number) => ReplicaOutput[], stepDelayMs = 0): Replica {
  let n = 0;
  return {
    step: async (input: ReplicaInput) => {
      if (stepDelayMs > 0) await new Promise((r) => setTimeout(r, stepDelayMs));
      return script(input, n++);
    },
    resume: async () => [],
    status: () => ({ id: 0, view: 0, primary: 0, mode: "normal", lastExecuted: 0, stableSeq: 0, lowWatermark: 0, highWatermark: 0, pendingRequests: 0, logSize: 0 }),
  } as unknown as Replica;
}

const committee = [1n, 2n, 3n, 4n, 5n, 6n, 7n];
const vote = (round: bigint): Vote => ({ round, node: 9n, verdict: 1, score: 90, evidenceCid: "0x01", policyCid: "0x02" });

async function settle(ms = 30): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * A transport over `replica` and a recording host: rounds 0..inputs-1 submitted at once (so
 * they queue together), `settleMs` to let them leave, then stopped. Returns the host.
 */
async function drive(
  replica: Replica,
  inputs: number,
  settleMs: number,
  extra: Partial<Pick<PbftTransportOptions, "journal" | "onError">> = {},
  log: string[] = [],
): Promise<RecordingHost> {
  const host = new RecordingHost(log);
  const t = new PbftTransport({ host: host as unknown as TrustmeshHost, replica, committee, ...extra });
  await t.start();
  for (let r = 0n; r < BigInt(inputs); r++) t.submit(vote(r));
  await settle(settleMs);
  await t.stop();
  return host;
}

/** The sequence numbers that left, in the order they left. */
const sentSeqs = (host: RecordingHost): (number | undefined)[] => host.wire.flatMap((w) => w.messages.map(seqOf));
const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe("p2p PBFT transport: bundling of outputs (no sockets)", () => {
  it("one step's broadcasts leave as one envelope and its sends as one per destination", async () => {
    const replica = scriptedReplica(() => [
      { type: "broadcast", message: prepare(0, 1) },
      { type: "send", to: 3, message: prepare(0, 2) },
      { type: "broadcast", message: prepare(0, 3) },
      { type: "send", to: 3, message: prepare(0, 4) },
      { type: "send", to: 5, message: prepare(0, 5) },
    ]);
    const host = await drive(replica, 1, 30);
    const publishes = host.wire.filter((w) => w.kind === "publish");
    expect(publishes.map((w) => w.messages.map(seqOf))).to.deep.equal([[1, 3]]);
    const direct = host.wire.filter((w) => w.kind === "direct");
    expect(direct.map((w) => [w.to, w.messages.map(seqOf)])).to.deep.equal([
      [4n, [2, 4]],
      [6n, [5]],
    ]);
  });

  it("a persist is written before any output that follows it leaves", async () => {
    const log: string[] = [];
    // Step k broadcasts prepare k; step 2 also persists before its broadcast.
    const replica = scriptedReplica((_input, k) =>
      k === 2
        ? [{ type: "persist", record: { type: "commit", view: 0, seq: 2, digest: B32 } as JournalRecord }, { type: "broadcast", message: prepare(0, k) }]
        : [{ type: "broadcast", message: prepare(0, k) }],
    );
    const journal = {
      async append(record: JournalRecord) {
        await new Promise((r) => setTimeout(r, 15)); // a slow disk
        log.push(`persist:${record.type}`);
      },
    };
    await drive(replica, 4, 120, { journal }, log);
    // Everything left, in order; the two broadcasts that follow the persist only after it was written.
    const published = log.filter((e) => e.startsWith("publish:"));
    expect(published.join(",").replace(/publish:/g, "")).to.equal("prepare@0,prepare@1,prepare@2,prepare@3");
    const persistedAt = log.indexOf("persist:commit");
    const firstAfter = log.findIndex((e) => e.includes("prepare@2"));
    expect(persistedAt).to.be.within(0, firstAfter - 1);
  });

  it("a busy queue still flushes after HOLD_MAX_MESSAGES messages, in order and complete", async () => {
    const host = await drive(scriptedReplica((_input, k) => [{ type: "broadcast", message: prepare(0, k) }]), 200, 200);
    const sizes = host.wire.map((w) => w.messages.length);
    expect(sizes.length, JSON.stringify(sizes)).to.be.greaterThan(1);
    for (const s of sizes) expect(s).to.be.at.most(64);
    expect(sizes.length, "messages of inputs queued together share envelopes").to.be.at.most(100);
    expect(sentSeqs(host)).to.deep.equal(upTo(200));
  });

  it("a slow queue holds an output for at most one more step once HOLD_MAX_MS has passed", async () => {
    // 10 ms per step, 10 inputs queued: with no age limit all ten would wait ~100 ms for one flush.
    const host = await drive(scriptedReplica((_input, k) => [{ type: "broadcast", message: prepare(0, k) }], 10), 10, 250);
    const sizes = host.wire.map((w) => w.messages.length);
    for (const n of sizes) expect(n, JSON.stringify(sizes)).to.be.at.most(2);
    expect(sentSeqs(host)).to.deep.equal(upTo(10));
  });

  it("a message the codec refuses is reported and left out; the messages held with it still leave", async () => {
    const errors: unknown[] = [];
    const unencodable = { ...prepare(0, 1), view: 0.5 } as PbftMessage; // not a safe integer
    // Three inputs queued together: the bad message shares its spell's envelope with two good ones.
    const replica = scriptedReplica((_input, k) => [{ type: "broadcast", message: k === 1 ? unencodable : prepare(0, k) }]);
    const host = await drive(replica, 3, 30, { onError: (e) => errors.push(e) });
    expect(errors.map((e) => (e as { code?: string }).code)).to.deep.equal(["PBFT_ENCODE"]);
    expect(sentSeqs(host)).to.deep.equal([0, 2]);
    expect(host.wire, "the good ones still bundled").to.have.length(1);
  });

  it("splits a spell's broadcasts across envelopes when one would exceed the payload limit", async () => {
    // Commits with many endorsements: ~30 KiB each, so about eight fit under 256 KiB.
    const endorsements = Array.from({ length: 220 }, () => ({ signature: `0x${"ee".repeat(65)}` as const, vrfOutput: B32 }));
    const big = (seq: number): PbftMessage => ({ type: "commit", replica: 0, sig: "0x01", view: 0, seq, digest: B32, endorsements });
    const each = encodeMessage(big(1)).length;
    const host = await drive(scriptedReplica((_input, k) => [{ type: "broadcast", message: big(k) }]), 20, 200);
    expect(each * 20).to.be.greaterThan(MAX_PAYLOAD_BYTES);
    for (const w of host.wire) expect(w.payloadBytes).to.be.at.most(MAX_PAYLOAD_BYTES);
    expect(sentSeqs(host)).to.deep.equal(upTo(20));
  });
});
