import { expect } from "chai";
import { recoverTypedDataAddress } from "viem";
import { voteTypes, type Vote } from "../../offchain/chain/eip712.js";
import { Verdict } from "../../offchain/core/protocol.js";
import { MemoryRegistryView } from "../../offchain/p2p/registry-view.js";
import { decodeMessages, encodeMessage, type RequestMsg } from "../../offchain/core/pbft/index.js";
import { signMessage } from "../../offchain/core/pbft/codec.js";
import { MessageType } from "../../offchain/p2p/topics.js";
import { PBFT_DOMAIN, pbftAuthenticatorOf, startCluster, startPbftCommittee, stopAll, waitFor, waitForMesh, type Member, type PbftCommittee } from "./cluster.js";

function vote(round: bigint): Vote {
  return { round, node: 77n, verdict: Verdict.Trusted, score: 93, evidenceCid: "0x0155", policyCid: "0x0170" };
}

describe("p2p PBFT transport: 7 replicas over libp2p on loopback", function () {
  this.timeout(180_000);
  const registry = new MemoryRegistryView();
  let members: Member[] = [];
  let committee: PbftCommittee;

  before(async () => {
    members = await startCluster(registry, 7);
    committee = await startPbftCommittee(members, { batchTimeoutMs: 2, requestTimeoutMs: 3_000 });
    await waitForMesh(members, "pbft");
  });
  after(async () => {
    await committee?.stop();
    await stopAll(members);
  });

  it("decides a proposal on every replica with a 2f+1 EIP-712 certificate", async () => {
    const v = vote(1n);
    // The proposal reaches every replica as a client request, as each verifier would propose it.
    committee.transports.forEach((t) => t.submit(v));
    await waitFor(() => committee.decisions.every((d) => d.length >= 1), 20_000, "all 7 decide");
    const first = committee.decisions[0]![0]!;
    for (const d of committee.decisions) expect(d[0]!.digest).to.equal(first.digest);
    const cert = committee.decisions.map((d) => d[0]!.certificates[0]).find((c) => c != null);
    expect(cert, "some replica assembled a certificate").to.not.equal(undefined);
    expect(cert!.signatures.length).to.be.at.least(5);
    const addresses = new Set(members.map((m) => m.account.address));
    for (const [i, sig] of cert!.signatures.entries()) {
      const signer = await recoverTypedDataAddress({ domain: PBFT_DOMAIN, types: voteTypes, primaryType: "Vote", message: cert!.vote, signature: sig });
      expect(signer).to.equal(cert!.signers[i]);
      expect(addresses.has(signer)).to.equal(true);
    }
  });

  it("answers a request for a decided vote with the decided log in one bundle per helper", async () => {
    // Replica 6 asks again for vote(1), as a laggard's retransmission reads: the others have
    // executed it and each sends what it needs to execute (pre-prepare, prepares, commits).
    const laggard = 6;
    const received: number[] = [];
    const off = members[laggard]!.host.subscribe("pbft", (m) => {
      if (m.via === "direct") received.push(decodeMessages(m.envelope.payload).length);
    });
    try {
      const auth = pbftAuthenticatorOf(members, laggard);
      const request = await signMessage<RequestMsg>({ type: "request", replica: laggard, vote: vote(1n) }, (b) => auth.sign(b));
      await members[laggard]!.host.publish({ type: MessageType.Pbft, round: 0n, payload: encodeMessage(request) });
      await waitFor(() => received.length >= 6, 10_000, "help from the six others");
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      off();
    }
    // One envelope per helper (one message each before bundling: 10+ per helper).
    expect(received.length, JSON.stringify(received)).to.equal(6);
    for (const n of received) expect(n, "messages in one helper's bundle").to.be.at.least(1 + 4 + 4);
  });

  it("decides a burst of proposals, each round exactly once", async () => {
    const start = committee.decisions[0]!.length;
    // A burst to the view-0 primary (the PBFT client path); it batches what arrives together.
    const primary = committee.transports[0]!.status().primary;
    for (let r = 2n; r < 7n; r++) committee.transports[primary]!.submit(vote(r));
    await waitFor(() => committee.decisions.every((d) => d.flatMap((x) => x.batch).length >= 6), 90_000, "five more rounds decided").catch((e: Error) => {
      throw new Error(`${e.message}; replica status: ${JSON.stringify(committee.transports.map((t) => t.status()))}`);
    });
    const rounds = committee.decisions[3]!.slice(start).flatMap((d) => d.batch.map((v) => v.round));
    expect(new Set(rounds).size).to.equal(rounds.length);
    expect(rounds).to.include.members([2n, 3n, 4n, 5n, 6n]);
  });
});
