/**
 * The whole system on one machine: a `hardhat node` chain on 127.0.0.1, the contracts
 * deployed behind a TimelockController, the embedded IPFS store with the scoring
 * function pinned, and N node pairs, each an swtpm-backed HPC (agent + bridge) and its
 * gateway (libp2p host, chain client, attestation service, verifier role). Operators
 * stake with an EIP-2612 permit and register in one transaction after the gateway enrolled
 * its HPC by credential activation. Used by the demo (`npm start`), the end-to-end test and
 * the end-to-end benchmark.
 *
 * The gateways run in this one process to fit a 2-core machine; each is the same Gateway
 * that `trustmesh gateway start` runs as its own daemon. They share one embedded IPFS
 * directory, which stands in for the IPFS network that separate machines would reach
 * through a Kubo daemon (see ipfs/adapter).
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { setMaxListeners } from "node:events";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  http,
  parseEther,
  zeroHash,
  type Abi,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { DEV_MNEMONIC, startLocalNode, type LocalNode } from "../chain/local-node.js";
import { chainFor } from "../chain/client.js";
import { deployTrustMesh } from "../chain/deploy.js";
import type { DeploymentFile } from "../chain/deployment-file.js";
import { writeDeploymentFile } from "../chain/deployment-file.js";
import { imageRegistryAbi, nodeRegistryAbi, reputationAbi, scoringPolicyAbi, timelockAbi, trustTokenAbi } from "../chain/artifacts.js";
import { permitTypedData, permitVrs } from "../chain/permit.js";
import { AgentClient } from "../attest/bridge/client.js";
import { parsePemBundle } from "../attest/enrol/ekcert.js";
import { parseItems } from "../attest/fingerprint/items.js";
import { buildFingerprintTree } from "../attest/fingerprint/merkle.js";
import { derivePublicKey, pointToArray } from "../core/vrf/index.js";
import { openContentStore, cidToHex, type ContentStore } from "../../ipfs/adapter/index.js";
import { bundledScoringSource, publishScoringSource } from "../../ipfs/scoring/index.js";
import { swtpmCa } from "../../firmware/agent/swtpm.js";
import { GatewayChain } from "../relayer/chain-context.js";
import { GatewayJournal } from "../relayer/journal.js";
import { createLogger, type Logger } from "../relayer/logger.js";
import { Gateway } from "../relayer/gateway.js";
import { Metrics } from "../relayer/metrics.js";
import { enrolHpc, type HpcIdentity } from "../relayer/enrolment.js";
import { parseSelectionStrings } from "../relayer/assess.js";
import type { FailedVerdictAction } from "../relayer/config.js";
import { Machine, type MachineImage } from "./machine.js";
import { SandboxPool } from "../sandbox/pool.js";
import type { SandboxResult, SandboxRunParameters } from "../sandbox/types.js";


export const BOOT_IMAGE: MachineImage["bootImage"] = { label: "trustmesh-hpc-2026.11.efi", content: Buffer.from("trustmesh HPC boot image 2026.11 (kernel + initrd)") };
export const WORKER_IMAGE = { label: "trustmesh/worker:1.4", content: Buffer.from("container image trustmesh/worker:1.4") };

export interface DevnetOptions {
  nodes: number;
  dir: string;
  epochSeconds: number;
  meanIntervalMs: number;
  revealWindowMs: number;
  roundTimeoutMs: number;
  quorum: number;
  onFailedVerdict: FailedVerdictAction;
  logLevel?: string;
  progress?: (line: string) => void;
}

export interface DevnetNode {
  index: number;
  nodeId: bigint;
  operator: LocalAccount;
  gatewayAccount: LocalAccount;
  machine: Machine;
  identity: HpcIdentity;
  gateway: Gateway;
}

/**
 * One sandbox for the gateways of this process, with identical runs shared. The scoring
 * function is deterministic by contract (fixed clock and randomness, no I/O), so the six
 * verifiers of a round that score the same quote with the same chain facts get the same
 * answer: in one process it is computed once. Separate gateway daemons each compute it;
 * a failed run (a deadline hit under load is not deterministic) is never shared.
 */
function sharedDeterministicRuns(run: (p: SandboxRunParameters) => Promise<SandboxResult<unknown>>): (p: SandboxRunParameters) => Promise<SandboxResult<unknown>> {
  const results = new Map<string, Promise<SandboxResult<unknown>>>();
  return (p) => {
    const key = createHash("sha256").update(JSON.stringify([p.source, p.entry, p.input, p.limits, p.nowMs ?? null])).digest("hex");
    const hit = results.get(key);
    if (hit) return hit;
    const pending = run(p).then((r) => {
      if (!r.ok) results.delete(key);
      return r;
    });
    if (results.size >= 1024) results.delete(results.keys().next().value as string);
    results.set(key, pending);
    return pending;
  };
}

export const sha256Hex = (b: Uint8Array): Hex => `0x${createHash("sha256").update(b).digest("hex")}`;

export class Devnet {
  readonly nodes: DevnetNode[] = [];
  sandbox: SandboxPool | undefined;
  private meshTimer: NodeJS.Timeout | undefined;
  private constructor(
    readonly opts: DevnetOptions,
    readonly chain: LocalNode,
    readonly publicClient: PublicClient,
    readonly deployer: LocalAccount,
    readonly deployment: DeploymentFile,
    readonly store: ContentStore,
    readonly policyV1: Hex,
    readonly log: Logger,
  ) {}

  get rpcUrl(): string {
    return this.chain.rpcUrl;
  }

  static async start(opts: DevnetOptions): Promise<Devnet> {
    const progress = opts.progress ?? (() => undefined);
    // Seven libp2p hosts in one process hang many abort listeners on shared signals
    // (dials, stream timeouts); Node's default of 10 only produces leak warnings here.
    setMaxListeners(256);
    await mkdir(opts.dir, { recursive: true });
    const log = createLogger({ name: "devnet", level: opts.logLevel ?? "silent" });

    progress("starting the chain (hardhat node on 127.0.0.1)");
    const node = await startLocalNode();
    try {
      const chain = chainFor(31337, node.rpcUrl);
      const transport = http(node.rpcUrl);
      const publicClient = createPublicClient({ chain, transport, pollingInterval: 100 }) as PublicClient;
      const deployer = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 0 });
      const wallet = createWalletClient({ chain, transport, account: deployer });
      const operators = Array.from({ length: opts.nodes }, (_, i) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i + 1 }));

      progress("pinning the trust-scoring function v1 in the embedded IPFS store");
      const store = await openContentStore({ backend: "embedded", directory: join(opts.dir, "ipfs") });
      const policyV1 = cidToHex(await publishScoringSource(store, await bundledScoringSource("v1")));

      progress("deploying the contracts (timelock governance)");
      const deployed = await deployTrustMesh(wallet, publicClient, {
        params: {
          epochDuration: BigInt(opts.epochSeconds),
          expectedCommitteeSize: BigInt(opts.nodes),
          quorum: opts.quorum,
          initialPolicyCid: policyV1,
          timelockDelay: 1n,
          maxRoundAge: 3n,
          challengeWindow: 3600n,
        },
        governance: { kind: "timelock", proposers: [deployer.address], executors: [deployer.address] },
        mint: operators.map((o) => ({ to: o.address, amount: parseEther("10000") })),
      });
      const deployment: DeploymentFile = {
        format: "trustmesh-deployment/1",
        chainId: deployed.chainId,
        startBlock: Number(deployed.startBlock),
        contracts: deployed.contracts,
      };
      await writeDeploymentFile(join(opts.dir, "deployment.json"), deployment);
      const net = new Devnet(opts, node, publicClient, deployer, deployment, store, policyV1, log);

      progress("approving the boot image and the worker container (ImageRegistry, via the timelock)");
      await net.governance(deployment.contracts.ImageRegistry!, imageRegistryAbi as Abi, "approve", [sha256Hex(BOOT_IMAGE.content), 1, policyV1]);
      await net.governance(deployment.contracts.ImageRegistry!, imageRegistryAbi as Abi, "approve", [sha256Hex(WORKER_IMAGE.content), 2, policyV1]);

      progress(`starting ${opts.nodes} swtpm-backed HPCs (EK certificates from a local CA)`);
      const caDir = join(opts.dir, "ca");
      await mkdir(caDir, { recursive: true });
      // One after the other: they share the CA, and each must own its pair of free ports.
      const machines: Machine[] = [];
      for (let i = 0; i < opts.nodes; i++) {
        machines.push(await Machine.start({ dir: join(opts.dir, `hpc-${i + 1}`), caDir, image: { bootImage: BOOT_IMAGE, kernelCmdline: "console=ttyS0 ro trustmesh.boot=pxe", containers: [WORKER_IMAGE] } }));
      }
      const ca = swtpmCa(caDir);
      const caBundle: X509Certificate[] = [
        ...parsePemBundle(await readFile(ca.rootCertPath, "utf8")),
        ...parsePemBundle(await readFile(ca.issuerCertPath, "utf8")),
      ];

      const sandbox = await SandboxPool.create({ size: 2 });
      net.sandbox = sandbox;
      const scoringRuns = sharedDeterministicRuns((p) => sandbox.run(p));
      progress("enrolling each HPC (EK chain + credential activation) and registering with stake");
      const minStake = await publicClient.readContract({ address: deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "minStake" });
      for (let i = 0; i < opts.nodes; i++) {
        const machine = machines[i] as Machine;
        const gatewaySecret = `0x${Buffer.from(secp256k1.utils.randomSecretKey()).toString("hex")}` as Hex;
        const vrfSecret = secp256k1.utils.randomSecretKey();
        const gatewayAccount = privateKeyToAccount(gatewaySecret);
        await wallet.sendTransaction({ to: gatewayAccount.address, value: parseEther("10") }).then((hash) => publicClient.waitForTransactionReceipt({ hash }));
        const client = await AgentClient.connect({ port: machine.port, staticKey: machine.gatewayKey, agentKey: machine.agentKey.publicKey });
        const identity = await enrolHpc(client, caBundle);
        const evidence = await client.quote({ selection: [{ bank: "sha256", pcrs: [0] }], include: ["fingerprint"] });
        client.close();
        const items = parseItems(Object.fromEntries((evidence.evidence.fingerprint ?? []).map((x) => [x.key, x.value])));
        const fingerprintRoot = (await buildFingerprintTree(items)).root;
        const metadata = await store.put(new TextEncoder().encode(JSON.stringify({ name: `node-${i + 1}`, hardware: { kind: "swtpm-backed HPC", driver: identity.driver }, fingerprint: items })));
        const operator = operators[i] as LocalAccount;
        const nodeId = await net.registerWithPermit(operator, {
          gateway: gatewayAccount.address,
          vrfPublicKey: pointToArray(derivePublicKey(vrfSecret)) as readonly [bigint, bigint],
          akDigest: identity.akDigest,
          ekCertDigest: identity.ekCertDigest,
          fingerprintRoot,
          tier: identity.tier,
          metadataCid: cidToHex(metadata),
          stake: minStake * 2n,
        });
        const gwLog = createLogger({ name: `gw-${i + 1}`, level: opts.logLevel ?? "silent" });
        const metrics = new Metrics();
        const gwChain = new GatewayChain(node.rpcUrl, 31337, deployment, gatewayAccount, gwLog, metrics, 400);
        const gateway = new Gateway({
          name: `gw-${i + 1}`,
          nodeId,
          gatewaySecret,
          vrfSecret,
          chain: gwChain,
          store,
          journal: await GatewayJournal.open(join(opts.dir, `gw-${i + 1}`)),
          log: gwLog,
          metrics,
          agent: { host: "127.0.0.1", port: machine.port, publicKey: machine.agentKey.publicKey, staticKey: machine.gatewayKey, rekeyIntervalMs: 60_000 },
          identity,
          verifier: {
            revealWindowMs: opts.revealWindowMs,
            roundTimeoutMs: opts.roundTimeoutMs,
            selection: parseSelectionStrings(["sha256:0,1,2,3,4,5,6,7,8,9,10,11"]),
            quorum: opts.quorum,
            meanIntervalMs: opts.meanIntervalMs,
          },
          p2p: { listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [] },
          onFailedVerdict: opts.onFailedVerdict,
          actions: { reboot: () => machine.reboot() },
          sandbox: scoringRuns,
        });
        net.nodes.push({ index: i, nodeId, operator, gatewayAccount, machine, identity, gateway });
      }

      progress(`starting ${opts.nodes} gateways (libp2p on loopback, proof-of-trust gating)`);
      for (const n of net.nodes) await n.gateway.start();
      await net.connectMesh();
      net.keepMesh();
      return net;
    } catch (e) {
      await node.stop();
      throw e;
    }
  }

  /** Dials every pair of gateways until each has admitted all the others (binding checked against the registry). */
  async connectMesh(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const want = this.nodes.length - 1;
    for (;;) {
      const missing: Promise<void>[] = [];
      for (const a of this.nodes) {
        const admitted = new Set(a.gateway.p2p.admittedPeers().map((p) => p.nodeId));
        for (const b of this.nodes) {
          if (b.nodeId >= a.nodeId || admitted.has(b.nodeId)) continue;
          const addr = b.gateway.peerAddresses[0];
          if (addr) missing.push(a.gateway.p2p.dial(addr).catch(() => undefined));
        }
      }
      if (missing.length === 0 && this.nodes.every((n) => n.gateway.p2p.admittedPeers().length >= want)) return;
      await Promise.all(missing);
      if (Date.now() > deadline) throw new Error(`devnet: gateways did not all admit each other within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Re-dials pairs that lost each other (an eviction, a dropped connection), as separate
   * machines would re-dial their bootstrap peers. A refused dial (the peer is still denied
   * at the other gate) is simply tried again later.
   */
  private keepMesh(): void {
    const tick = (): void => {
      const dials: Promise<void>[] = [];
      for (const a of this.nodes) {
        const admitted = new Set(a.gateway.p2p.admittedPeers().map((p) => p.nodeId));
        for (const b of this.nodes) {
          if (b === a || admitted.has(b.nodeId)) continue;
          const addr = b.gateway.peerAddresses[0];
          if (addr) dials.push(a.gateway.p2p.dial(addr).catch(() => undefined));
        }
      }
      void Promise.all(dials).finally(() => {
        if (this.meshTimer !== undefined) this.meshTimer = setTimeout(tick, 2_000);
      });
    };
    this.meshTimer = setTimeout(tick, 2_000);
  }

  /** Schedules a governance call on the timelock, waits its delay and executes it. */
  async governance(target: Address, abi: Abi, functionName: string, args: readonly unknown[]): Promise<void> {
    const timelock = this.deployment.contracts.Timelock;
    if (!timelock) throw new Error("devnet: no timelock in the deployment");
    const wallet = createWalletClient({ chain: chainFor(31337, this.rpcUrl), transport: http(this.rpcUrl), account: this.deployer });
    const data = encodeFunctionData({ abi, functionName, args });
    const salt = `0x${randomBytes(32).toString("hex")}` as Hex;
    const delay = await this.publicClient.readContract({ address: timelock, abi: timelockAbi, functionName: "getMinDelay" });
    await this.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({ address: timelock, abi: timelockAbi, functionName: "schedule", args: [target, 0n, data, zeroHash, salt, delay] }),
    });
    await new Promise((r) => setTimeout(r, Number(delay) * 1000 + 1100));
    const receipt = await this.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({ address: timelock, abi: timelockAbi, functionName: "execute", args: [target, 0n, data, zeroHash, salt] }),
    });
    if (receipt.status !== "success") throw new Error(`devnet: timelock execution of ${functionName} failed`);
  }

  private async registerWithPermit(
    operator: LocalAccount,
    reg: { gateway: Address; vrfPublicKey: readonly [bigint, bigint]; akDigest: Hex; ekCertDigest: Hex; fingerprintRoot: Hex; tier: number; metadataCid: Hex; stake: bigint },
  ): Promise<bigint> {
    const c = this.deployment.contracts;
    const wallet = createWalletClient({ chain: chainFor(31337, this.rpcUrl), transport: http(this.rpcUrl), account: operator });
    const [domain, nonce, block] = await Promise.all([
      this.publicClient.readContract({ address: c.TrustToken, abi: trustTokenAbi, functionName: "eip712Domain" }),
      this.publicClient.readContract({ address: c.TrustToken, abi: trustTokenAbi, functionName: "nonces", args: [operator.address] }),
      this.publicClient.getBlock(),
    ]);
    const deadline = block.timestamp + 3600n;
    const signature = await operator.signTypedData(permitTypedData({ domain, owner: operator.address, spender: c.NodeRegistry, value: reg.stake, nonce, deadline }));
    const { v, r, s } = permitVrs(signature);
    const { request, result } = await this.publicClient.simulateContract({
      account: operator,
      address: c.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "registerWithPermit",
      args: [{ ...reg, vrfPublicKey: [reg.vrfPublicKey[0], reg.vrfPublicKey[1]] }, deadline, v, r, s],
    });
    await this.publicClient.waitForTransactionReceipt({ hash: await wallet.writeContract(request) });
    return BigInt(result);
  }

  async status(nodeId: bigint): Promise<number> {
    return Number(await this.publicClient.readContract({ address: this.deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "statusOf", args: [nodeId] }));
  }

  async reputation(nodeId: bigint): Promise<bigint> {
    return BigInt(await this.publicClient.readContract({ address: this.deployment.contracts.Reputation, abi: reputationAbi, functionName: "score", args: [nodeId] }));
  }

  async currentEpoch(): Promise<bigint> {
    const n = this.nodes[0];
    if (!n) throw new Error("devnet has no nodes");
    return n.gateway.rt.chain.currentEpoch();
  }

  /** Publishes v2 of the scoring function and schedules it, via the timelock, from `effectiveEpoch`. */
  async upgradePolicy(version: "v2", effectiveEpoch: bigint): Promise<Hex> {
    const cid = cidToHex(await publishScoringSource(this.store, await bundledScoringSource(version)));
    await this.governance(this.deployment.contracts.ScoringPolicy, scoringPolicyAbi as Abi, "scheduleUpgrade", [cid, effectiveEpoch]);
    return cid;
  }

  async waitFor<T>(label: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`devnet: timed out after ${timeoutMs} ms waiting for ${label}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.meshTimer);
    this.meshTimer = undefined;
    for (const n of this.nodes) await n.gateway.stop().catch(() => undefined);
    await Promise.all(this.nodes.map((n) => n.machine.stop()));
    await this.sandbox?.close();
    await this.store.close?.();
    await this.chain.stop();
  }
}
