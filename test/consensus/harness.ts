/**
 * The consensus integration test's setup and its chain reads. The network is the devnet
 * (hardhat node, contracts behind the timelock, 7 swtpm-backed HPCs and their gateways in
 * this process) on a tempo fast enough for `npm test`; every fact the test asserts is read
 * back from the chain (events, views, transaction inputs), never from a gateway's memory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createWalletClient, http, type Abi, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { chainFor } from "../../offchain/chain/client.js";
import { DEV_MNEMONIC } from "../../offchain/chain/local-node.js";
import { Devnet, type DevnetNode, type DevnetOptions } from "../../offchain/devnet/devnet.js";
import { encodeRoundId, Role } from "../../offchain/core/protocol.js";
import { drawTicket } from "../../offchain/core/sortition.js";
import type { EpochInfo } from "../../offchain/relayer/chain-context.js";
import type { RoundOutcome } from "../../offchain/relayer/verifier.js";
import { disputesAbi, epochClockAbi, nodeRegistryAbi, reputationAbi, trustBoardAbi, trustTokenAbi } from "../../offchain/chain/artifacts.js";
import { loadVrfVerifierArtifact } from "../../offchain/chain/deploy.js";

/**
 * The schedule is kept out of the way (a mean gap of ~12 days between a node's rounds:
 * practically none in a test) and the test drives each round itself through
 * VerifierService.runRound, the entry point the schedule fires, on every gateway at the
 * same start time. That makes the committee of each round known in advance (every VRF
 * secret lives in this process) and keeps two shared cores free of rounds nobody awaits.
 * Members reveal the moment a round starts and all start together here, so a 5 s reveal
 * window is ample; 10 s epochs let a new epoch (with the lowered committee size) open soon
 * after setup, and still leave a round 30 s (maxRoundAge 3) to reach the chain.
 */
export const TEMPO = { epochSeconds: 10, meanIntervalMs: 1e9, revealWindowMs: 5_000, roundTimeoutMs: 20_000 } as const;
export const QUORUM = 4;
export const MAX_UINT256 = (1n << 256n) - 1n;
/**
 * Expected committee size 1 once two nodes are Trusted: the threshold of later epochs is
 * 2^256/eligible, so sortition really leaves verifiers out (with the devnet's 7 it is
 * 2^256-1 and "under the threshold" says nothing) and valid proofs above it exist.
 */
export const EXPECTED_COMMITTEE = 1n;
/** Sequence numbers of driven rounds: far above the schedule's (< 1024 plus retries at 2^32 steps). */
export const DRIVEN_SEQUENCE_BASE = 1n << 48n;

/** Disputes.Kind and Disputes.Fraud (contracts/interfaces/IDisputes.sol). */
export const DisputeKind = { Equivocation: 1, VrfFraud: 2 } as const;
export const Fraud = { Equivocation: 1, InvalidProof: 2, AboveThreshold: 3 } as const;

export interface ConsensusNet {
  net: Devnet;
  dir: string;
  stop(): Promise<void>;
}

export async function startConsensusNet(extra: Partial<DevnetOptions> = {}): Promise<ConsensusNet> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(extra);
    } catch (e) {
      // On a heavily loaded machine the devnet's 20 s mesh wait is sometimes not enough
      // (reported); one fresh start is cheaper than a failed suite. Anything else fails.
      if (attempt >= 2 || !/did not all admit each other/.test(String((e as Error).message))) throw e;
    }
  }
}

async function startOnce(extra: Partial<DevnetOptions>): Promise<ConsensusNet> {
  const dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "trustmesh-consensus-"));
  let net: Devnet | undefined;
  try {
    net = await Devnet.start({ nodes: 7, dir, ...TEMPO, quorum: QUORUM, onFailedVerdict: "reboot", ...extra });
    const started = net;
    return {
      net,
      dir,
      stop: async () => {
        await started.stop();
        await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      },
    };
  } catch (e) {
    await net?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

/** Lowers the expected committee size through the timelock; it applies from the next epoch. */
export async function lowerCommitteeSize(net: Devnet): Promise<void> {
  const clock = net.deployment.contracts.EpochClock;
  if (!clock) throw new Error("devnet deployment has no EpochClock");
  await net.governance(clock, epochClockAbi as Abi, "setExpectedCommitteeSize", [EXPECTED_COMMITTEE]);
}

/**
 * Opens the next epoch once it is due, as anyone may (EpochClock.openEpoch is
 * permissionless), from an account of the dev mnemonic that nothing else uses. The
 * gateways' own opener simulates the call against the latest block, whose timestamp on an
 * idle automining chain stays behind the due time: with no rounds running, no block is
 * mined and the epoch would not turn (reported; see the test's header).
 */
export async function openNextEpoch(net: Devnet, facts: ChainFacts): Promise<bigint> {
  const clock = net.deployment.contracts.EpochClock as Address;
  const before = await facts.currentEpoch();
  const due = BigInt(await net.publicClient.readContract({ address: clock, abi: epochClockAbi, functionName: "nextEpochAt" }));
  await new Promise((r) => setTimeout(r, Math.max(0, Number(due) * 1000 - Date.now()) + 100));
  const account = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 19 });
  const wallet = createWalletClient({ chain: chainFor(31337, net.rpcUrl), transport: http(net.rpcUrl), account });
  for (let attempt = 0; attempt < 20 && (await facts.currentEpoch()) === before; attempt++) {
    try {
      // Explicit gas: no estimate against the latest block (the same stale timestamp).
      const hash = await wallet.writeContract({ address: clock, abi: epochClockAbi, functionName: "openEpoch", gas: 300_000n });
      await net.publicClient.waitForTransactionReceipt({ hash });
    } catch {
      // Opened by a gateway a moment before, or the block was stamped early: check, retry.
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const now = await facts.currentEpoch();
  if (now === before) throw new Error(`epoch ${before + 1n} did not open`);
  return now;
}

export async function epochInfo(net: Devnet, epoch: bigint): Promise<EpochInfo> {
  return (net.nodes[0] as DevnetNode).gateway.rt.chain.epoch(epoch);
}

export interface RoundPlan {
  round: bigint;
  target: DevnetNode;
  epoch: EpochInfo;
  /** Gateways whose VRF output for the round is under the epoch threshold. */
  selected: DevnetNode[];
  unselected: DevnetNode[];
}

/**
 * The first driven round for `target` whose sortition `accept`s: each candidate's VRF
 * output is evaluated with its own secret, exactly as its gateway will when the round runs.
 */
export function planRound(
  net: Devnet,
  target: DevnetNode,
  epoch: EpochInfo,
  accept: (selected: DevnetNode[], unselected: DevnetNode[]) => boolean,
  from = 0n,
  tries = 400n,
): RoundPlan {
  const candidates = net.nodes.filter((n) => n !== target);
  for (let k = from; k < from + tries; k++) {
    const round = encodeRoundId({ epoch: epoch.epoch, node: target.nodeId, sequence: DRIVEN_SEQUENCE_BASE + k });
    const selected: DevnetNode[] = [];
    const unselected: DevnetNode[] = [];
    for (const n of candidates) {
      const t = drawTicket(n.gateway.rt.vrfSecret, { seed: epoch.seed, round, role: Role.Verifier }, epoch.threshold);
      (t.selected ? selected : unselected).push(n);
    }
    if (accept(selected, unselected)) return { round, target, epoch, selected, unselected };
  }
  throw new Error(`no round among ${tries} sequences has the wanted committee`);
}

/**
 * Runs the round on every gateway but the target's, all with one start time (the schedule
 * gives every gateway the same one): unselected gateways return at once, selected ones
 * reveal, fetch evidence, agree by PBFT and submit the certificate.
 */
export async function driveRound(net: Devnet, plan: RoundPlan): Promise<Map<bigint, RoundOutcome>> {
  const startMs = Date.now();
  const others = net.nodes.filter((n) => n !== plan.target);
  const outcomes = await Promise.all(others.map((n) => n.gateway.verifier.runRound(plan.round, startMs, plan.epoch)));
  return new Map(others.map((n, i) => [n.nodeId, outcomes[i] as RoundOutcome]));
}

export function describeOutcomes(outcomes: Map<bigint, RoundOutcome>): string {
  return [...outcomes].map(([id, o]) => `${id}:${o.kind}${o.kind === "abstained" ? `(${o.reason})` : ""}`).join(" ");
}

/** Typed reads of the deployed contracts. */
export class ChainFacts {
  private readonly c: Record<"TrustToken" | "NodeRegistry" | "Reputation" | "TrustBoard" | "EpochClock" | "Disputes", Address>;

  constructor(private readonly net: Devnet) {
    const d = net.deployment.contracts;
    if (!d.EpochClock || !d.Disputes) throw new Error("devnet deployment lacks EpochClock or Disputes");
    this.c = { TrustToken: d.TrustToken, NodeRegistry: d.NodeRegistry, Reputation: d.Reputation, TrustBoard: d.TrustBoard, EpochClock: d.EpochClock, Disputes: d.Disputes };
  }

  private get client() {
    return this.net.publicClient;
  }

  get fromBlock(): bigint {
    return BigInt(this.net.deployment.startBlock);
  }

  async verdicts() {
    return this.client.getContractEvents({ address: this.c.TrustBoard, abi: trustBoardAbi, eventName: "VerdictRecorded", fromBlock: this.fromBlock, strict: true });
  }

  async disputes(fromBlock = this.fromBlock) {
    return this.client.getContractEvents({ address: this.c.Disputes, abi: disputesAbi, eventName: "DisputeResolved", fromBlock, strict: true });
  }

  async slashes(fromBlock = this.fromBlock) {
    return this.client.getContractEvents({ address: this.c.NodeRegistry, abi: nodeRegistryAbi, eventName: "NodeSlashed", fromBlock, strict: true });
  }

  async verdictOf(round: bigint) {
    return (await this.verdicts()).find((l) => l.args.round === round);
  }

  async epochOpened(epoch: bigint) {
    const logs = await this.client.getContractEvents({ address: this.c.EpochClock, abi: epochClockAbi, eventName: "EpochOpened", args: { epoch }, fromBlock: this.fromBlock, strict: true });
    return logs[0];
  }

  async currentEpoch(): Promise<bigint> {
    return BigInt(await this.client.readContract({ address: this.c.EpochClock, abi: epochClockAbi, functionName: "currentEpoch" }));
  }

  async epochThreshold(epoch: bigint): Promise<bigint> {
    return BigInt(await this.client.readContract({ address: this.c.EpochClock, abi: epochClockAbi, functionName: "epochThreshold", args: [epoch] }));
  }

  async node(nodeId: bigint) {
    return this.client.readContract({ address: this.c.NodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [nodeId] });
  }

  async nodeOfGateway(gateway: Address): Promise<bigint> {
    return BigInt(await this.client.readContract({ address: this.c.NodeRegistry, abi: nodeRegistryAbi, functionName: "nodeOfGateway", args: [gateway] }));
  }

  async reputation(nodeId: bigint): Promise<bigint> {
    return BigInt(await this.client.readContract({ address: this.c.Reputation, abi: reputationAbi, functionName: "score", args: [nodeId] }));
  }

  async quorum(): Promise<number> {
    const [quorum] = await this.client.readContract({ address: this.c.TrustBoard, abi: trustBoardAbi, functionName: "params" });
    return Number(quorum);
  }

  async disputeParams(): Promise<{ slashBps: bigint; rewardBps: bigint }> {
    const [slashBps, rewardBps] = await this.client.readContract({ address: this.c.Disputes, abi: disputesAbi, functionName: "params" });
    return { slashBps: BigInt(slashBps), rewardBps: BigInt(rewardBps) };
  }

  async isPunished(signer: Address, round: bigint, kind: number): Promise<boolean> {
    return this.client.readContract({ address: this.c.Disputes, abi: disputesAbi, functionName: "isPunished", args: [signer, round, kind] });
  }

  async tokenBalance(owner: Address, blockNumber: bigint): Promise<bigint> {
    return this.client.readContract({ address: this.c.TrustToken, abi: trustTokenAbi, functionName: "balanceOf", args: [owner], blockNumber });
  }

  /**
   * The full ECVRF verification on chain (the Disputes contract's own verifier): is `proof`
   * valid for `publicKey` on `alpha`, and what output does it give?
   */
  async verifyVrfOnChain(publicKey: readonly [bigint, bigint], proof: Hex, alpha: Hex): Promise<{ valid: boolean; output: Hex }> {
    const artifact = await loadVrfVerifierArtifact();
    if (!artifact) throw new Error("contracts/vrf is not compiled: run npx hardhat compile");
    const address = await this.client.readContract({ address: this.c.Disputes, abi: disputesAbi, functionName: "verifier" });
    const abi = artifact.abi;
    const decoded = (await this.client.readContract({ address, abi, functionName: "decodeProof", args: [proof] })) as readonly bigint[];
    const key = [publicKey[0], publicKey[1]];
    const valid = (await this.client.readContract({ address, abi, functionName: "verify", args: [key, decoded, alpha] })) as boolean;
    const output = (await this.client.readContract({ address, abi, functionName: "gammaToHash", args: [decoded[0], decoded[1]] })) as Hex;
    return { valid, output };
  }
}

export function nodeByGateway(net: Devnet, gateway: Address): DevnetNode | undefined {
  return net.nodes.find((n) => n.gatewayAccount.address.toLowerCase() === gateway.toLowerCase());
}

/** Polls `probe` until it yields a value (chain facts are polled, never pushed). */
export async function eventually<T>(label: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
