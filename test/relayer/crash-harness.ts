/**
 * Crash-test harness: one devnet node's gateway taken out of the devnet's process and run as
 * its own OS process (`trustmesh gateway start --config F`, scrypt keystores, its own
 * embedded IPFS, the same swtpm-backed HPC agent and the same state directory), plus a
 * witness that records every vote signature that node puts on the wire.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { decodeFunctionData, recoverTypedDataAddress, type Address, type Hex } from "viem";
import type { Devnet, DevnetNode } from "../../offchain/devnet/devnet.js";
import { encryptKeystore, LIGHT_SCRYPT, writeKeystoreFile } from "../../offchain/chain/keystore.js";
import { trustBoardAbi } from "../../offchain/chain/artifacts.js";
import { trustBoardDomain, voteTypes, type Vote } from "../../offchain/chain/eip712.js";
import { openContentStore, cidToHex } from "../../ipfs/adapter/index.js";
import { bundledScoringSource, publishScoringSource } from "../../ipfs/scoring/index.js";
import { swtpmCa } from "../../firmware/agent/swtpm.js";
import { decodeMessages } from "../../offchain/core/pbft/index.js";
import { MessageType } from "../../offchain/p2p/topics.js";
import { decodeRoundPayload } from "../../offchain/relayer/round-messages.js";
import { readJournalStateSync } from "../../offchain/relayer/journal.js";

const ROOT = resolve(import.meta.dirname, "../..");
const PASSWORD = "crash-test-password";

export interface JournalSnapshot {
  nonceReservedUpTo: string;
  votes: Record<string, { voteHash: string; signature: string; vote?: Record<string, unknown> }>;
  intents?: Record<string, { voteHash: string; vote: Record<string, unknown> }>;
  rounds: Record<string, { round: string; phase: string; nonce?: string }>;
}

export interface GatewayProcessSetup {
  configPath: string;
  dataDir: string;
  logPath: string;
}

/** Writes the keystores, bridge key, IPFS store (scoring v1 pinned) and config of `node`'s gateway daemon. */
export async function prepareGatewayProcess(net: Devnet, node: DevnetNode, dir: string, tempo: { meanIntervalMs: number; revealWindowMs: number; roundTimeoutMs: number }): Promise<GatewayProcessSetup> {
  await mkdir(dir, { recursive: true });
  const dataDir = join(net.opts.dir, `gw-${node.index + 1}`); // the state directory the node already had
  const rt = node.gateway.rt;
  await writeKeystoreFile(join(dir, "gateway.keystore.json"), await encryptKeystore({ privateKey: rt.gatewaySecret, password: PASSWORD, kdf: LIGHT_SCRYPT }));
  await writeKeystoreFile(
    join(dir, "vrf.keystore.json"),
    await encryptKeystore({ privateKey: `0x${Buffer.from(rt.vrfSecret).toString("hex")}` as Hex, password: PASSWORD, kdf: LIGHT_SCRYPT }),
  );
  await mkdir(dataDir, { recursive: true });
  // The bridge key the HPC agent already pins for this gateway.
  await writeFile(
    join(dataDir, "bridge-key.json"),
    JSON.stringify({ secret: Buffer.from(node.machine.gatewayKey.secretKey).toString("hex"), publicKey: Buffer.from(node.machine.gatewayKey.publicKey).toString("hex") }),
    { mode: 0o600 },
  );
  const ipfsDir = join(dir, "ipfs");
  const store = await openContentStore({ backend: "embedded", directory: ipfsDir });
  const policy = cidToHex(await publishScoringSource(store, await bundledScoringSource("v1")));
  await store.close?.();
  if (policy !== net.policyV1) throw new Error(`scoring v1 pinned under ${policy}, the chain names ${net.policyV1}`);
  const ca = swtpmCa(join(net.opts.dir, "ca"));
  const bundle = join(dir, "ek-ca.pem");
  await writeFile(bundle, (await readFile(ca.rootCertPath, "utf8")) + "\n" + (await readFile(ca.issuerCertPath, "utf8")));
  const config = {
    name: `gw-${node.index + 1}-process`,
    dataDir,
    chain: { rpcUrl: net.rpcUrl, chainId: 31337, deployment: join(net.opts.dir, "deployment.json"), pollingIntervalMs: 400 },
    keys: { gatewayKeystore: join(dir, "gateway.keystore.json"), vrfKeystore: join(dir, "vrf.keystore.json"), passwordEnv: "TRUSTMESH_KEYSTORE_PASSWORD" },
    p2p: { listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: net.nodes.filter((n) => n !== node).map((n) => n.gateway.peerAddresses[0]).filter((a): a is string => a !== undefined) },
    agent: { host: "127.0.0.1", port: node.machine.port, publicKey: Buffer.from(node.machine.agentKey.publicKey).toString("hex"), rekeyIntervalMs: 60_000, selection: ["sha256:0,1,2,3,4,5,6,7,8,9,10,11"] },
    ipfs: { kind: "embedded", dir: ipfsDir },
    attestation: { ...tempo, ekCaBundle: bundle },
    onFailedVerdict: "report",
    status: { port: 0 },
  };
  const configPath = join(dir, "gateway.json");
  await writeFile(configPath, JSON.stringify(config, null, 2));
  return { configPath, dataDir, logPath: join(dir, "gateway.log") };
}

/** A running `trustmesh gateway start` process. */
export class GatewayProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = "";
  private output = "";
  private readonly log: WriteStream;

  private constructor(readonly child: ChildProcess, logPath: string) {
    this.log = createWriteStream(logPath, { flags: "a" });
    child.stdout?.on("data", (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-20_000);
      this.log.write(b);
    });
    child.stderr?.on("data", (b: Buffer) => {
      this.stderr += b.toString();
      this.log.write(b);
    });
    this.exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
    void this.exited.then(() => this.log.end());
  }

  static spawn(setup: GatewayProcessSetup, fault?: string): GatewayProcess {
    const env: NodeJS.ProcessEnv = { ...process.env, TRUSTMESH_KEYSTORE_PASSWORD: PASSWORD, TRUSTMESH_LOG_LEVEL: "info" };
    delete env.TRUSTMESH_FAULT;
    if (fault) env.TRUSTMESH_FAULT = fault;
    const child = spawn(process.execPath, [join(ROOT, "bin/trustmesh.js"), "gateway", "start", "--config", setup.configPath], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    return new GatewayProcess(child, setup.logPath);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves once the daemon printed its "running" line (it has joined the network). */
  async running(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!/\) running; status /.test(this.stderr)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`gateway process exited early:\n${this.stderr.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`gateway process not running after ${timeoutMs} ms:\n${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The round at which the fault point killed the process. */
  faultRound(): bigint | undefined {
    const m = /TRUSTMESH_FAULT \S+ round=(\d+)/.exec(this.stderr);
    return m ? BigInt(m[1] as string) : undefined;
  }

  /** The daemon's status endpoint, as text (admitted peers, connections, metrics). */
  async statusReport(): Promise<string> {
    // "running; status http://127.0.0.1:PORT/status; p2p ...": the URL without its separator.
    const url = /running; status (\S+?);/.exec(this.stderr)?.[1];
    if (url === undefined) return "no status endpoint printed";
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return await res.text();
  }

  tail(): string {
    return `--- stderr\n${this.stderr.slice(-3000)}\n--- log\n${this.output.slice(-6000)}`;
  }

  /** Ends the process (by its own pid only) and waits for it. */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * The journal as the daemon would reload it: journal.json alone lacks the changes on its log.
 * Synchronous for its callers in crash-restart.test.ts; safe while the daemon is writing.
 */
export function readJournal(dataDir: string): JournalSnapshot {
  const state = readJournalStateSync(dataDir);
  if (state === undefined) throw new Error(`no gateway journal in ${dataDir}`);
  return state;
}

/**
 * Every vote signature a node sends: the endorsements of its PBFT commits and its
 * VoteAnnounce messages, by round, as another gateway of the network receives them.
 */
export class SignatureWitness {
  readonly byRound = new Map<string, Set<string>>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(listener: DevnetNode, readonly watched: bigint) {
    const host = listener.gateway.p2p;
    this.unsubscribe.push(
      host.subscribe("pbft", (m) => {
        if (m.envelope.type !== MessageType.Pbft) return;
        try {
          if (m.envelope.sender !== watched) return;
          // One envelope may carry a bundle: everything one busy spell of the replica sent.
          // A commit is authored by its `replica`; relayed copies of it carry the same signatures.
          for (const msg of decodeMessages(m.envelope.payload)) {
            if (msg.type !== "commit") continue;
            for (const e of msg.endorsements) if (e) this.add(m.envelope.round, e.signature);
          }
        } catch {
          // not ours to judge
        }
      }),
    );
    this.unsubscribe.push(
      host.subscribe("attestation", (m) => {
        if (m.envelope.type !== MessageType.VoteAnnounce || m.envelope.sender !== watched) return;
        try {
          const p = decodeRoundPayload(m.envelope.payload);
          if (p.kind === "vote") this.add(m.envelope.round, p.signature);
        } catch {
          // idem
        }
      }),
    );
  }

  private add(round: bigint, signature: Hex): void {
    const key = round.toString();
    const set = this.byRound.get(key) ?? new Set<string>();
    set.add(signature.toLowerCase());
    this.byRound.set(key, set);
  }

  close(): void {
    for (const u of this.unsubscribe) u();
  }
}

export interface RecordedCertificate {
  vote: Vote;
  signers: Address[];
  signatures: Hex[];
  /** Who sent the submitCertificate transaction. */
  submitter: Address;
}

/** The certificate that recorded `round` on chain, read back from its transaction. */
export async function recordedCertificate(net: Devnet, round: bigint): Promise<RecordedCertificate | undefined> {
  const board = net.deployment.contracts.TrustBoard;
  const logs = await net.publicClient.getContractEvents({ address: board, abi: trustBoardAbi, eventName: "VerdictRecorded", args: { round }, fromBlock: BigInt(net.deployment.startBlock) });
  const log = logs[0];
  if (!log) return undefined;
  const tx = await net.publicClient.getTransaction({ hash: log.transactionHash });
  const call = decodeFunctionData({ abi: trustBoardAbi, data: tx.input });
  if (call.functionName !== "submitCertificate") throw new Error(`round ${round} was recorded by ${call.functionName}`);
  const [v, signatures] = call.args as unknown as [Vote, Hex[]];
  const vote: Vote = { round: v.round, node: v.node, verdict: Number(v.verdict), score: Number(v.score), evidenceCid: v.evidenceCid, policyCid: v.policyCid };
  const domain = trustBoardDomain(31337, board);
  const signers: Address[] = [];
  for (const signature of signatures) signers.push(await recoverTypedDataAddress({ domain, types: voteTypes, primaryType: "Vote", message: vote, signature }));
  return { vote, signers, signatures: [...signatures], submitter: tx.from };
}
