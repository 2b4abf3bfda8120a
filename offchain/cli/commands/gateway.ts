/**
 * `trustmesh gateway start --config F`: the gateway daemon. Reads the config (see
 * offchain/relayer/config.ts), decrypts the gateway and VRF keys from their scrypt
 * keystores (password from the environment variable the config names; never logged),
 * enrols its HPC over the attested bridge, checks the node is registered with that
 * identity, then runs until SIGINT/SIGTERM. `gateway enrol` only enrols and prints what to
 * register (the digests and fingerprint root) for `trustmesh node register`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { AgentClient } from "../../attest/bridge/client.js";
import { generateStaticKey, staticKeyFromSecret } from "../../attest/bridge/noise.js";
import { parsePemBundle } from "../../attest/enrol/ekcert.js";
import { parseItems } from "../../attest/fingerprint/items.js";
import { buildFingerprintTree } from "../../attest/fingerprint/merkle.js";
import { decryptKeystore, readKeystoreFile } from "../../chain/keystore.js";
import { readDeploymentFile } from "../../chain/deployment-file.js";
import { trustBoardAbi } from "../../chain/artifacts.js";
import { TrustmeshError } from "../../core/errors.js";
import { openContentStore } from "../../../ipfs/adapter/index.js";
import { GatewayChain } from "../../relayer/chain-context.js";
import { loadGatewayConfig, type GatewayConfig } from "../../relayer/config.js";
import { enrolHpc } from "../../relayer/enrolment.js";
import { Gateway } from "../../relayer/gateway.js";
import { GatewayJournal } from "../../relayer/journal.js";
import { createLogger } from "../../relayer/logger.js";
import { Metrics } from "../../relayer/metrics.js";
import { identityDigestOf, parseSelectionStrings } from "../../relayer/assess.js";
import { readJsonFile, writeFileAtomic } from "../../relayer/atomic-file.js";
import { printJson, renderFields } from "../render.js";

class GatewayCommandError extends TrustmeshError {
  override name = "GatewayCommandError";
}

async function keys(config: GatewayConfig): Promise<{ gatewaySecret: Hex; vrfSecret: Uint8Array }> {
  const password = process.env[config.keys.passwordEnv];
  if (password === undefined) {
    throw new GatewayCommandError("PASSWORD_MISSING", `set ${config.keys.passwordEnv} to the keystores' password`);
  }
  const gatewaySecret = await decryptKeystore(await readKeystoreFile(config.keys.gatewayKeystore), password);
  const vrfHex = await decryptKeystore(await readKeystoreFile(config.keys.vrfKeystore), password);
  return { gatewaySecret, vrfSecret: Uint8Array.from(Buffer.from(vrfHex.slice(2), "hex")) };
}

/** The gateway's Noise static key for the bridge: made once, kept in dataDir (mode 0600). */
async function bridgeKey(config: GatewayConfig) {
  const path = join(config.dataDir, "bridge-key.json");
  const stored = await readJsonFile<{ secret?: string }>(path, {});
  if (stored.secret) return staticKeyFromSecret(Buffer.from(stored.secret, "hex"));
  const k = generateStaticKey();
  await writeFileAtomic(path, JSON.stringify({ secret: Buffer.from(k.secretKey).toString("hex"), publicKey: Buffer.from(k.publicKey).toString("hex") }));
  return k;
}

async function enrol(config: GatewayConfig) {
  const staticKey = await bridgeKey(config);
  const client = await AgentClient.connect({ host: config.agent.host, port: config.agent.port, staticKey, agentKey: Buffer.from(config.agent.publicKey, "hex") });
  try {
    const caBundle = config.attestation.ekCaBundle ? parsePemBundle(await readFile(config.attestation.ekCaBundle, "utf8")) : [];
    const identity = await enrolHpc(client, caBundle);
    const reply = await client.quote({ selection: [{ bank: "sha256", pcrs: [0] }], include: ["fingerprint"] });
    const items = parseItems(Object.fromEntries((reply.evidence.fingerprint ?? []).map((x) => [x.key, x.value])));
    const fingerprintRoot = (await buildFingerprintTree(items)).root;
    return { staticKey, identity, fingerprintRoot, identityDigest: identityDigestOf(identity.akDigest, identity.ekCertDigest, fingerprintRoot) };
  } finally {
    client.close();
  }
}

export function register(program: Command): void {
  const gateway = program.command("gateway").description("run a node's gateway daemon (relayer)");

  gateway
    .command("enrol")
    .description("enrol this gateway's HPC (EK chain + credential activation) and print what to register")
    .requiredOption("--config <file>", "gateway config (JSON)")
    .option("--json", "print JSON")
    .action(async (o: { config: string; json?: boolean }) => {
      const config = await loadGatewayConfig(o.config);
      const e = await enrol(config);
      const out = {
        tier: e.identity.tier,
        driver: e.identity.driver,
        akDigest: e.identity.akDigest,
        ekCertDigest: e.identity.ekCertDigest,
        fingerprintRoot: e.fingerprintRoot,
        gatewayBridgeKey: Buffer.from(e.staticKey.publicKey).toString("hex"),
      };
      if (o.json) printJson(out);
      else process.stdout.write(renderFields(Object.entries(out).map(([k, v]) => [k, String(v)])));
    });

  gateway
    .command("start")
    .description("start the gateway daemon: p2p, chain client, agent bridge, attestation service, verifier role")
    .requiredOption("--config <file>", "gateway config (JSON)")
    .action(async (o: { config: string }) => {
      const config = await loadGatewayConfig(o.config);
      const log = createLogger({ name: config.name });
      const metrics = new Metrics();
      const { gatewaySecret, vrfSecret } = await keys(config);
      const account = privateKeyToAccount(gatewaySecret);
      const deployment = await readDeploymentFile(config.chain.deployment);
      if (deployment.chainId !== config.chain.chainId) {
        throw new GatewayCommandError("WRONG_CHAIN", `the deployment file is for chain ${deployment.chainId}, the config says ${config.chain.chainId}`);
      }
      const chain = new GatewayChain(config.chain.rpcUrl, config.chain.chainId, deployment, account, log, metrics, config.chain.pollingIntervalMs);
      const nodeId = await chain.nodeIdOf(account.address);
      if (nodeId === 0n) {
        throw new GatewayCommandError("NOT_REGISTERED", `gateway ${account.address} is not registered`, {
          metaMessages: ["run `trustmesh gateway enrol` and register the node with `trustmesh node register` first"],
        });
      }
      const e = await enrol(config);
      const node = await chain.node(nodeId, 0);
      if (node.identityDigest.toLowerCase() !== e.identityDigest.toLowerCase()) {
        throw new GatewayCommandError("IDENTITY_MISMATCH", `the HPC's enrolled identity differs from node ${nodeId}'s registration`, {
          metaMessages: ["a different TPM, AK or hardware answered; re-register or rotate keys"],
        });
      }
      const store = await openContentStore(config.ipfs.kind === "kubo" ? { backend: "kubo", apiUrl: config.ipfs.apiUrl } : { backend: "embedded", directory: config.ipfs.dir });
      const gw = new Gateway({
        name: config.name,
        nodeId,
        gatewaySecret,
        vrfSecret,
        chain,
        store,
        journal: await GatewayJournal.open(config.dataDir),
        log,
        metrics,
        agent: { host: config.agent.host, port: config.agent.port, publicKey: Buffer.from(config.agent.publicKey, "hex"), staticKey: e.staticKey, rekeyIntervalMs: config.agent.rekeyIntervalMs },
        identity: e.identity,
        verifier: {
          revealWindowMs: config.attestation.revealWindowMs,
          roundTimeoutMs: config.attestation.roundTimeoutMs,
          maxActiveRounds: config.attestation.maxActiveRounds,
          selection: parseSelectionStrings(config.agent.selection),
          quorum: Number((await chain.publicClient.readContract({ address: chain.addresses.board, abi: trustBoardAbi, functionName: "params" }))[0]),
          meanIntervalMs: config.attestation.meanIntervalMs,
        },
        p2p: config.p2p,
        statusPort: config.status.port,
        onFailedVerdict: config.onFailedVerdict,
        byzantine: config.byzantine,
      });
      await gw.start();
      process.stderr.write(`gateway ${config.name} (node ${nodeId}) running; status ${gw.statusUrl ?? "off"}/status; p2p ${gw.peerAddresses.join(" ")}\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      await gw.stop();
      await store.close?.();
    });
}
