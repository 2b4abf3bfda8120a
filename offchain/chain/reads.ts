/**
 * What an auditor can learn from the chain alone: nodes, one node's verdict history with
 * evidence CIDs and reputation over time, recorded rounds, and the scoring-policy
 * history. No gateway state, no I/O besides the RPC; the CLI and the web page share it
 * (it runs in the browser, so no node: imports here).
 */
import { CID } from "multiformats/cid";
import { hexToBytes, type Address, type Hex, type PublicClient } from "viem";
import { decodeRoundId, NodeStatus, Verdict } from "../core/protocol.js";
import { epochClockAbi, nodeRegistryAbi, reputationAbi, scoringPolicyAbi, trustBoardAbi } from "./artifacts.js";

export interface AuditContracts {
  NodeRegistry: Address;
  Reputation: Address;
  TrustBoard: Address;
  ScoringPolicy: Address;
  EpochClock?: Address;
}

export interface AuditTarget {
  client: PublicClient;
  contracts: AuditContracts;
  /** First block worth scanning for events (the deployment block). */
  fromBlock: bigint;
}

const STATUS_NAMES = Object.fromEntries(Object.entries(NodeStatus).map(([k, v]) => [v, k])) as Record<number, string>;
const VERDICT_NAMES = Object.fromEntries(Object.entries(Verdict).map(([k, v]) => [v, k])) as Record<number, string>;

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `Unknown(${code})`;
}

export function verdictName(code: number): string {
  return VERDICT_NAMES[code] ?? `Unknown(${code})`;
}

/** A binary CID as its canonical text (bafy…); raw hex when the bytes are not a CID. */
export function cidText(bytes: Hex): string {
  if (bytes === "0x") return "";
  try {
    return CID.decode(hexToBytes(bytes)).toString();
  } catch {
    return bytes;
  }
}

export interface NodeSummary {
  id: bigint;
  operator: Address;
  gateway: Address;
  status: string;
  statusCode: number;
  tier: number;
  stake: bigint;
  /** Exiting: unbonding end; Banned: ban end (unix seconds); else 0. */
  until: number;
  reputation: bigint;
  verdictCount: bigint;
  lastRound: bigint;
}

export async function readNode(t: AuditTarget, id: bigint): Promise<NodeSummary> {
  const [n, rep, hist] = await Promise.all([
    t.client.readContract({ address: t.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [id] }),
    t.client.readContract({ address: t.contracts.Reputation, abi: reputationAbi, functionName: "score", args: [id] }),
    t.client.readContract({ address: t.contracts.TrustBoard, abi: trustBoardAbi, functionName: "nodeHistory", args: [id] }),
  ]);
  return {
    id,
    operator: n.operator,
    gateway: n.gateway,
    status: statusName(n.status),
    statusCode: n.status,
    tier: n.tier,
    stake: n.stake,
    until: Number(n.until),
    reputation: BigInt(rep),
    verdictCount: BigInt(hist[0]),
    lastRound: hist[1],
  };
}

export async function listNodes(t: AuditTarget): Promise<NodeSummary[]> {
  const count = await t.client.readContract({ address: t.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "nodeCount" });
  const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
  return Promise.all(ids.map((id) => readNode(t, id)));
}

export interface VerdictEntry {
  round: bigint;
  epoch: bigint;
  sequence: bigint;
  node: bigint;
  verdict: string;
  verdictCode: number;
  score: number;
  evidenceCid: string;
  policyCid: string;
  signers: Address[];
  voided: boolean;
  blockNumber: bigint;
  txHash: Hex;
}

/** Recorded verdicts (optionally of one node) from `since` on, oldest first, with voids applied. */
export async function readVerdicts(t: AuditTarget, opts: { node?: bigint; sinceBlock?: bigint } = {}): Promise<VerdictEntry[]> {
  const fromBlock = opts.sinceBlock !== undefined && opts.sinceBlock > t.fromBlock ? opts.sinceBlock : t.fromBlock;
  const args = opts.node !== undefined ? { node: opts.node } : undefined;
  const [recorded, voided] = await Promise.all([
    t.client.getContractEvents({ address: t.contracts.TrustBoard, abi: trustBoardAbi, eventName: "VerdictRecorded", args, fromBlock, strict: true }),
    t.client.getContractEvents({ address: t.contracts.TrustBoard, abi: trustBoardAbi, eventName: "VerdictVoided", args, fromBlock, strict: true }),
  ]);
  const voidedRounds = new Set(voided.map((l) => l.args.round));
  return recorded.map((l) => {
    const a = l.args;
    const parts = decodeRoundId(a.round);
    return {
      round: a.round,
      epoch: parts.epoch,
      sequence: parts.sequence,
      node: a.node,
      verdict: verdictName(a.verdict),
      verdictCode: a.verdict,
      score: a.score,
      evidenceCid: cidText(a.evidenceCid),
      policyCid: cidText(a.policyCid),
      signers: [...a.signers],
      voided: voidedRounds.has(a.round),
      blockNumber: l.blockNumber,
      txHash: l.transactionHash,
    };
  });
}

export interface ReputationPoint {
  blockNumber: bigint;
  score: bigint;
  reason: number;
}

export const REPUTATION_REASONS: Record<number, string> = { 1: "trusted", 2: "untrusted", 3: "voided", 4: "slashed" };

/** Reputation after every change (ScoreChanged events), oldest first. */
export async function readReputationHistory(t: AuditTarget, node?: bigint): Promise<(ReputationPoint & { node: bigint })[]> {
  const logs = await t.client.getContractEvents({
    address: t.contracts.Reputation,
    abi: reputationAbi,
    eventName: "ScoreChanged",
    args: node !== undefined ? { nodeId: node } : undefined,
    fromBlock: t.fromBlock,
    strict: true,
  });
  return logs.map((l) => ({ node: l.args.nodeId, blockNumber: l.blockNumber, score: BigInt(l.args.newScore), reason: l.args.reason }));
}

export interface NodeDetail extends NodeSummary {
  metadataCid: string;
  akDigest: Hex;
  ekCertDigest: Hex;
  fingerprintRoot: Hex;
  vrfPublicKey: readonly [bigint, bigint];
  registeredBlock: bigint | null;
  verdicts: VerdictEntry[];
  reputationHistory: ReputationPoint[];
}

export async function readNodeDetail(t: AuditTarget, id: bigint): Promise<NodeDetail> {
  const [summary, n, registered, verdicts, rep] = await Promise.all([
    readNode(t, id),
    t.client.readContract({ address: t.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [id] }),
    t.client.getContractEvents({ address: t.contracts.NodeRegistry, abi: nodeRegistryAbi, eventName: "NodeRegistered", args: { nodeId: id }, fromBlock: t.fromBlock, strict: true }),
    readVerdicts(t, { node: id }),
    readReputationHistory(t, id),
  ]);
  const reg = registered[0];
  const metas = await t.client.getContractEvents({ address: t.contracts.NodeRegistry, abi: nodeRegistryAbi, eventName: "MetadataUpdated", args: { nodeId: id }, fromBlock: t.fromBlock, strict: true });
  const latestMeta = metas.length > 0 ? metas[metas.length - 1]!.args.metadataCid : reg?.args.metadataCid;
  return {
    ...summary,
    metadataCid: latestMeta ? cidText(latestMeta) : "",
    akDigest: reg?.args.akDigest ?? "0x",
    ekCertDigest: reg?.args.ekCertDigest ?? "0x",
    fingerprintRoot: reg?.args.fingerprintRoot ?? "0x",
    vrfPublicKey: [n.vrfPublicKey[0], n.vrfPublicKey[1]],
    registeredBlock: reg?.blockNumber ?? null,
    verdicts,
    reputationHistory: rep.map(({ blockNumber, score, reason }) => ({ blockNumber, score, reason })),
  };
}

export interface PolicyInfo {
  index: number;
  effectiveEpoch: bigint;
  cid: string;
  cidHex: Hex;
  cidHash: Hex;
  /** The entry in force in the current epoch. */
  active: boolean;
  /** Scheduled for a future epoch. */
  pending: boolean;
}

export interface PolicyHistory {
  currentEpoch: bigint | null;
  entries: PolicyInfo[];
}

export async function readCurrentEpoch(t: AuditTarget): Promise<bigint | null> {
  if (!t.contracts.EpochClock) return null;
  return t.client.readContract({ address: t.contracts.EpochClock, abi: epochClockAbi, functionName: "currentEpoch" });
}

export async function readPolicyHistory(t: AuditTarget): Promise<PolicyHistory> {
  const [count, currentEpoch] = await Promise.all([
    t.client.readContract({ address: t.contracts.ScoringPolicy, abi: scoringPolicyAbi, functionName: "policyCount" }),
    readCurrentEpoch(t),
  ]);
  const raw = await Promise.all(
    Array.from({ length: Number(count) }, (_, i) =>
      t.client.readContract({ address: t.contracts.ScoringPolicy, abi: scoringPolicyAbi, functionName: "policyAt", args: [BigInt(i)] }),
    ),
  );
  // The active entry is the last one whose effective epoch has been reached (a later entry
  // with the same epoch supersedes an earlier one).
  let activeIndex = -1;
  if (currentEpoch !== null) raw.forEach((p, i) => (p.effectiveEpoch <= currentEpoch ? (activeIndex = i) : undefined));
  const entries = raw.map((p, i) => ({
    index: i,
    effectiveEpoch: BigInt(p.effectiveEpoch),
    cid: cidText(p.cid),
    cidHex: p.cid,
    cidHash: p.cidHash,
    active: i === activeIndex,
    pending: currentEpoch !== null && p.effectiveEpoch > currentEpoch,
  }));
  return { currentEpoch, entries };
}
