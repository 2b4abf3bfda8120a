/**
 * Deploys the whole contract system to a fresh local chain (`hardhat node` on 127.0.0.1),
 * writes the deployment file, and prints the addresses and a registry summary read back
 * from the chain. `--keep` leaves the chain running (the deployment file then works with
 * every `trustmesh` command: `--rpc URL --deployment FILE`).
 */
import "../offchain/core/polyfills.js";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { createPublicClient, createWalletClient, formatEther, http, parseEther, type PublicClient } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_MNEMONIC, startLocalNode } from "../offchain/chain/local-node.js";
import { chainFor } from "../offchain/chain/client.js";
import { deployTrustMesh } from "../offchain/chain/deploy.js";
import { writeDeploymentFile, type DeploymentFile } from "../offchain/chain/deployment-file.js";
import { epochClockAbi, nodeRegistryAbi, scoringPolicyAbi, trustBoardAbi } from "../offchain/chain/artifacts.js";
import { cidText } from "../offchain/chain/reads.js";
import { ensureWebBuilt, startWebServer } from "../offchain/cli/web-server.js";


const opts = new Command()
  .name("deploy-local")
  .description("Deploy trustmesh to a local hardhat node and print the addresses and a registry summary")
  .option("--keep", "leave the chain running")
  .option("--json", "print the summary as JSON")
  .option("--out <file>", "deployment file", ".state/deployment.json")
  .parse(process.argv)
  .opts<{ keep?: boolean; json?: boolean; out: string }>();

async function main(): Promise<void> {
  const say = (s: string) => {
    if (!opts.json) process.stderr.write(`${s}\n`);
  };
  say("starting hardhat node on 127.0.0.1 ...");
  const node = await startLocalNode();
  try {
    const chain = chainFor(31337, node.rpcUrl);
    const publicClient = createPublicClient({ chain, transport: http(node.rpcUrl), pollingInterval: 100 }) as PublicClient;
    const deployer = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 0 });
    const wallet = createWalletClient({ chain, transport: http(node.rpcUrl), account: deployer });
    say("deploying the contracts (TimelockController governance) ...");
    const operators = [1, 2, 3].map((i) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }));
    const d = await deployTrustMesh(wallet, publicClient, {
      governance: { kind: "timelock", proposers: [deployer.address], executors: [deployer.address] },
      mint: operators.map((o) => ({ to: o.address, amount: parseEther("1000") })),
    });
    const deployment: DeploymentFile = { format: "trustmesh-deployment/1", chainId: d.chainId, startBlock: Number(d.startBlock), contracts: d.contracts };
    const out = resolve(opts.out);
    await mkdir(join(out, ".."), { recursive: true });
    await writeDeploymentFile(out, deployment);

    const c = d.contracts;
    const read = <T>(p: Promise<T>) => p;
    const [nodeCount, minStake, totalStaked, eligible, epoch, quorum, policy] = await Promise.all([
      read(publicClient.readContract({ address: c.NodeRegistry, abi: nodeRegistryAbi, functionName: "nodeCount" })),
      read(publicClient.readContract({ address: c.NodeRegistry, abi: nodeRegistryAbi, functionName: "minStake" })),
      read(publicClient.readContract({ address: c.NodeRegistry, abi: nodeRegistryAbi, functionName: "totalStaked" })),
      read(publicClient.readContract({ address: c.NodeRegistry, abi: nodeRegistryAbi, functionName: "eligibleVerifierCount" })),
      read(publicClient.readContract({ address: c.EpochClock, abi: epochClockAbi, functionName: "currentEpoch" })),
      read(publicClient.readContract({ address: c.TrustBoard, abi: trustBoardAbi, functionName: "params" })),
      read(publicClient.readContract({ address: c.ScoringPolicy, abi: scoringPolicyAbi, functionName: "activeCid", args: [1n] })),
    ]);
    const summary = {
      rpcUrl: node.rpcUrl,
      chainId: d.chainId,
      deploymentFile: out,
      governor: d.governor,
      contracts: c,
      registry: {
        nodes: Number(nodeCount),
        minStake: formatEther(minStake),
        totalStaked: formatEther(totalStaked),
        eligibleVerifiers: Number(eligible),
        currentEpoch: Number(epoch),
        quorum: Number(quorum[0]),
        scoringPolicy: cidText(policy),
      },
    };
    if (opts.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    } else {
      const lines = ["", "trustmesh deployed to a local chain", `  RPC ${node.rpcUrl} (chain ${d.chainId}), deployment file ${out}`, "", "contracts:"];
      for (const [name, address] of Object.entries(c)) lines.push(`  ${name.padEnd(14)} ${address}`);
      lines.push("", "registry:");
      for (const [k, v] of Object.entries(summary.registry)) lines.push(`  ${k.padEnd(18)} ${v}`);
      process.stdout.write(lines.join("\n") + "\n\n");
    }
    if (opts.keep) {
      const root = await ensureWebBuilt((step) => say(step));
      const { url, server } = await startWebServer({ port: 0, root, config: async () => ({ rpc: node.rpcUrl, deployment }) });
      say(`chain running at ${node.rpcUrl}; dashboard at ${url}`);
      say(`try: ./bin/trustmesh.js audit nodes --rpc ${node.rpcUrl} --deployment ${out}   (Ctrl-C stops)`);
      await new Promise<void>((r) => {
        process.once("SIGINT", () => r());
        process.once("SIGTERM", () => r());
      });
      server.close();
    }
  } finally {
    await node.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`deploy failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
