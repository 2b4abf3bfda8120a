/**
 * The four scenes of the main job, as plain steps over a running Devnet, shared by the
 * demo (`npm start`) and its end-to-end test so the test proves exactly what the demo
 * shows. Each scene waits for a fact on chain and returns what it saw; the narration is
 * the caller's (`say`).
 */
import type { Hex } from "viem";
import { formatEther } from "viem";
import { NodeStatus, Verdict } from "../core/protocol.js";
import { cidText, listNodes, readReputationHistory, readVerdicts, type AuditTarget } from "../chain/reads.js";
import type { Devnet, DevnetNode, DevnetOptions } from "./devnet.js";

/**
 * The demo's tempo. A round takes well under a second here (the reveal goes out with the
 * evidence request, so the committee is known when the evidence arrives), which lets each
 * node be attested every ~4 s on average (Poisson, from the epoch seed) and epochs last
 * 6 s, so the policy upgrade of scene 4 is two short epochs away. The reveal window only
 * matters when some node cannot reveal (the wait ends as soon as every possible verifier
 * has), so it is generous: a loaded machine's timers fire late. A round not on chain 12 s
 * after its start is retried under a derived id.
 */
export const DEMO_TEMPO = {
  epochSeconds: 6,
  meanIntervalMs: 4_000,
  revealWindowMs: 2_000,
  roundTimeoutMs: 10_000,
  retryDelayMs: 12_000,
} as const;

export function demoOptions(nodes: number, dir: string, extra: Partial<DevnetOptions> = {}): DevnetOptions {
  return { nodes, dir, ...DEMO_TEMPO, quorum: Math.min(4, nodes - 2), onFailedVerdict: "reboot", ...extra };
}

export type Say = (line: string) => void;

export function auditTarget(net: Devnet): AuditTarget {
  return { client: net.publicClient, contracts: net.deployment.contracts, fromBlock: BigInt(net.deployment.startBlock) };
}

export async function statuses(net: Devnet): Promise<number[]> {
  return Promise.all(net.nodes.map((n) => net.status(n.nodeId)));
}

/** Scene 1: enrolment and the first attestation of every node. */
export async function sceneAllTrusted(net: Devnet, say: Say, timeoutMs = 120_000): Promise<void> {
  say("scene 1: enrolment done; waiting for the first attestation rounds (VRF-drawn times)");
  await net.waitFor("every node Trusted", async () => (await statuses(net)).every((s) => s === NodeStatus.Trusted), timeoutMs);
  say(`scene 1: all ${net.nodes.length} nodes are Trusted on chain (${(await readVerdicts(auditTarget(net))).length} verdicts recorded)`);
}

export interface TamperResult {
  victim: DevnetNode;
  reputationBefore: bigint;
  reputationAfter: bigint;
}

/** Scene 2: an unapproved container on one HPC -> Untrusted -> its gateway reboots it -> Trusted. */
export async function sceneTamper(net: Devnet, victim: DevnetNode, say: Say, timeoutMs = 120_000): Promise<TamperResult> {
  say(`scene 2: node ${victim.nodeId}'s HPC loads an unapproved container (cryptominer:latest), measured into PCR 10`);
  const target = auditTarget(net);
  const fromBlock = await net.publicClient.getBlockNumber();
  await victim.machine.loadContainer("cryptominer:latest", Buffer.from("container image cryptominer:latest"));
  // Read from the verdict history, not the current status: the gateway reboots its HPC on
  // the first failed verdict, and the node may be Trusted again before a status poll sees it.
  const bad = await net.waitFor(
    "an Untrusted verdict for the tampered node",
    async () => (await readVerdicts(target, { node: victim.nodeId })).find((v) => v.verdictCode === Verdict.Untrusted && v.blockNumber > fromBlock),
    timeoutMs,
  );
  // Trusted verdicts may land between the tampering and the failed round: the fall is read
  // from the chain's own reputation history, at the first untrusted verdict.
  const history = await readReputationHistory(target, victim.nodeId);
  const fall = history.findIndex((p) => p.reason === 2);
  const reputationAfter = fall >= 0 ? (history[fall]?.score ?? 0n) : await net.reputation(victim.nodeId);
  const reputationBefore = fall > 0 ? (history[fall - 1]?.score ?? 0n) : reputationAfter;
  say(`scene 2: node ${victim.nodeId} is Untrusted; reputation ${reputationBefore} -> ${reputationAfter}; its gateway's action: reboot the HPC`);
  await net.waitFor(
    "the rebooted node Trusted again",
    async () =>
      (await readVerdicts(target, { node: victim.nodeId })).some((v) => v.verdictCode === Verdict.Trusted && v.blockNumber > bad.blockNumber) &&
      (await net.status(victim.nodeId)) === NodeStatus.Trusted,
    timeoutMs,
  );
  say(`scene 2: after a clean reboot node ${victim.nodeId} is attested Trusted again`);
  return { victim, reputationBefore, reputationAfter };
}

export interface EquivocationResult {
  byzantine: DevnetNode;
  stakeBefore: bigint;
  stakeAfter: bigint;
}

/** Scene 3: a verifier signs a second, conflicting vote -> disputed and slashed on chain. */
export async function sceneEquivocation(net: Devnet, byzantine: DevnetNode, say: Say, timeoutMs = 90_000): Promise<EquivocationResult> {
  const target = auditTarget(net);
  const stakeBefore = (await listNodes(target)).find((n) => n.id === byzantine.nodeId)?.stake ?? 0n;
  say(`scene 3: node ${byzantine.nodeId}'s gateway turns Byzantine: it signs a second, conflicting vote after each decision`);
  byzantine.gateway.verifier.byzantine = "equivocate";
  try {
    await net.waitFor("the equivocating verifier slashed", async () => (await net.status(byzantine.nodeId)) === NodeStatus.Banned, timeoutMs);
  } finally {
    byzantine.gateway.verifier.byzantine = undefined;
  }
  const stakeAfter = (await listNodes(target)).find((n) => n.id === byzantine.nodeId)?.stake ?? 0n;
  say(
    `scene 3: node ${byzantine.nodeId} disputed and slashed: stake ${formatEther(stakeBefore)} -> ${formatEther(stakeAfter)} TRUST, reputation ${await net.reputation(byzantine.nodeId)}, banned`,
  );
  return { byzantine, stakeBefore, stakeAfter };
}

export interface UpgradeSchedule {
  cid: Hex;
  effective: bigint;
  scheduledAt: bigint;
  /** Wall-clock time from publishing v2 to the timelock's execution. */
  tookMs: number;
}

/**
 * Scene 4, first half: publish v2 and schedule it through the timelock for two epochs
 * ahead. The demo starts this once scene 2 is over (v2 is stricter: a node just rebooted
 * after a failure does not pass it at once) and lets the epochs pass during scene 3.
 */
export async function scheduleUpgrade(net: Devnet): Promise<UpgradeSchedule> {
  const started = Date.now();
  const u = await net.upgradePolicy("v2", (current) => current + 2n);
  return { ...u, tookMs: Date.now() - started };
}

/** Scene 4, second half: a verdict scored by v2 in an epoch at or after the effective one. */
export async function sceneUpgrade(net: Devnet, upgrade: Promise<UpgradeSchedule>, say: Say, timeoutMs = 90_000): Promise<UpgradeSchedule & { lastV1Epoch: bigint | undefined }> {
  const u = await upgrade;
  say(`scene 4: scoring function v2 published to IPFS and scheduled through the timelock (in epoch ${u.scheduledAt}, executed after ${(u.tookMs / 1000).toFixed(1)} s) for epoch ${u.effective}`);
  const target = auditTarget(net);
  await net.waitFor(
    "a verdict made under v2",
    async () => (await readVerdicts(target)).find((v) => v.policyCid === cidText(u.cid) && v.epoch >= u.effective),
    timeoutMs,
  );
  const verdicts = await readVerdicts(target);
  const lastV1 = [...verdicts].reverse().find((v) => v.policyCid === cidText(net.policyV1));
  say(`scene 4: rounds of epoch >= ${u.effective} are scored by v2 (${cidText(u.cid).slice(0, 20)}...); the last v1 verdict was in epoch ${lastV1?.epoch ?? "?"}`);
  return { ...u, lastV1Epoch: lastV1?.epoch };
}
