/**
 * The main job's four scenes, end to end, on the demo's own parameters: a hardhat node,
 * 7 swtpm-backed HPCs and their gateways in this process. Every assertion reads the chain.
 * Needs swtpm and tpm2-tools: `npm test` installs them (scripts/ensure-prereqs.sh --tpm);
 * without them the suite fails with the install command, as the demo does.
 */
import "../../offchain/core/polyfills.js";
import { mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { missingTpmTool, TPM_INSTALL_COMMAND } from "../../offchain/devnet/tools.js";
import { Devnet, type DevnetNode } from "../../offchain/devnet/devnet.js";
import {
  auditTarget,
  demoOptions,
  sceneAllTrusted,
  sceneEquivocation,
  sceneTamper,
  sceneUpgrade,
  scheduleUpgrade,
  statuses,
  type UpgradeSchedule,
} from "../../offchain/devnet/scenes.js";
import { decodeRoundId, NodeStatus, Verdict } from "../../offchain/core/protocol.js";
import { cidText, listNodes, readVerdicts } from "../../offchain/chain/reads.js";
import { disputesAbi, trustBoardAbi } from "../../offchain/chain/artifacts.js";

describe("e2e: the demo's four scenes on chain", function () {
  // Setup ~8 s and the scenes ~30 s on 2 cores; the scenes' own timeouts fail first.
  this.timeout(300_000);
  const NODES = 7;
  const quiet = (): void => undefined;
  let dir: string;
  let net: Devnet;
  let victim: DevnetNode;
  let byzantine: DevnetNode;
  let upgrade: Promise<UpgradeSchedule> | undefined;

  before(async function () {
    const missing = missingTpmTool();
    if (missing !== undefined) throw new Error(`the demo scenes need ${missing}: ${TPM_INSTALL_COMMAND} (or bash scripts/ensure-prereqs.sh --tpm)`);
    dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "trustmesh-e2e-"));
    net = await Devnet.start(demoOptions(NODES, dir));
    victim = net.nodes[NODES - 1] as DevnetNode;
    byzantine = net.nodes[2] as DevnetNode;
  });

  after(async function () {
    await upgrade?.catch(() => undefined);
    await net?.stop();
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it("scene 1: every node is attested Trusted", async function () {
    await sceneAllTrusted(net, quiet);
    expect(await statuses(net)).to.deep.equal(Array(NODES).fill(NodeStatus.Trusted));
    const verdicts = await readVerdicts(auditTarget(net));
    const attested = new Set(verdicts.filter((v) => v.verdictCode === Verdict.Trusted).map((v) => v.node));
    expect(attested.size).to.equal(NODES);
    for (const v of verdicts) expect(v.signers.length).to.be.at.least(net.opts.quorum);
  });

  it("scene 2: a tampered HPC is found Untrusted, loses reputation, is rebooted and Trusted again", async function () {
    const r = await sceneTamper(net, victim, quiet);
    expect(r.reputationAfter < r.reputationBefore).to.equal(true);
    const verdicts = await readVerdicts(auditTarget(net), { node: victim.nodeId });
    const bad = verdicts.filter((v) => v.verdictCode === Verdict.Untrusted);
    expect(bad.length).to.be.at.least(1);
    const lastBad = bad[bad.length - 1]!;
    const after = verdicts.filter((v) => v.blockNumber > lastBad.blockNumber && v.verdictCode === Verdict.Trusted);
    expect(after.length, "a Trusted verdict after the reboot").to.be.at.least(1);
    expect(await net.status(victim.nodeId)).to.equal(NodeStatus.Trusted);
    // As the demo does: v2 is scheduled now and takes effect while scene 3 plays.
    upgrade = scheduleUpgrade(net);
    upgrade.catch(() => undefined);
  });

  it("scene 3: an equivocating verifier is disputed, slashed and banned", async function () {
    const r = await sceneEquivocation(net, byzantine, quiet);
    expect(await net.status(byzantine.nodeId)).to.equal(NodeStatus.Banned);
    const node = (await listNodes(auditTarget(net))).find((n) => n.id === byzantine.nodeId);
    expect(r.stakeAfter < r.stakeBefore).to.equal(true);
    // Disputes of its other equivocations may still land after the ban: the stake only falls.
    expect(node !== undefined && node.stake <= r.stakeAfter, `stake ${node?.stake} after the scene, ${r.stakeAfter} at the ban`).to.equal(true);
    const resolved = await net.publicClient.getContractEvents({
      address: net.deployment.contracts.Disputes!,
      abi: disputesAbi,
      eventName: "DisputeResolved",
      fromBlock: BigInt(net.deployment.startBlock),
      strict: true,
    });
    expect(resolved.some((e) => e.args.node === byzantine.nodeId)).to.equal(true);
  });

  it("scene 4: the scoring policy v2 takes effect at its epoch", async function () {
    // Scheduled at the end of scene 2 as in the demo; here too if scene 2 failed first.
    const u = await sceneUpgrade(net, upgrade ?? scheduleUpgrade(net), quiet);
    const verdicts = await readVerdicts(auditTarget(net));
    const v2 = verdicts.filter((v) => v.policyCid === cidText(u.cid));
    expect(v2.length).to.be.at.least(1);
    for (const v of v2) expect(v.epoch >= u.effective, `v2 verdict in epoch ${v.epoch} < ${u.effective}`).to.equal(true);
    // Before the effective epoch every verdict was scored by v1.
    for (const v of verdicts.filter((x) => x.epoch < u.effective)) expect(v.policyCid).to.equal(cidText(net.policyV1));
  });

  it("every gateway's journal keeps only the votes of rounds TrustBoard may still record", async function () {
    // The floor follows each EpochOpened: the oldest epoch whose certificates TrustBoard
    // still takes. A week of votes (the dispute window) would grow the journal without end.
    const [, , maxRoundAge] = await net.publicClient.readContract({ address: net.deployment.contracts.TrustBoard, abi: trustBoardAbi, functionName: "params" });
    let floor = 0n;
    await net.waitFor("every journal's floor at maxRoundAge epochs back", async () => {
      const epoch = await net.currentEpoch();
      floor = epoch > maxRoundAge ? epoch - maxRoundAge : 0n;
      return net.nodes.every((n) => n.gateway.rt.journal.signingFloor() === floor);
    }, 30_000);
    expect(floor > 0n, "the scenes outlast maxRoundAge epochs").to.equal(true);
    let kept = 0;
    for (const n of net.nodes) {
      const journal = n.gateway.rt.journal;
      const signedEpochs = Object.keys(journal.signedVotes()).map((k) => decodeRoundId(BigInt(k)).epoch);
      kept += signedEpochs.length;
      expect(signedEpochs.filter((e) => e < journal.signingFloor()), `node ${n.nodeId}: votes below the floor`).to.deep.equal([]);
    }
    expect(kept, "the votes of the recent epochs are kept").to.be.greaterThan(0);
  });
});
