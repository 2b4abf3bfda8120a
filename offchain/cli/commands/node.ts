/**
 * `trustmesh node register|top-up|rotate-key|exit|withdraw|status`: the operator's
 * commands. Every write is pre-checked and simulated; nothing is sent when a check fails.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { nodeRegistryAbi } from "../../chain/artifacts.js";
import { readNode } from "../../chain/reads.js";
import { describeSigner } from "../../chain/signers.js";
import { bigintArg, CliInputError, resolveChain, resolveSigner, withChainOptions, withSignerOptions, type ChainOpts, type SignerOpts } from "../chain-options.js";
import { buildRegistration, parseAddress, parseTokenAmount, parseVrfPublicKey, type NodeKeysInput } from "../node-inputs.js";
import { minStake, registerWithPermit, rotateKeys, simpleNodeTx, topUp, type OperatorContext } from "../operator.js";
import { formatUnits18, printJson, Progress, renderFields } from "../render.js";

type WriteOpts = ChainOpts & SignerOpts;

export async function readKeysFile(path: string): Promise<NodeKeysInput> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new CliInputError("CLI_KEYS_FILE", `cannot read keys file ${path}`, { cause });
  }
  if (typeof json !== "object" || json === null) throw new CliInputError("CLI_KEYS_FILE", `${path} is not a JSON object`);
  const o = json as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : undefined);
  const tier = typeof o.tier === "number" ? o.tier : undefined;
  return {
    ...(str("gateway") ? { gateway: str("gateway") } : {}),
    ...(str("vrfPublicKey") ? { vrfPublicKey: str("vrfPublicKey") } : {}),
    ...(str("akDigest") ? { akDigest: str("akDigest") } : {}),
    ...(str("ekCertDigest") ? { ekCertDigest: str("ekCertDigest") } : {}),
    ...(str("fingerprintRoot") ? { fingerprintRoot: str("fingerprintRoot") } : {}),
    ...(tier !== undefined ? { tier } : {}),
    ...(str("metadataCid") ? { metadataCid: str("metadataCid") } : {}),
  };
}

async function operatorContext(opts: WriteOpts): Promise<OperatorContext> {
  const progress = new Progress(Boolean(opts.json));
  progress.step("connecting");
  const { conn, deployment } = await resolveChain(opts);
  const signer = await resolveSigner(opts);
  progress.done(`chain ${conn.chain.id}, signer ${describeSigner(signer)}`);
  return { conn, deployment, signer, progress };
}

function report(opts: { json?: boolean }, fields: Record<string, string>): void {
  if (opts.json) printJson(fields);
  else process.stdout.write(renderFields(Object.entries(fields)));
}

export function register(program: Command): void {
  const node = program.command("node").description("operator: register and stake a node, top up, rotate keys, exit, withdraw, status");

  withSignerOptions(
    withChainOptions(
      node
        .command("register")
        .description("register a node and bond its stake in one transaction (EIP-2612 permit + registerWithPermit)")
        .option("--keys <file>", "JSON with gateway, vrfPublicKey, akDigest, ekCertDigest, fingerprintRoot, tier, metadataCid")
        .option("--gateway <address>", "gateway signing address (default: the signer)")
        .option("--vrf-public-key <hex>", "gateway VRF public key (secp256k1, SEC1 hex)")
        .option("--ak-digest <bytes32>", "digest of the HPC's TPM attestation key")
        .option("--ek-cert-digest <bytes32>", "digest of the EK certificate (zero allowed below tier 2)")
        .option("--fingerprint-root <bytes32>", "hardware fingerprint Merkle root")
        .option("--tier <n>", "security tier (0-2)", (v) => Number(v))
        .option("--metadata-cid <cid>", "IPFS CID of the node's metadata document")
        .option("--stake <amount>", "tokens to bond (default: the registry's minimum)"),
    ),
  ).action(async (opts: WriteOpts & NodeKeysInput & { keys?: string; stake?: string }) => {
    const ctx = await operatorContext(opts);
    const fromFile = opts.keys ? await readKeysFile(opts.keys) : {};
    const flags: NodeKeysInput = {};
    for (const k of ["gateway", "vrfPublicKey", "akDigest", "ekCertDigest", "fingerprintRoot", "tier", "metadataCid"] as const) {
      if (opts[k] !== undefined) Object.assign(flags, { [k]: opts[k] });
    }
    const stake = opts.stake ? parseTokenAmount(opts.stake, "--stake") : await minStake(ctx);
    const reg = buildRegistration({ ...fromFile, ...flags }, stake, ctx.signer.address);
    const { nodeId, hash } = await registerWithPermit(ctx, reg);
    report(opts, { nodeId: String(nodeId), gateway: reg.gateway, stake: formatUnits18(stake), tx: hash });
  });

  withSignerOptions(
    withChainOptions(
      node
        .command("top-up")
        .description("add stake to a node (needs an allowance; --approve sends it first)")
        .argument("<id>", "node id", bigintArg("node id"))
        .requiredOption("--amount <amount>", "tokens to add")
        .option("--approve", "send the token approval first when the allowance is too low"),
    ),
  ).action(async (id: bigint, opts: WriteOpts & { amount: string; approve?: boolean }) => {
    const ctx = await operatorContext(opts);
    const hash = await topUp(ctx, id, parseTokenAmount(opts.amount, "--amount"), Boolean(opts.approve));
    const n = await readNode({ client: ctx.conn.publicClient, contracts: ctx.deployment.contracts, fromBlock: BigInt(ctx.deployment.startBlock) }, id);
    report(opts, { nodeId: String(id), stake: formatUnits18(n.stake), tx: hash });
  });

  withSignerOptions(
    withChainOptions(
      node
        .command("rotate-key")
        .description("replace the gateway address and/or the VRF key (old ones stay attributable)")
        .argument("<id>", "node id", bigintArg("node id"))
        .option("--gateway <address>", "new gateway signing address")
        .option("--vrf-public-key <hex>", "new VRF public key"),
    ),
  ).action(async (id: bigint, opts: WriteOpts & { gateway?: string; vrfPublicKey?: string }) => {
    if (!opts.gateway && !opts.vrfPublicKey) {
      throw new CliInputError("CLI_MISSING", "give --gateway and/or --vrf-public-key");
    }
    const ctx = await operatorContext(opts);
    const hash = await rotateKeys(ctx, id, opts.gateway ? parseAddress(opts.gateway, "--gateway") : undefined, opts.vrfPublicKey ? parseVrfPublicKey(opts.vrfPublicKey) : undefined);
    report(opts, { nodeId: String(id), tx: hash });
  });

  withSignerOptions(withChainOptions(node.command("exit").description("start unbonding: the node stops serving; stake unlocks after the delay").argument("<id>", "node id", bigintArg("node id")))).action(
    async (id: bigint, opts: WriteOpts) => {
      const ctx = await operatorContext(opts);
      const hash = await simpleNodeTx(ctx, "requestExit", id);
      const n = await ctx.conn.publicClient.readContract({ address: ctx.deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [id] });
      report(opts, { nodeId: String(id), unlocksAt: new Date(Number(n.until) * 1000).toISOString(), tx: hash });
    },
  );

  withSignerOptions(withChainOptions(node.command("withdraw").description("take the stake back after unbonding").argument("<id>", "node id", bigintArg("node id")))).action(
    async (id: bigint, opts: WriteOpts) => {
      const ctx = await operatorContext(opts);
      const hash = await simpleNodeTx(ctx, "withdraw", id);
      report(opts, { nodeId: String(id), tx: hash });
    },
  );

  withChainOptions(
    node
      .command("status")
      .description("a node's status, stake, reputation and latest round")
      .argument("[id]", "node id", bigintArg("node id"))
      .option("--gateway <address>", "find the node by its gateway address"),
  ).action(async (id: bigint | undefined, opts: ChainOpts & { gateway?: string }) => {
    const { conn, deployment } = await resolveChain(opts);
    let nodeId = id;
    if (nodeId === undefined) {
      if (!opts.gateway) throw new CliInputError("CLI_MISSING", "give a node id or --gateway ADDRESS");
      nodeId = await conn.publicClient.readContract({ address: deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "nodeOfGateway", args: [parseAddress(opts.gateway, "--gateway")] });
      if (nodeId === 0n) throw new CliInputError("CLI_NOT_FOUND", `no node has gateway ${opts.gateway}`);
    }
    const n = await readNode({ client: conn.publicClient, contracts: deployment.contracts, fromBlock: BigInt(deployment.startBlock) }, nodeId);
    if (opts.json) return printJson(n);
    process.stdout.write(
      renderFields([
        ["node", String(n.id)],
        ["status", n.status + (n.until ? ` until ${new Date(n.until * 1000).toISOString()}` : "")],
        ["stake", formatUnits18(n.stake)],
        ["reputation", String(n.reputation)],
        ["tier", String(n.tier)],
        ["verdicts", String(n.verdictCount)],
        ["last round", n.lastRound === 0n ? "-" : `0x${n.lastRound.toString(16)}`],
        ["gateway", n.gateway],
        ["operator", n.operator],
      ]),
    );
  });
}
