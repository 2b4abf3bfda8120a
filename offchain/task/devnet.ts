/**
 * The task flow on a running Devnet, built from outside it: a TaskMarketChain and a
 * TaskExecutor for every node (its gateway key, its VRF key, its HPC as the task host), a
 * creator account A funded with TRUST, and A's key broker. Used by `npm run demo:capsule`,
 * the capsule benchmark and the integration test.
 *
 * Where the function runs: on the node's HPC, over the agent bridge (a second Noise
 * connection from the gateway's pinned key). The HPC makes the ephemeral key the grant is
 * sealed to, opens the inputs, runs the function in its sandbox with the task's limits,
 * seals the result to the recipients and wipes its scratch area; the gateway relays only
 * sealed bytes. Pre-run and post-run attestation are task rounds asked for on demand
 * (offchain/relayer/task-rounds.ts); the post-run round judges the HPC's own report of its
 * scratch area and of task runs still going.
 */
import { createWalletClient, http, parseEther, type Hex, type LocalAccount } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC } from "../chain/local-node.js";
import { chainFor } from "../chain/client.js";
import { trustTokenAbi } from "../chain/artifacts.js";
import { AgentClient } from "../attest/bridge/client.js";
import type { Devnet, DevnetNode } from "../devnet/devnet.js";
import { KeyBroker } from "./broker.js";
import { TaskMarketChain, type TaskMarketAddresses } from "./chain.js";
import { TaskError } from "./errors.js";
import { TaskExecutor, type ExecutionOutcome } from "./executor.js";
import { hpcTaskHost } from "./hpc-host.js";
import { ExecutorService } from "./service.js";

/** Hardhat's funded dev account used as creator A (far above the devnet's operators). */
export const CREATOR_ACCOUNT_INDEX = 19;

export interface TaskWorldOptions {
  /** Broker claim window after the first valid claim (ms); default 1000. */
  claimWindowMs?: number;
  /** TRUST minted to A; default 1000. */
  creatorFunds?: bigint;
  onOutcome?: (node: DevnetNode, taskId: bigint, outcome: ExecutionOutcome) => void;
  log?: (line: string, fields?: Record<string, unknown>) => void;
}

export class TaskWorld {
  /** Every executor outcome, per task and node. */
  readonly outcomes = new Map<bigint, Map<bigint, ExecutionOutcome>>();

  private constructor(
    readonly net: Devnet,
    readonly creator: LocalAccount,
    /** A's client (creates, settles). */
    readonly chain: TaskMarketChain,
    readonly broker: KeyBroker,
    readonly executors: Map<bigint, { node: DevnetNode; chain: TaskMarketChain; service: ExecutorService }>,
  ) {}

  /** The HPC task hosts (bridge connections), closed on stop. */
  private readonly hosts = new Map<bigint, { close(): void }>();

  /**
   * How a node's gateway power-cycles its HPC after a task, before the post-run round
   * (docs/task-protocol.md 5.1): a PXE boot with the post-run boot nonce. Replaceable, so a
   * test can show what the post-run round does to an executor that skips it.
   */
  postRunReboot = async (node: DevnetNode, bootNonce: Uint8Array): Promise<void> => {
    // The bridge connection dies with the HPC; the next task opens a new one.
    this.hosts.get(node.nodeId)?.close();
    await node.machine.reboot(bootNonce);
  };

  static async attach(net: Devnet, o: TaskWorldOptions = {}): Promise<TaskWorld> {
    const addresses = taskMarketAddresses(net);
    const base = { publicClient: net.publicClient, rpcUrl: net.rpcUrl, chainId: net.deployment.chainId, contracts: addresses, fromBlock: BigInt(net.deployment.startBlock) };
    const creator = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: CREATOR_ACCOUNT_INDEX });
    const deployerWallet = createWalletClient({ chain: chainFor(net.deployment.chainId, net.rpcUrl), transport: http(net.rpcUrl), account: net.deployer });
    await net.publicClient.waitForTransactionReceipt({
      hash: await deployerWallet.writeContract({ address: addresses.TrustToken, abi: trustTokenAbi, functionName: "mint", args: [creator.address, o.creatorFunds ?? parseEther("1000")] }),
    });
    const chain = new TaskMarketChain({ ...base, account: creator });
    const domain = { chainId: net.deployment.chainId, taskMarket: addresses.TaskMarket };
    const broker = new KeyBroker({ chain: new TaskMarketChain(base), domain, windowMs: o.claimWindowMs ?? 1000, log: o.log });
    const world = new TaskWorld(net, creator, chain, broker, new Map());
    for (const node of net.nodes) {
      const nodeChain = new TaskMarketChain({ ...base, account: node.gatewayAccount });
      // The node's HPC runs the task: a second bridge connection from its gateway's key.
      const machine = node.machine;
      const host = hpcTaskHost(() =>
        AgentClient.connect({ port: machine.port, staticKey: machine.gatewayKey, agentKey: machine.agentKey.publicKey, requestTimeoutMs: 30_000 }),
      );
      world.hosts.set(node.nodeId, host);
      const executor = new TaskExecutor({
        nodeId: node.nodeId,
        vrfSecret: node.gateway.rt.vrfSecret,
        account: node.gatewayAccount,
        domain,
        chain: nodeChain,
        store: net.store,
        claimKey: (claim) => broker.submit(claim),
        host,
        attestation: {
          request: (taskId, phase, attempt) => node.gateway.requestTaskRound(taskId, phase, attempt),
          postRunRecorded: (taskId) => nodeChain.hasPostRunVerdict(taskId),
          rebootHpc: (bootNonce) => world.postRunReboot(node, bootNonce),
        },
        freshVerdictTimeoutMs: 120_000,
        log: o.log,
      });
      const service = new ExecutorService(nodeChain, executor, (taskId, outcome) => {
        let m = world.outcomes.get(taskId);
        if (!m) world.outcomes.set(taskId, (m = new Map()));
        m.set(node.nodeId, outcome);
        o.onOutcome?.(node, taskId, outcome);
      });
      world.executors.set(node.nodeId, { node, chain: nodeChain, service });
    }
    return world;
  }

  private unwatch: (() => void) | undefined;

  /**
   * Every node handles every new task. One chain watcher serves them all: in one process
   * seven identical polls of the same RPC would only add load (separate gateway daemons
   * each run ExecutorService.start()).
   */
  start(): void {
    this.unwatch ??= this.chain.watchTasks((taskId) => {
      for (const e of this.executors.values()) e.service.handle(taskId);
    });
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    this.broker.stop();
    await Promise.all([...this.executors.values()].map((e) => e.service.stop()));
    for (const h of this.hosts.values()) h.close();
  }

  /** True when every node answered the task and none is still working on it or won it. */
  nobodySelected(taskId: bigint): boolean {
    const m = this.outcomes.get(taskId);
    return m !== undefined && m.size === this.executors.size && [...m.values()].every((x) => x.kind === "not-candidate");
  }

  /** Waits until the executor's post-run task round for this task is recorded (settle-able), so settle() can judge it. */
  async waitPostRunVerdict(taskId: bigint, timeoutMs: number): Promise<void> {
    await this.net.waitFor(`the post-run verdict of task ${taskId}`, () => this.chain.hasPostRunVerdict(taskId), timeoutMs);
  }
}

export function taskMarketAddresses(net: Devnet): TaskMarketAddresses {
  const c = net.deployment.contracts as Record<string, Hex | undefined>;
  const need = (k: string): Hex => {
    const v = c[k];
    if (!v) throw new TaskError("TASK_CHAIN", `the devnet deployment has no ${k}`);
    return v;
  };
  return {
    TaskMarket: need("TaskMarket"),
    NodeRegistry: need("NodeRegistry"),
    EpochClock: need("EpochClock"),
    TrustBoard: need("TrustBoard"),
    TrustToken: need("TrustToken"),
  };
}
