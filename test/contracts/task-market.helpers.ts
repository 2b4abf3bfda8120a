/**
 * TaskMarket test helpers: a fixture with two Trusted executor candidates, task specs,
 * real ECVRF executor proofs (offchain/core/vrf) and post-run verdicts recorded through
 * TrustBoard certificates. Shared by the unit suite and the escrow property test.
 */
import hre from "hardhat";
import { encodeAbiParameters, getAbiItem, hexToBytes, keccak256, maxUint256, parseEther, toHex, type Hex } from "viem";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { bytesToHex, fastVerifyArgs, proofToHash, prove } from "../../offchain/core/vrf/index.js";
import type { TaskSpec } from "../../offchain/task/types.js";
import { encodeRoundId, taskRoundSequence, type TaskRoundPhase } from "../../offchain/core/protocol.js";
import { certificate, deployFixture, localWallet, makeVote, registerNode, type Fixture, type NodeKeys } from "./fixture.js";

export const FUNCTION_CID: Hex = "0x01551220f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
export const INPUT_CIDS: Hex[] = [
  "0x01551220a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
  "0x01551220b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
];
export const RESULT_CID: Hex = "0x01551220c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";
export const RESULT_COMMITMENT: Hex = keccak256(toHex("result"));
export const PAYMENT = parseEther("10");

/** The ITaskMarket.TaskSpec struct, as the off-chain flow builds it. */
export type Spec = TaskSpec;

export interface Node {
  id: bigint;
  keys: NodeKeys;
  operator: Fixture["operators"][number];
}

let roundSequence = 1_000n;

/** Committee nodes 1..7 (Registered: they sign by bootstrap), executors x = 8 and y = 9 made Trusted. */
export async function marketFixture() {
  const f = await deployFixture();
  const market = await hre.viem.getContractAt("TaskMarket", f.deployment.contracts.TaskMarket);
  const committee: Node[] = [];
  for (let i = 1; i <= 7; i++) committee.push(await registerNode(f, i, i - 1));
  const x = await registerNode(f, 8, 7);
  const y = await registerNode(f, 9, 8);
  const creator = f.operators[9]!;
  const epoch = await f.clock.read.currentEpoch();
  const ctx = { f, market, committee, x, y, creator, epoch };
  await recordVerdict(ctx, x, 1);
  await recordVerdict(ctx, y, 1);
  await f.token.write.approve([market.address, maxUint256], { account: creator.account });
  return ctx;
}

export type Ctx = Awaited<ReturnType<typeof marketFixture>>;

/**
 * Records a verdict (1 Trusted, 2 Untrusted) on `node` from a certificate of the first five
 * committee nodes other than the target (Registered nodes sign while fewer than a quorum are Trusted).
 */
export async function recordVerdict(ctx: Pick<Ctx, "f" | "committee" | "epoch">, node: Node, verdict: 1 | 2) {
  return recordRound(ctx, node, roundSequence++, verdict);
}

/** Records a verdict on `node` for the round with this sequence (see {@link recordVerdict}); returns the round id. */
export async function recordRound(ctx: Pick<Ctx, "f" | "committee" | "epoch">, node: Node, sequence: bigint, verdict: 1 | 2) {
  const vote = makeVote(ctx.epoch, node.id, sequence, { verdict, score: verdict === 1 ? 90 : 10 });
  const signers = ctx.committee.filter((n) => n.id !== node.id).slice(0, 5);
  const c = await certificate(ctx.f, signers.map((n) => n.keys.gateway), vote);
  await ctx.f.board.write.submitCertificate([vote, c.signatures, c.vrfOutputs]);
  return vote.round;
}

/** The id of `node`'s task round (offchain/core/protocol.ts encoding) in the fixture's epoch. */
export function taskRound(ctx: Pick<Ctx, "epoch">, node: Node, taskId: bigint, phase: TaskRoundPhase = "post-run", attempt = 0): bigint {
  return encodeRoundId({ epoch: ctx.epoch, node: node.id, sequence: taskRoundSequence({ taskId, phase, attempt }) });
}

/** Records the verdict of `node`'s post-run task round for `taskId` (the round that settles it); returns the round id. */
export async function recordPostRun(ctx: Pick<Ctx, "f" | "committee" | "epoch">, node: Node, taskId: bigint, verdict: 1 | 2, attempt = 0) {
  return recordRound(ctx, node, taskRoundSequence({ taskId, phase: "post-run", attempt }), verdict);
}

export async function makeSpec(over: Partial<Spec> = {}): Promise<Spec> {
  const now = BigInt(await time.latest());
  return {
    functionCid: FUNCTION_CID,
    inputCids: [...INPUT_CIDS],
    inputCommitments: [keccak256(toHex("input B")), keccak256(toHex("input C"))],
    taskKey: keccak256(toHex("task key")),
    recipientKeys: [keccak256(toHex("recipient B")), keccak256(toHex("recipient C"))],
    timeLimitMs: 5_000,
    memoryLimitMb: 64,
    minTier: 1,
    payment: PAYMENT,
    deadline: now + 3_600n,
    ...over,
  };
}

/** Creates a task from the creator; returns its id. */
export async function createTask(ctx: Pick<Ctx, "market" | "creator">, over: Partial<Spec> = {}) {
  const spec = await makeSpec(over);
  const id = await ctx.market.read.nextTaskId();
  const hash = await ctx.market.write.createTask([spec], { account: ctx.creator.account });
  return { id, spec, hash };
}

/** The node's executor sortition proof for `taskId`, with fastVerify helpers and its output. */
export async function executorProof(ctx: Pick<Ctx, "market">, node: Node, taskId: bigint) {
  const alpha = hexToBytes(await ctx.market.read.executorAlpha([taskId]));
  const proof = prove(node.keys.vrfSecret, alpha);
  const [, p, , u, v] = fastVerifyArgs(node.keys.vrfPublicKey, proof, alpha);
  return { proof: p, uPoint: u, vComponents: v, output: bytesToHex(proofToHash(proof)) as Hex };
}

/** The node's gateway as a funded wallet client (funded on every call: fixtures revert balances). */
export function gatewayWallet(node: Node) {
  return localWallet(node.keys.gateway);
}

export type Proof = Awaited<ReturnType<typeof executorProof>>;

/** submitResult from `node`'s gateway (or `from`), with a proof made for it unless given. */
export async function submit(
  ctx: Pick<Ctx, "market">,
  node: Node,
  taskId: bigint,
  opts: { proof?: Proof; from?: Node; cid?: Hex; commitment?: Hex; nodeId?: bigint } = {},
) {
  const p = opts.proof ?? (await executorProof(ctx, node, taskId));
  const w = await gatewayWallet(opts.from ?? node);
  return w.writeContract({
    address: ctx.market.address,
    abi: ctx.market.abi,
    functionName: "submitResult",
    args: [taskId, opts.nodeId ?? node.id, p.proof, p.uPoint, p.vComponents, opts.cid ?? RESULT_CID, opts.commitment ?? RESULT_COMMITMENT],
  });
}

/** keccak256(abi.encode(spec)) computed by viem from the ABI (independently of the contract). */
export function specHashOf(ctx: Ctx, spec: Spec): Hex {
  const item = getAbiItem({ abi: ctx.market.abi, name: "hashSpec" });
  return keccak256(encodeAbiParameters(item.inputs, [spec]));
}
