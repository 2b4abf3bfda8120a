/**
 * The whole system on one machine: a `hardhat node` chain on 127.0.0.1, the contracts
 * deployed behind a TimelockController, the embedded IPFS store with the scoring
 * function pinned, and N node pairs, each an swtpm-backed HPC (agent + bridge) and its
 * gateway (libp2p host, chain client, attestation service, verifier role). Operators
 * stake with an EIP-2612 permit and register in one transaction after the gateway enrolled
 * its HPC by credential activation. Used by the demo (`npm start`), the end-to-end test and
 * the end-to-end benchmark.
 *
 * The gateways run in this one process to fit a 2-core machine (or, with gatewayProcesses,
 * in processes of their own: gateway-hosts.ts); each is the same Gateway that `trustmesh
 * gateway start` runs as its own daemon. They share one embedded IPFS directory, which
 * stands in for the IPFS network that separate machines would reach through a Kubo daemon
 * (see ipfs/adapter).
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
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
import { createLogger, type Logger } from "../relayer/logger.js";
import { Gateway } from "../relayer/gateway.js";
import type { RoundTiming } from "../relayer/verifier.js";
import { Metrics } from "../relayer/metrics.js";
import { enrolHpc, type HpcIdentity } from "../relayer/enrolment.js";
import type { FailedVerdictAction } from "../relayer/config.js";
import { Machine, MachineHost, type MachineImage } from "./machine.js";
import { SandboxPool } from "../sandbox/pool.js";
import { buildGateway, sharedDeterministicRuns, type GatewaySpec } from "./gateway-spec.js";
import { GatewayHost, localGatewayControl, type GatewayControl } from "./gateway-hosts.js";
import { hexOf } from "../core/hex.js";


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
  /** How often each gateway polls the chain for new blocks (ms); default 250. */
  chainPollingMs?: number;
  /** Delay before an unrecorded round is retried (see VerifierParams.retryDelayMs). */
  retryDelayMs?: number;
  /** Round timings of every gateway (benchmarks). */
  onRoundTiming?: (gateway: number, t: RoundTiming) => void;
  /**
   * Indices of nodes registered with the others whose gateways are not started with them:
   * each joins the running network later, by `startDeferred` (a node that comes online
   * after the network has left bootstrap).
   */
  deferGateways?: number[];
  /**
   * Runs the gateways in this many processes of their own (node i in process i mod n)
   * instead of in the devnet's process. A gateway there is reached only through
   * DevnetNode.control; the demo and the tests, which reach into gateways, keep them here.
   */
  gatewayProcesses?: number;
}

export interface GovernanceCall {
  target: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

export interface DevnetNode {
  index: number;
  nodeId: bigint;
  operator: LocalAccount;
  gatewayAccount: LocalAccount;
  machine: Machine;
  identity: HpcIdentity;
  /** Start, stop, mesh and schedule operations, wherever the gateway runs. */
  control: GatewayControl;
  /** The gateway object itself; only when it runs in the devnet's process (throws under DevnetOptions.gatewayProcesses). */
  gateway: Gateway;
}

export const sha256Hex = (b: Uint8Array): Hex => `0x${createHash("sha256").update(b).digest("hex")}`;

const randomSecretHex = (): Hex => hexOf(secp256k1.utils.randomSecretKey());

const MACHINE_IMAGE: MachineImage = { bootImage: BOOT_IMAGE, kernelCmdline: "console=ttyS0 ro trustmesh.boot=pxe", containers: [WORKER_IMAGE] };

/**
 * The HPCs, started concurrently in one machine-host process. The first one creates the
 * shared local CA (swtpm_localca is not safe to initialise twice at once); the others then
 * start together. Each picks its own free port pair, and two concurrent picks can collide:
 * a start that fails is retried on fresh ports.
 */
async function startMachines(opts: DevnetOptions): Promise<{ host: MachineHost; machines: Machine[] }> {
  const caDir = join(opts.dir, "ca");
  await mkdir(caDir, { recursive: true });
  const host = await MachineHost.start();
  const one = async (i: number): Promise<Machine> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await Machine.start({ dir: join(opts.dir, `hpc-${i + 1}`), caDir, image: MACHINE_IMAGE, host });
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  };
  try {
    const first = await one(0);
    const rest = await Promise.all(Array.from({ length: opts.nodes - 1 }, (_, i) => one(i + 1)));
    return { host, machines: [first, ...rest] };
  } catch (e) {
    await host.close();
    throw e;
  }
}

interface Enrolled {
  identity: HpcIdentity;
  fingerprintRoot: Hex;
  metadataCid: Hex;
}

/** Enrols one HPC over its bridge (EK chain, credential activation) and pins its metadata. */
async function enrolMachine(machine: Machine, caBundle: readonly X509Certificate[], store: ContentStore, i: number): Promise<Enrolled> {
  const client = await AgentClient.connect({ port: machine.port, staticKey: machine.gatewayKey, agentKey: machine.agentKey.publicKey });
  try {
    const identity = await enrolHpc(client, caBundle);
    const evidence = await client.quote({ selection: [{ bank: "sha256", pcrs: [0] }], include: ["fingerprint"] });
    const items = parseItems(Object.fromEntries((evidence.evidence.fingerprint ?? []).map((x) => [x.key, x.value])));
    const fingerprintRoot = (await buildFingerprintTree(items)).root;
    const metadata = await store.put(new TextEncoder().encode(JSON.stringify({ name: `node-${i + 1}`, hardware: { kind: "swtpm-backed HPC", driver: identity.driver }, fingerprint: items })));
    return { identity, fingerprintRoot, metadataCid: cidToHex(metadata) };
  } finally {
    client.close();
  }
}

export class Devnet {
  readonly nodes: DevnetNode[] = [];
  /** Nodes whose gateways wait for startDeferred (DevnetOptions.deferGateways). */
  private readonly deferred = new Set<bigint>();
  sandbox: SandboxPool | undefined;
  private machineHost: MachineHost | undefined;
  private meshTimer: NodeJS.Timeout | undefined;
  /** The processes the gateways run in (DevnetOptions.gatewayProcesses); none when they run here. */
  hosts: GatewayHost[] = [];
  /** Each started gateway's listen address. */
  private readonly addresses = new Map<bigint, string>();
  /** Chain reads of the devnet's own (the current epoch, an epoch's seed), with the deployer's account. */
  readonly chainView: GatewayChain;
  private constructor(
    readonly opts: DevnetOptions,
    readonly chain: LocalNode,
    readonly publicClient: PublicClient,
    readonly deployer: LocalAccount,
    readonly deployment: DeploymentFile,
    readonly store: ContentStore,
    readonly policyV1: Hex,
    readonly log: Logger,
  ) {
    this.chainView = new GatewayChain(chain.rpcUrl, deployment.chainId, deployment, deployer, log, new Metrics(), opts.chainPollingMs ?? 250);
  }

  get rpcUrl(): string {
    return this.chain.rpcUrl;
  }

  static async start(opts: DevnetOptions): Promise<Devnet> {
    const progress = opts.progress ?? (() => undefined);
    await mkdir(opts.dir, { recursive: true });
    const log = createLogger({ name: "devnet", level: opts.logLevel ?? "silent" });

    // Independent work runs side by side: the chain and its deployment, the HPCs (swtpm
    // manufacture and measured boot are mostly child processes), the sandbox workers.
    progress(`starting the chain, the embedded IPFS store and ${opts.nodes} swtpm-backed HPCs (EK certificates from a local CA)`);
    const storeP = openContentStore({ backend: "embedded", directory: join(opts.dir, "ipfs") });
    const machinesP = startMachines(opts);
    // Gateway processes each have their own sandbox (gateway-host.ts).
    const sandboxP = opts.gatewayProcesses ? Promise.resolve(undefined) : SandboxPool.create({ size: 2 });
    const nodeP = startLocalNode();
    // Whatever fails, nothing started here is left running.
    const settled = Promise.allSettled([storeP, machinesP, sandboxP, nodeP]);
    const cleanup = async (): Promise<void> => {
      const [store, machines, sandbox, node] = await settled;
      if (machines.status === "fulfilled") await machines.value.host.close();
      if (sandbox.status === "fulfilled") await sandbox.value?.close();
      if (store.status === "fulfilled") await store.value.close?.();
      if (node.status === "fulfilled") await node.value.stop();
    };
    let started: Devnet | undefined;
    try {
      const [store, node] = await Promise.all([storeP, nodeP]);
      const chain = chainFor(31337, node.rpcUrl);
      const transport = http(node.rpcUrl);
      const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 }) as PublicClient;
      // hardhat node's clock starts behind the wall clock by its own start-up time (tens of
      // seconds on a loaded machine); the attestation schedule is in chain time, so the
      // clocks are put level before anything is deployed.
      await publicClient.request({ method: "evm_setNextBlockTimestamp", params: [Math.ceil(Date.now() / 1000)] } as never);
      await publicClient.request({ method: "evm_mine", params: [] } as never);
      const deployer = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 0 });
      const wallet = createWalletClient({ chain, transport, account: deployer });
      const operators = Array.from({ length: opts.nodes }, (_, i) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i + 1 }));
      const policyV1 = cidToHex(await publishScoringSource(store, await bundledScoringSource("v1")));

      progress("deploying the contracts (timelock governance); scoring function v1 pinned in IPFS");
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
      started = net;

      progress("approving the boot image and the worker container (ImageRegistry, one timelock batch)");
      const keys = Array.from({ length: opts.nodes }, () => ({ gateway: randomSecretHex(), vrf: secp256k1.utils.randomSecretKey() }));
      await Promise.all([
        net.governanceBatch([
          { target: deployment.contracts.ImageRegistry!, abi: imageRegistryAbi as Abi, functionName: "approve", args: [sha256Hex(BOOT_IMAGE.content), 1, policyV1] },
          { target: deployment.contracts.ImageRegistry!, abi: imageRegistryAbi as Abi, functionName: "approve", args: [sha256Hex(WORKER_IMAGE.content), 2, policyV1] },
        ]),
        // Each operator gives its gateway key gas money (separate senders: all at once).
        ...keys.map(async (k, i) => {
          const operatorWallet = createWalletClient({ chain, transport, account: operators[i] as LocalAccount });
          const hash = await operatorWallet.sendTransaction({ to: privateKeyToAccount(k.gateway).address, value: parseEther("10") });
          await publicClient.waitForTransactionReceipt({ hash });
        }),
      ]);

      const { host: machineHost, machines } = await machinesP;
      net.machineHost = machineHost;
      const ca = swtpmCa(join(opts.dir, "ca"));
      const caBundle: X509Certificate[] = [
        ...parsePemBundle(await readFile(ca.rootCertPath, "utf8")),
        ...parsePemBundle(await readFile(ca.issuerCertPath, "utf8")),
      ];
      const sandbox = await sandboxP;
      net.sandbox = sandbox;
      const scoringRuns = sandbox ? sharedDeterministicRuns((p) => sandbox.run(p)) : undefined;
      const hosts = await Promise.allSettled(
        Array.from({ length: opts.gatewayProcesses ?? 0 }, () =>
          GatewayHost.start({
            store,
            reboot: (index, bootNonce) => (net.nodes[index] as DevnetNode).machine.reboot(bootNonce),
            ...(opts.onRoundTiming ? { onRoundTiming: opts.onRoundTiming } : {}),
          }),
        ),
      );
      // The ones that started are the devnet's to stop, also when another did not start.
      net.hosts = hosts.flatMap((h) => (h.status === "fulfilled" ? [h.value] : []));
      const failed = hosts.find((h) => h.status === "rejected");
      if (failed) throw failed.reason;

      progress("enrolling each HPC (EK chain + credential activation) and registering with stake");
      const minStake = await publicClient.readContract({ address: deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "minStake" });
      // Enrolment talks to the TPMs: all at once. Registration is in index order so node i+1 is nodes[i].
      const enrolled = await Promise.all(machines.map((m, i) => enrolMachine(m, caBundle, store, i)));
      for (let i = 0; i < opts.nodes; i++) {
        const machine = machines[i] as Machine;
        const { identity, fingerprintRoot, metadataCid } = enrolled[i] as Enrolled;
        const { gateway: gatewaySecret, vrf: vrfSecret } = keys[i] as (typeof keys)[number];
        const gatewayAccount = privateKeyToAccount(gatewaySecret);
        const operator = operators[i] as LocalAccount;
        const nodeId = await net.registerWithPermit(operator, {
          gateway: gatewayAccount.address,
          vrfPublicKey: pointToArray(derivePublicKey(vrfSecret)) as readonly [bigint, bigint],
          akDigest: identity.akDigest,
          ekCertDigest: identity.ekCertDigest,
          fingerprintRoot,
          tier: identity.tier,
          metadataCid,
          stake: minStake * 2n,
        });
        const spec: GatewaySpec = {
          index: i,
          nodeId,
          gatewaySecret,
          vrfSecret,
          rpcUrl: node.rpcUrl,
          deployment,
          dir: opts.dir,
          logLevel: opts.logLevel ?? "silent",
          chainPollingMs: opts.chainPollingMs ?? 250,
          agent: { port: machine.port, publicKey: machine.agentKey.publicKey, staticKey: machine.gatewayKey },
          identity,
          verifier: {
            revealWindowMs: opts.revealWindowMs,
            roundTimeoutMs: opts.roundTimeoutMs,
            quorum: opts.quorum,
            meanIntervalMs: opts.meanIntervalMs,
            ...(opts.retryDelayMs !== undefined ? { retryDelayMs: opts.retryDelayMs } : {}),
          },
          onFailedVerdict: opts.onFailedVerdict,
        };
        const host = net.hosts[i % Math.max(1, net.hosts.length)];
        if (host) {
          const control = await host.add(spec);
          net.nodes.push({
            index: i,
            nodeId,
            operator,
            gatewayAccount,
            machine,
            identity,
            control,
            get gateway(): Gateway {
              throw new Error(`gw-${i + 1} runs in a process of its own (gatewayProcesses): use its control`);
            },
          });
        } else {
          const gateway = await buildGateway(spec, {
            store,
            sandbox: scoringRuns as NonNullable<typeof scoringRuns>,
            reboot: (bootNonce) => machine.reboot(bootNonce),
            ...(opts.onRoundTiming ? { onRoundTiming: (t: RoundTiming) => opts.onRoundTiming?.(i, t) } : {}),
          });
          net.nodes.push({ index: i, nodeId, operator, gatewayAccount, machine, identity, control: localGatewayControl(gateway), gateway });
        }
      }

      for (const i of opts.deferGateways ?? []) {
        const n = net.nodes[i];
        if (n === undefined) throw new RangeError(`deferGateways: no node at index ${i}`);
        net.deferred.add(n.nodeId);
      }
      progress(`starting ${net.online().length} gateways (libp2p on loopback, proof-of-trust gating)${net.hosts.length > 0 ? ` in ${net.hosts.length} processes` : ""}`);
      await Promise.all(net.online().map((n) => net.startGateway(n)));
      await net.connectMesh();
      net.keepMesh();
      // Rounds begin once every gateway has admitted every other: a round run on a half-formed
      // mesh only fails, and costs the CPU the mesh needs to form.
      await Promise.all(net.online().map((n) => n.control.beginAttestation()));
      return net;
    } catch (e) {
      await started?.stopGateways();
      await cleanup();
      throw e;
    }
  }

  /** The nodes whose gateways run (all but those still deferred). */
  online(): DevnetNode[] {
    return this.nodes.filter((n) => !this.deferred.has(n.nodeId));
  }

  /**
   * Starts a deferred node's gateway (DevnetOptions.deferGateways) and joins it to the
   * running network: it dials the others until they admit it, then begins attesting.
   */
  async startDeferred(index: number, timeoutMs = 60_000): Promise<DevnetNode> {
    const n = this.nodes[index];
    if (n === undefined || !this.deferred.has(n.nodeId)) throw new RangeError(`node at index ${index} is not deferred`);
    await this.startGateway(n);
    this.deferred.delete(n.nodeId);
    await this.connectMesh(timeoutMs);
    await n.control.beginAttestation();
    return n;
  }

  /** Dials every pair of running gateways until each has admitted all the others (binding checked against the registry). */
  async connectMesh(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const online = this.online();
    const want = online.length - 1;
    for (;;) {
      const { dials, admitted } = await this.dialUnadmitted(online, true);
      if (dials.length === 0 && admitted.every((ids) => ids.length >= want)) return;
      await Promise.all(dials);
      if (Date.now() > deadline) throw new Error(`devnet: gateways did not all admit each other within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Each running gateway dials the running ones it has not admitted; with `onePerPair`, only
   * those of lower node id (the other side of the pair dials nobody). Failed dials resolve.
   */
  private async dialUnadmitted(online: DevnetNode[], onePerPair: boolean): Promise<{ dials: Promise<void>[]; admitted: bigint[][] }> {
    const admitted = await Promise.all(online.map((n) => n.control.admittedNodeIds()));
    const dials: Promise<void>[] = [];
    online.forEach((a, i) => {
      const known = new Set(admitted[i]);
      for (const b of online) {
        if (b === a || (onePerPair && b.nodeId >= a.nodeId) || known.has(b.nodeId)) continue;
        const addr = this.addresses.get(b.nodeId);
        if (addr) dials.push(a.control.dial(addr).catch(() => undefined));
      }
    });
    return { dials, admitted };
  }

  /** Starts a node's gateway and notes the address the others dial. */
  private async startGateway(n: DevnetNode): Promise<void> {
    await n.control.start();
    const [addr] = await n.control.peerAddresses();
    if (addr) this.addresses.set(n.nodeId, addr);
  }

  /** Stops every gateway, then the gateway processes. */
  private async stopGateways(): Promise<void> {
    clearTimeout(this.meshTimer);
    this.meshTimer = undefined;
    for (const n of this.nodes) await n.control.stop().catch(() => undefined);
    await Promise.all(this.hosts.map((h) => h.close()));
  }

  /**
   * Re-dials pairs that lost each other (an eviction, a dropped connection), as separate
   * machines would re-dial their bootstrap peers. A refused dial (the peer is still denied
   * at the other gate) is simply tried again later.
   */
  private keepMesh(): void {
    const tick = (): void => {
      void this.dialUnadmitted(this.online(), false)
        .then(({ dials }) => Promise.all(dials))
        .catch(() => undefined)
        .finally(() => {
        if (this.meshTimer !== undefined) this.meshTimer = setTimeout(tick, 2_000);
      });
    };
    this.meshTimer = setTimeout(tick, 2_000);
  }

  /**
   * Changes the mean gap between scheduled attestations of a node, from the next epoch each
   * gateway schedules on. Every gateway must use the same value (they derive the same
   * schedule), so all change together. The demos attest fast until every node is Trusted,
   * then calmly: tasks ask for their own rounds (offchain/relayer/task-rounds.ts).
   */
  async setAttestationInterval(meanIntervalMs: number): Promise<void> {
    if (!Number.isInteger(meanIntervalMs) || meanIntervalMs < 500) throw new RangeError(`mean attestation interval ${meanIntervalMs} ms is below 500 ms`);
    await Promise.all(this.nodes.map((n) => n.control.setMeanInterval(meanIntervalMs)));
  }

  /** setAttestationInterval, then waits for the next epoch, the first one scheduled with it. */
  async calmAttestation(meanIntervalMs: number, timeoutMs = 60_000): Promise<void> {
    await this.setAttestationInterval(meanIntervalMs);
    const from = await this.currentEpoch();
    await this.waitFor("the next epoch", async () => (await this.currentEpoch()) > from, timeoutMs);
  }

  /** Schedules a governance call on the timelock, waits its delay and executes it. */
  async governance(target: Address, abi: Abi, functionName: string, args: readonly unknown[]): Promise<void> {
    await this.governanceBatch([{ target, abi, functionName, args }]);
  }

  /** Several governance calls as one timelock operation (scheduleBatch, one delay, executeBatch). */
  async governanceBatch(calls: readonly GovernanceCall[]): Promise<void> {
    const timelock = this.deployment.contracts.Timelock;
    if (!timelock) throw new Error("devnet: no timelock in the deployment");
    const wallet = createWalletClient({ chain: chainFor(31337, this.rpcUrl), transport: http(this.rpcUrl), account: this.deployer });
    const targets = calls.map((c) => c.target);
    const values = calls.map(() => 0n);
    const payloads = calls.map((c) => encodeFunctionData({ abi: c.abi, functionName: c.functionName, args: c.args }));
    const salt = `0x${randomBytes(32).toString("hex")}` as Hex;
    const delay = await this.publicClient.readContract({ address: timelock, abi: timelockAbi, functionName: "getMinDelay" });
    const scheduled = await this.publicClient.waitForTransactionReceipt({
      hash: await wallet.writeContract({ address: timelock, abi: timelockAbi, functionName: "scheduleBatch", args: [targets, values, payloads, zeroHash, salt, delay] }),
    });
    // Ready once a block's timestamp reaches schedule time + delay: wait for the wall clock to pass it.
    const block = await this.publicClient.getBlock({ blockNumber: scheduled.blockNumber });
    const readyAtMs = (Number(block.timestamp) + Number(delay)) * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, readyAtMs - Date.now()) + 50));
    // Sent without a simulation: a call is judged at the latest block's timestamp, which
    // lags the wall clock while the chain is quiet, and would say "not ready" for a while.
    for (let attempt = 1; ; attempt++) {
      const receipt = await this.publicClient.waitForTransactionReceipt({
        hash: await wallet.writeContract({ address: timelock, abi: timelockAbi, functionName: "executeBatch", args: [targets, values, payloads, zeroHash, salt], gas: 2_000_000n }),
      });
      if (receipt.status === "success") return;
      // Mined a moment before the operation was ready (second-granular timestamps): again.
      if (attempt >= 10) throw new Error(`devnet: timelock execution of ${calls.map((c) => c.functionName).join(", ")} failed`);
      await new Promise((r) => setTimeout(r, 300));
    }
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
    return this.chainView.currentEpoch();
  }

  /** Publishes v2 of the scoring function and schedules it, via the timelock, from `effectiveEpoch`. */
  async upgradePolicy(version: "v2", effectiveEpoch: bigint | ((current: bigint) => bigint)): Promise<{ cid: Hex; effective: bigint; scheduledAt: bigint }> {
    const cid = cidToHex(await publishScoringSource(this.store, await bundledScoringSource(version)));
    // The epoch is read only now, right before the timelock operation starts: publishing
    // takes a moment, and the operation's delay must still end inside the epoch before the effective one.
    const scheduledAt = await this.currentEpoch();
    const effective = typeof effectiveEpoch === "bigint" ? effectiveEpoch : effectiveEpoch(scheduledAt);
    await this.governance(this.deployment.contracts.ScoringPolicy, scoringPolicyAbi as Abi, "scheduleUpgrade", [cid, effective]);
    return { cid, effective, scheduledAt };
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
    await this.stopGateways();
    await Promise.all(this.nodes.map((n) => n.machine.stop()));
    await this.machineHost?.close();
    await this.sandbox?.close();
    await this.store.close?.();
    await this.chain.stop();
  }
}
