/**
 * Consensus integration (issue 4, "Integration"): seven gateways on loopback, each with
 * its swtpm-backed HPC, a real hardhat chain with the contracts deployed, libp2p gossipsub
 * with proof-of-trust gating, real ECVRF proofs and EIP-712 signatures. The test drives
 * each attestation round through the gateways' own VerifierService.runRound (what their
 * VRF-drawn schedule fires) and asserts on chain state, events and transaction inputs.
 *
 * One network for all scenarios (1.5-2 min on 2 loaded cores, setup included): two nodes
 * are attested first so that a later epoch draws real committees (threshold 2^256/2, not
 * 2^256-1); the equivocator banned in scenario 2 is the banned peer of scenario 3.
 *
 * Debugging: CONSENSUS_TRACE=1 prints the timeline and each round's outcomes per gateway;
 * CONSENSUS_LOG=info (or debug) turns on the gateways' JSON logs.
 */
import "../../offchain/core/polyfills.js";
import { expect } from "chai";
import { decodeFunctionData, getAddress, recoverTypedDataAddress, type Address, type Hex } from "viem";
import { NodeStatus, Role, Verdict, decodeRoundId, sortitionAlpha } from "../../offchain/core/protocol.js";
import { committeeThreshold } from "../../offchain/core/sortition.js";
import { bytesToHex, prove } from "../../offchain/core/vrf/index.js";
import { disputesAbi, trustBoardAbi } from "../../offchain/chain/artifacts.js";
import { trustBoardDomain, voteTypes } from "../../offchain/chain/eip712.js";
import { hexToCid } from "../../ipfs/adapter/index.js";
import type { Devnet, DevnetNode } from "../../offchain/devnet/devnet.js";
import type { EpochInfo } from "../../offchain/relayer/chain-context.js";
import { aboveThresholdClaim, genuineClaim, invalidProofClaim, sendClaim } from "./claims.js";
import {
  ChainFacts,
  describeOutcomes,
  DisputeKind,
  driveRound,
  epochInfo,
  eventually,
  EXPECTED_COMMITTEE,
  Fraud,
  lowerCommitteeSize,
  openNextEpoch,
  MAX_UINT256,
  nodeByGateway,
  planRound,
  QUORUM,
  startConsensusNet,
  type ConsensusNet,
  type RoundPlan,
} from "./harness.js";
import { admits, connected, Inbox, OpenCounter, startOutsider, tryToSpeak } from "./outsider.js";
import { decodeRoundPayload } from "../../offchain/relayer/round-messages.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const T0 = Date.now();
const trace = (s: string): void => {
  if (process.env.CONSENSUS_TRACE) console.log(`[${((Date.now() - T0) / 1000).toFixed(1)} s] ${s}`);
};
type Accept = (selected: DevnetNode[], unselected: DevnetNode[]) => boolean;

/**
 * Plans (preferring `best`, else `good`) and drives a round until its verdict is on chain;
 * a round that ends without one (an overloaded machine can make a member miss its
 * window) is replaced by another round, as the gateways' own retries would.
 */
async function attest(net: Devnet, facts: ChainFacts, target: DevnetNode, epoch: () => Promise<EpochInfo>, best: Accept, good: Accept = best, attempts = 3) {
  let last = "";
  for (let attempt = 0; attempt < attempts; attempt++) {
    const e = await epoch();
    const from = BigInt(attempt) * 10_000n;
    let plan: RoundPlan;
    try {
      plan = planRound(net, target, e, best, from);
    } catch {
      plan = planRound(net, target, e, good, from);
    }
    const outcomes = await driveRound(net, plan);
    trace(`node ${target.nodeId} round: ${describeOutcomes(outcomes)}`);
    const log = await eventually(`verdict of round ${plan.round}`, () => facts.verdictOf(plan.round), 5_000).catch(() => undefined);
    if (log) return { plan, outcomes, log };
    last = describeOutcomes(outcomes);
  }
  throw new Error(`no verdict for node ${target.nodeId} after ${attempts} rounds; last outcomes: ${last}`);
}

describe("consensus: 7 gateways on loopback, disputes on chain", function () {
  // Setup 40-60 s, scenarios 40-60 s on 2 loaded cores; every wait has its own, shorter bound.
  this.timeout(240_000);
  let cn: ConsensusNet;
  let net: Devnet;
  let facts: ChainFacts;
  let byzantine: DevnetNode;
  /** An epoch opened with two nodes Trusted and committee size 1: threshold 2^256/2. */
  let sorted: EpochInfo;

  before(async function () {
    cn = await startConsensusNet(process.env.CONSENSUS_LOG ? { logLevel: process.env.CONSENSUS_LOG } : {});
    trace("devnet up");
    net = cn.net;
    facts = new ChainFacts(net);
    byzantine = net.nodes[2] as DevnetNode;
    // While nobody is Trusted every threshold is 2^256-1 and everyone is selected: two full
    // committees attest node 1 and the future equivocator (a Trusted verifier, so that it
    // may sign whether or not the network is still bootstrapping), while governance lowers
    // the committee size.
    const current = async () => epochInfo(net, await facts.currentEpoch());
    const all: Accept = (sel) => sel.length === 6;
    await Promise.all([
      lowerCommitteeSize(net),
      attest(net, facts, net.nodes[0] as DevnetNode, current, all, (sel) => sel.length >= QUORUM),
      attest(net, facts, byzantine, current, all, (sel) => sel.length >= QUORUM),
    ]);
    trace("two nodes attested, committee size lowered");
    sorted = await epochInfo(net, await openNextEpoch(net, facts));
    trace(`sorted epoch ${sorted.epoch} open`);
  });

  after(async function () {
    await cn?.stop();
  });

  it("(1) records a verdict from a certificate of >= quorum committee members, each VRF-selected under the threshold", async function () {
    const target = net.nodes[3] as DevnetNode;
    // A committee of 5 with one candidate left out by sortition (else any >= quorum).
    const { plan, outcomes, log } = await attest(
      net,
      facts,
      target,
      async () => sorted,
      (sel, unsel) => sel.length === QUORUM + 1 && unsel.length >= 1,
      (sel, unsel) => sel.length >= QUORUM && unsel.length >= 1,
    );
    const { round, node, signers, vrfOutputs } = log.args;
    const { epoch } = decodeRoundId(round);
    expect(node).to.equal(target.nodeId);
    expect(epoch).to.equal(sorted.epoch);
    expect(log.args.verdict).to.equal(Verdict.Trusted); // every HPC boots the approved image

    // The epoch's threshold, fixed at opening from the governance-set committee size.
    const threshold = await facts.epochThreshold(epoch);
    const opened = await facts.epochOpened(epoch);
    expect(opened, `EpochOpened(${epoch})`).to.not.equal(undefined);
    expect(opened!.args.eligibleCount >= 2n).to.equal(true);
    expect(threshold).to.equal(committeeThreshold(EXPECTED_COMMITTEE, opened!.args.eligibleCount));
    expect(threshold < MAX_UINT256).to.equal(true);

    // The certificate itself, from the submitting transaction: >= quorum EIP-712 vote signatures.
    const tx = await net.publicClient.getTransaction({ hash: log.transactionHash });
    const call = decodeFunctionData({ abi: trustBoardAbi, data: tx.input });
    expect(call.functionName).to.equal("submitCertificate");
    const [vote, signatures, outputs] = call.args as unknown as [
      { round: bigint; node: bigint; verdict: number; score: number; evidenceCid: Hex; policyCid: Hex },
      Hex[],
      Hex[],
    ];
    expect(vote.round).to.equal(round);
    expect(signatures.length).to.be.at.least(await facts.quorum());
    expect(signers.length).to.equal(signatures.length);
    expect([...outputs]).to.deep.equal([...vrfOutputs]);
    const domain = trustBoardDomain(31337, net.deployment.contracts.TrustBoard);
    const recovered: Address[] = [];
    for (const sig of signatures) recovered.push(await recoverTypedDataAddress({ domain, types: voteTypes, primaryType: "Vote", message: vote, signature: sig }));
    expect(recovered.map(getAddress)).to.deep.equal(signers.map(getAddress));
    expect(new Set(recovered.map((a) => a.toLowerCase())).size, "distinct signers").to.equal(recovered.length);
    const submitter = nodeByGateway(net, tx.from)?.nodeId;
    const signerNodes = signers.map((a) => nodeByGateway(net, a)?.nodeId);
    expect(signerNodes, `submitter ${tx.from} (node ${submitter}) sits on the committee`).to.include(submitter);

    // Each signer is a registered gateway other than the target's, on the round's committee,
    // selected by its own VRF: its proof for (seed, round, Verifier), verified ON CHAIN
    // against its registered key, gives exactly the certificate's output, under the threshold.
    const alpha = sortitionAlpha(sorted.seed, round, Role.Verifier);
    const alphaHex = bytesToHex(alpha) as Hex;
    const committee = new Set(plan.selected.map((n) => n.nodeId));
    for (let i = 0; i < signers.length; i++) {
      const signer = signers[i] as Address;
      const nodeId = await facts.nodeOfGateway(signer);
      expect(nodeId, `signer ${signer} registered`).to.not.equal(0n);
      expect(nodeId, "the target does not sign its own verdict").to.not.equal(target.nodeId);
      expect(committee.has(nodeId), `signer node ${nodeId} on the round's committee`).to.equal(true);
      const member = nodeByGateway(net, signer) as DevnetNode;
      const registered = await facts.node(nodeId);
      const onChain = await facts.verifyVrfOnChain(registered.vrfPublicKey, bytesToHex(prove(member.gateway.rt.vrfSecret, alpha)) as Hex, alphaHex);
      expect(onChain.valid, `signer ${signer}'s VRF proof`).to.equal(true);
      expect(onChain.output).to.equal(vrfOutputs[i]);
      expect(BigInt(vrfOutputs[i] as Hex) < threshold, `signer ${signer}'s output under the threshold`).to.equal(true);
    }
    // Those sortition left out stayed out: valid proofs, outputs at or above the threshold.
    for (const out of plan.unselected) {
      expect(outcomes.get(out.nodeId)?.kind).to.equal("not-selected");
      expect(signers.map(getAddress)).to.not.include(getAddress(out.gatewayAccount.address));
      const registered = await facts.node(out.nodeId);
      const onChain = await facts.verifyVrfOnChain(registered.vrfPublicKey, bytesToHex(prove(out.gateway.rt.vrfSecret, alpha)) as Hex, alphaHex);
      expect(onChain.valid).to.equal(true);
      expect(BigInt(onChain.output) >= threshold, `node ${out.nodeId}'s output at or above the threshold`).to.equal(true);
    }

    // The vote names the epoch's scoring policy and pins the evidence it judged.
    expect(vote.policyCid.toLowerCase()).to.equal(net.policyV1.toLowerCase());
    expect(await net.store.has(hexToCid(vote.evidenceCid))).to.equal(true);
  });

  it("(1b) a verifier at its limit of active rounds declines the round and says so; the round is recorded without it", async function () {
    // A node Trusted already (attesting one that is not would end the bootstrap rule that
    // lets Registered nodes sign, and (2) counts on it), and not a target of this epoch yet:
    // planning picks the first matching round, so (1)'s target could be handed (1)'s round,
    // already recorded with the busy node among its signers.
    const target = net.nodes[0] as DevnetNode;
    const busy = net.nodes[6] as DevnetNode;
    const others = (sel: DevnetNode[]) => sel.filter((n) => n !== busy);
    const params = busy.gateway.rt.verifier;
    const inbox = new Inbox(
      net.nodes.filter((n) => n !== busy),
      { nodeId: busy.nodeId },
    );
    params.maxActiveRounds = 0;
    try {
      const { plan, outcomes, log } = await attest(
        net,
        facts,
        target,
        async () => sorted,
        (sel) => sel.includes(busy) && others(sel).length >= QUORUM,
      );
      expect(plan.selected).to.include(busy);
      expect([...outcomes.values()].some((o) => o.kind === "decided"), `the round ran now: ${describeOutcomes(outcomes)}`).to.equal(true);
      expect(outcomes.get(busy.nodeId), describeOutcomes(outcomes)).to.deep.equal({ kind: "abstained", reason: "busy" });
      expect(log.args.signers.map(getAddress)).to.not.include(getAddress(busy.gatewayAccount.address));
      const declines = inbox.got.filter(({ msg }) => msg.envelope.round === plan.round && decodeRoundPayload(msg.envelope.payload).kind === "decline");
      expect(declines.length, "the decline reached the other gateways").to.be.at.least(1);
      // It did not reveal: a reveal would have put it on the committee.
      expect(inbox.got.some(({ msg }) => msg.envelope.round === plan.round && decodeRoundPayload(msg.envelope.payload).kind === "reveal")).to.equal(false);
    } finally {
      delete params.maxActiveRounds;
      inbox.close();
    }
  });

  it("(2) an equivocating verifier is disputed, slashed and banned; the disputer is rewarded", async function () {
    const target = net.nodes[4] as DevnetNode;
    const from = await net.publicClient.getBlockNumber();
    const stakeBefore = (await facts.node(byzantine.nodeId)).stake;
    const { slashBps, rewardBps } = await facts.disputeParams();
    // A committee of exactly the on-chain quorum with the Byzantine verifier in it: every
    // certificate then carries its honest vote signature, and after the decision it signs
    // and gossips a second vote with the verdict flipped.
    const withByzantine: Accept = (sel) => sel.includes(byzantine) && sel.length === QUORUM;
    const findDispute = async () => (await facts.disputes(from)).find((l) => l.args.node === byzantine.nodeId && l.args.kind === DisputeKind.Equivocation);
    byzantine.gateway.verifier.byzantine = "equivocate";
    let dispute: Awaited<ReturnType<typeof findDispute>>;
    try {
      let last = "";
      // A round that ends without a verdict (a member missed its window) is replaced.
      for (let attempt = 0; attempt < 2; attempt++) {
        const plan = planRound(net, target, await epochInfo(net, await facts.currentEpoch()), withByzantine, BigInt(attempt) * 10_000n);
        const outcomes = await driveRound(net, plan);
        last = describeOutcomes(outcomes);
        trace(`byzantine round: ${last}`);
        dispute = await eventually("an equivocation dispute against the Byzantine verifier", findDispute, 20_000).catch(() => undefined);
        if (dispute || (await facts.verdictOf(plan.round))) break;
      }
      if (!dispute) throw new Error(`no equivocation dispute; last round's outcomes: ${last}`);
    } finally {
      byzantine.gateway.verifier.byzantine = undefined;
    }
    const d = dispute.args;
    expect(getAddress(d.signer)).to.equal(getAddress(byzantine.gatewayAccount.address));
    expect(d.fraud).to.equal(Fraud.Equivocation);

    // The proof on chain: two different votes for one round, both signed by the Byzantine key.
    const tx = await net.publicClient.getTransaction({ hash: dispute.transactionHash });
    const call = decodeFunctionData({ abi: disputesAbi, data: tx.input });
    expect(call.functionName).to.equal("disputeEquivocation");
    const [a, sigA, b, sigB] = call.args as unknown as [{ round: bigint; verdict: number; score: number }, Hex, { round: bigint; verdict: number; score: number }, Hex];
    expect(a.round).to.equal(d.round);
    expect(b.round).to.equal(d.round);
    expect(a.verdict, "the two votes conflict").to.not.equal(b.verdict);
    const domain = trustBoardDomain(31337, net.deployment.contracts.TrustBoard);
    for (const [v, sig] of [[a, sigA], [b, sigB]] as const) {
      const signer = await recoverTypedDataAddress({ domain, types: voteTypes, primaryType: "Vote", message: v as never, signature: sig });
      expect(getAddress(signer)).to.equal(getAddress(byzantine.gatewayAccount.address));
    }
    expect(await facts.isPunished(d.signer, d.round, DisputeKind.Equivocation)).to.equal(true);

    // Slashed by the governance parameters, banned, reputation zeroed.
    expect(d.slashed).to.equal((stakeBefore * slashBps) / 10_000n);
    expect(d.slashed > 0n).to.equal(true);
    const after = await facts.node(byzantine.nodeId);
    expect(after.stake).to.equal(stakeBefore - d.slashed);
    expect(Number(after.status)).to.equal(NodeStatus.Banned);
    expect(await facts.reputation(byzantine.nodeId)).to.equal(0n);

    // The disputer is an honest gateway and is paid its share in the same transaction.
    const disputer = nodeByGateway(net, d.disputer);
    expect(disputer, "disputer is a devnet gateway").to.not.equal(undefined);
    expect(disputer!.nodeId).to.not.equal(byzantine.nodeId);
    expect(d.reward).to.equal((d.slashed * rewardBps) / 10_000n);
    expect(d.reward > 0n).to.equal(true);
    const block = dispute.blockNumber;
    const gained = (await facts.tokenBalance(d.disputer, block)) - (await facts.tokenBalance(d.disputer, block - 1n));
    expect(gained).to.equal(d.reward);
    const slash = (await facts.slashes(block)).find((l) => l.transactionHash === dispute.transactionHash);
    expect(slash?.args.nodeId).to.equal(byzantine.nodeId);
    expect(getAddress(slash!.args.beneficiary)).to.equal(getAddress(d.disputer));
  });

  it("(3) refuses a peer with an unregistered key, and the banned equivocator's bound peer", async function () {
    const gateways = net.nodes.filter((n) => n !== byzantine);
    const target = gateways[0] as DevnetNode;

    // (a) A fresh libp2p identity bound to a gateway key that no node registered.
    const outsider = await startOutsider(net, 99n);
    const outsiderPeer = outsider.host.peerId.toString();
    const inbox = new Inbox(net.nodes, { nodeId: 99n, peerId: outsiderPeer });
    try {
      await outsider.host.dial(target.gateway.peerAddresses[0] as string).catch(() => undefined);
      await tryToSpeak(outsider.host, target, 1n);
      await eventually("the outsider denied at the gate", async () => target.gateway.p2p.admissions.isDenied(outsiderPeer), 10_000, 50);
      expect(target.gateway.p2p.admissions.denialReason(outsiderPeer)).to.match(/not registered/);
      await eventually("the outsider's connection closed", async () => !connected(target.gateway.p2p, outsiderPeer) && !connected(outsider.host, target.gateway.p2p.peerId.toString()), 10_000, 50);
      // A second attempt is refused by the connection gater before any connection opens.
      const opens = new OpenCounter([target], outsiderPeer);
      try {
        await outsider.host.dial(target.gateway.peerAddresses[0] as string).catch(() => undefined);
        await tryToSpeak(outsider.host, target, 2n);
        await sleep(1_500);
        expect(opens.count, "connections opened for the outsider on a redial").to.equal(0);
      } finally {
        opens.close();
      }
      for (const g of gateways) {
        expect(admits(g, outsiderPeer), `${g.gateway.rt.name} admitted the outsider`).to.equal(false);
        expect(connected(g.gateway.p2p, outsiderPeer)).to.equal(false);
      }
      expect(inbox.got, "messages delivered from the outsider").to.have.length(0);
    } finally {
      inbox.close();
      await outsider.host.stop();
    }

    // (b) The equivocator: its PeerId is bound to a registered gateway, but the node is Banned.
    expect(Number((await facts.node(byzantine.nodeId)).status)).to.equal(NodeStatus.Banned);
    const banned = byzantine.gateway.p2p;
    const bannedPeer = banned.peerId.toString();
    const bannedInbox = new Inbox(gateways, { nodeId: byzantine.nodeId, peerId: bannedPeer });
    try {
      await eventually(
        "every gateway disconnected from the banned node",
        async () => gateways.every((g) => !admits(g, bannedPeer) && !connected(g.gateway.p2p, bannedPeer)),
        15_000,
        100,
      );
      const opens = new OpenCounter(gateways, bannedPeer);
      try {
        for (const g of gateways) await banned.dial(g.gateway.peerAddresses[0] as string).catch(() => undefined);
        await tryToSpeak(banned, target, 3n);
        await sleep(1_500);
        expect(opens.count, "connections opened for the banned node on a redial").to.equal(0);
      } finally {
        opens.close();
      }
      for (const g of gateways) {
        expect(admits(g, bannedPeer), `${g.gateway.rt.name} admitted the banned node`).to.equal(false);
        expect(connected(g.gateway.p2p, bannedPeer)).to.equal(false);
      }
      expect(target.gateway.p2p.admissions.denialReason(bannedPeer)).to.match(/banned|no longer admits/);
      expect(bannedInbox.got, "messages delivered from the banned node").to.have.length(0);
    } finally {
      bannedInbox.close();
    }
  });

  it("(4) a signed VRF claim with an invalid proof, or over the threshold, is disputed by the target's gateway and slashed", async function () {
    // Sender and target: connected gateways. The claims are for rounds of the sorted epoch
    // (threshold 2^256/2), still inside the dispute window. All three go to one target: the
    // first dispute bans the sender, and from then on every gateway drops its messages, so a
    // claim still on its way to a second target could be lost to that race (it was, once, in CI).
    const [sender, target] = [net.nodes[0], net.nodes[1]] as [DevnetNode, DevnetNode];
    expect(byzantine).to.not.be.oneOf([sender, target]);
    const from = await net.publicClient.getBlockNumber();
    const e = sorted;
    expect(e.threshold < MAX_UINT256, "sortition threshold of the claims' epoch").to.equal(true);
    const stake0 = (await facts.node(sender.nodeId)).stake;
    const { slashBps, rewardBps } = await facts.disputeParams();
    const ctx = { chainId: 31337, board: net.deployment.contracts.TrustBoard };

    // Control: the sender's genuine claim (selected) is served, not disputed.
    const genuine = genuineClaim(sender, target, e);
    const invalid = invalidProofClaim(sender, target, e);
    const above = aboveThresholdClaim(sender, target, e);
    const inbox = new Inbox([target], { nodeId: sender.nodeId });
    let disputes: Awaited<ReturnType<ChainFacts["disputes"]>>;
    try {
      await Promise.all([sendClaim(sender, genuine, ctx), sendClaim(sender, invalid, ctx), sendClaim(sender, above, ctx)]);
      await eventually("the three claims delivered to the target", async () => inbox.got.length >= 3, 15_000, 50);
      disputes = await eventually(
        "two VRF-fraud disputes against the sender",
        async () => {
          const logs = (await facts.disputes(from)).filter((l) => l.args.node === sender.nodeId && l.args.kind === DisputeKind.VrfFraud);
          return logs.length >= 2 ? logs : undefined;
        },
        30_000,
      ).catch((err: Error) => {
        // Say where the claims stopped: at the target's checks, or at the dispute transaction.
        const m = target.gateway.metrics;
        const seen = (["attestation_requests_received", "attestation_requests_rejected", "vrf_fraud_detected", "disputes_filed"] as const).map((k) => `${k}=${m.get(k)}`);
        throw new Error(`${err.message}; target's counters: ${seen.join(", ")}`);
      });
    } finally {
      inbox.close();
    }
    expect(disputes.map((l) => l.args.round), "the genuine claim is not disputed").to.not.include(genuine.round);
    const byRound = new Map(disputes.map((l) => [l.args.round, l]));
    const dInvalid = byRound.get(invalid.round);
    const dAbove = byRound.get(above.round);
    expect(dInvalid, "dispute of the invalid proof").to.not.equal(undefined);
    expect(dAbove, "dispute of the over-threshold claim").to.not.equal(undefined);
    expect(dInvalid!.args.fraud).to.equal(Fraud.InvalidProof);
    expect(dAbove!.args.fraud).to.equal(Fraud.AboveThreshold);
    expect(above.output >= e.threshold).to.equal(true);

    // Filed by each target's own gateway, with the very claim the sender signed.
    for (const [d, claim] of [[dInvalid!, invalid], [dAbove!, above]] as const) {
      expect(getAddress(d.args.signer)).to.equal(getAddress(sender.gatewayAccount.address));
      expect(getAddress(d.args.disputer)).to.equal(getAddress(claim.target.gatewayAccount.address));
      const tx = await net.publicClient.getTransaction({ hash: d.transactionHash });
      const call = decodeFunctionData({ abi: disputesAbi, data: tx.input });
      expect(call.functionName).to.equal("disputeVrfFraud");
      const [c] = call.args as unknown as [{ round: bigint; role: number; proof: Hex }];
      expect(c.round).to.equal(claim.round);
      expect(c.role).to.equal(Role.Verifier);
      expect(c.proof.toLowerCase()).to.equal(claim.proof.toLowerCase());
      expect(await facts.isPunished(d.args.signer, claim.round, DisputeKind.VrfFraud)).to.equal(true);
      const gained = (await facts.tokenBalance(d.args.disputer, d.blockNumber)) - (await facts.tokenBalance(d.args.disputer, d.blockNumber - 1n));
      expect(gained, "disputer's reward").to.equal(d.args.reward);
      expect(d.args.reward).to.equal((d.args.slashed * rewardBps) / 10_000n);
    }

    // Two slashes in sequence, each by slashBps of what was left; banned, reputation zero.
    const [first, second] = [...disputes].sort((x, y) => (x.blockNumber < y.blockNumber ? -1 : 1)) as [(typeof disputes)[0], (typeof disputes)[0]];
    expect(first.args.slashed).to.equal((stake0 * slashBps) / 10_000n);
    expect(second.args.slashed).to.equal(((stake0 - first.args.slashed) * slashBps) / 10_000n);
    const after = await facts.node(sender.nodeId);
    expect(after.stake).to.equal(stake0 - first.args.slashed - second.args.slashed);
    expect(Number(after.status)).to.equal(NodeStatus.Banned);
    expect(await facts.reputation(sender.nodeId)).to.equal(0n);
  });
});
