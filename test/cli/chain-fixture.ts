/**
 * A real local chain for the CLI and web tests: `hardhat node` on a free port, the
 * contracts deployed through offchain/chain/deploy.ts, funded operator keys, a deployment
 * file on disk, and a runner for bin/trustmesh.js as a child process.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { bytesToHex, createPublicClient, createWalletClient, http, parseEther, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { chainFor } from "../../offchain/chain/client.js";
import { deployTrustMesh } from "../../offchain/chain/deploy.js";
import { deploymentFileOf, writeDeploymentFile, type DeploymentFile } from "../../offchain/chain/deployment-file.js";
import { startLocalNode, type LocalNode } from "../../offchain/chain/local-node.js";

export const ROOT = resolve(import.meta.dirname, "../..");
/** hardhat node's first default account (public, well-known test key). */
export const HARDHAT_KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" as Hex;

export interface Operator {
  key: Hex;
  address: Address;
}

export interface ChainFixture {
  node: LocalNode;
  dir: string;
  deploymentPath: string;
  deployment: DeploymentFile;
  publicClient: PublicClient;
  operators: Operator[];
  /** Unlocked accounts of the hardhat node (usable through it as a remote EIP-1193 signer). */
  nodeAccounts: Address[];
  stop(): Promise<void>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `trustmesh ...args` against the fixture chain. */
export function runCli(f: ChainFixture, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((res) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin/trustmesh.js"), ...args],
      {
        cwd: f.dir,
        env: { PATH: process.env.PATH ?? "", HOME: f.dir, TRUSTMESH_RPC_URL: f.node.rpcUrl, TRUSTMESH_DEPLOYMENT: f.deploymentPath, ...env },
        timeout: 60_000,
      },
      (err, stdout, stderr) => res({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

export async function cidOf(text: string): Promise<string> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text))).toString();
}

export function cidHexOf(cid: string): Hex {
  return bytesToHex(CID.parse(cid).bytes);
}

/** A valid secp256k1 public key (compressed hex) for a VRF key field. */
export function vrfPublicKeyHex(): Hex {
  return bytesToHex(hexToCompressed(privateKeyToAccount(generatePrivateKey()).publicKey));
}

function hexToCompressed(uncompressed: Hex): Uint8Array {
  const b = Buffer.from(uncompressed.slice(4), "hex");
  const x = b.subarray(0, 32);
  const yOdd = (b[63]! & 1) === 1;
  return Uint8Array.from([yOdd ? 3 : 2, ...x]);
}

export async function startChainFixture(opts: { operators?: number; quorum?: number } = {}): Promise<ChainFixture> {
  const dir = await mkdtemp(join(tmpdir(), "tm-cli-"));
  const node = await startLocalNode({ projectRoot: ROOT });
  try {
    const chain = chainFor(31337, node.rpcUrl);
    const publicClient = createPublicClient({ chain, transport: http(node.rpcUrl), pollingInterval: 200 }) as PublicClient;
    const deployer = createWalletClient({ account: privateKeyToAccount(HARDHAT_KEY0), chain, transport: http(node.rpcUrl) });
    const operators: Operator[] = Array.from({ length: opts.operators ?? 4 }, () => {
      const key = generatePrivateKey();
      return { key, address: privateKeyToAccount(key).address };
    });
    const nodeAccounts = await createWalletClient({ chain, transport: http(node.rpcUrl) }).getAddresses();
    const remote = nodeAccounts.slice(5, 8);
    const r = await deployTrustMesh(deployer, publicClient, {
      governance: { kind: "account", governor: deployer.account.address },
      params: { quorum: opts.quorum ?? 2 },
      mint: [...operators.map((o) => o.address), ...remote].map((to) => ({ to, amount: parseEther("1000") })),
    });
    for (const o of operators) {
      const hash = await deployer.sendTransaction({ to: o.address, value: parseEther("10") });
      await publicClient.waitForTransactionReceipt({ hash });
    }
    const deployment = deploymentFileOf(r);
    const deploymentPath = join(dir, "deployment.json");
    await writeDeploymentFile(deploymentPath, deployment);
    return {
      node,
      dir,
      deploymentPath,
      deployment,
      publicClient,
      operators,
      nodeAccounts: remote,
      stop: async () => {
        await node.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await node.stop();
    throw e;
  }
}
