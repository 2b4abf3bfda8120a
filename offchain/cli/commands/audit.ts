/**
 * `trustmesh audit nodes|node|rounds|policy`: what an auditor learns from the chain alone
 * (no gateway state). Human tables by default, --json for scripts, --rpc for any chain.
 */
import type { Command } from "commander";
import type { AuditTarget } from "../../chain/reads.js";
import { listNodes, readNodeDetail, readPolicyHistory, readVerdicts, REPUTATION_REASONS } from "../../chain/reads.js";
import { bigintArg, resolveChain, withChainOptions, type ChainOpts } from "../chain-options.js";
import { formatUnits18, printJson, Progress, renderFields, renderTable } from "../render.js";

async function target(opts: ChainOpts): Promise<AuditTarget> {
  const { conn, deployment } = await resolveChain(opts);
  const c = deployment.contracts;
  return {
    client: conn.publicClient,
    contracts: { NodeRegistry: c.NodeRegistry, Reputation: c.Reputation, TrustBoard: c.TrustBoard, ScoringPolicy: c.ScoringPolicy, ...(c.EpochClock ? { EpochClock: c.EpochClock } : {}) },
    fromBlock: BigInt(deployment.startBlock),
  };
}

function short(s: string, n = 18): string {
  return s.length > n ? `${s.slice(0, n - 7)}…${s.slice(-6)}` : s;
}

export function register(program: Command): void {
  const audit = program.command("audit").description("auditor reads from the chain alone (nodes, verdicts, rounds, scoring policy)");

  withChainOptions(audit.command("nodes").description("every registered node: status, stake, reputation, tier, verdicts")).action(async (opts: ChainOpts) => {
    const t = await target(opts);
    const nodes = await listNodes(t);
    if (opts.json) return printJson(nodes);
    if (nodes.length === 0) return void process.stdout.write("no nodes registered\n");
    process.stdout.write(
      renderTable(nodes, [
        { header: "id", get: (n) => String(n.id), align: "right" },
        { header: "status", get: (n) => n.status },
        { header: "tier", get: (n) => String(n.tier), align: "right" },
        { header: "stake", get: (n) => formatUnits18(n.stake), align: "right" },
        { header: "reputation", get: (n) => String(n.reputation), align: "right" },
        { header: "verdicts", get: (n) => String(n.verdictCount), align: "right" },
        { header: "gateway", get: (n) => n.gateway },
        { header: "operator", get: (n) => n.operator },
      ]),
    );
  });

  withChainOptions(
    audit
      .command("node")
      .description("one node: status, stake, reputation, identity, verdict history with evidence CIDs")
      .argument("<id>", "node id", bigintArg("node id")),
  ).action(async (id: bigint, opts: ChainOpts) => {
    const t = await target(opts);
    const progress = new Progress(Boolean(opts.json));
    progress.step(`reading node ${id} and its history`);
    const d = await readNodeDetail(t, id);
    progress.fail();
    if (opts.json) return printJson(d);
    if (d.statusCode === 0) return void process.stdout.write(`node ${id} is not registered\n`);
    process.stdout.write(
      renderFields([
        ["node", String(d.id)],
        ["status", d.status + (d.until ? ` until ${new Date(d.until * 1000).toISOString()}` : "")],
        ["stake", formatUnits18(d.stake)],
        ["reputation", String(d.reputation)],
        ["tier", String(d.tier)],
        ["operator", d.operator],
        ["gateway", d.gateway],
        ["metadata CID", d.metadataCid || "-"],
        ["AK digest", d.akDigest],
        ["EK cert digest", d.ekCertDigest],
        ["fingerprint root", d.fingerprintRoot],
        ["registered at block", d.registeredBlock === null ? "-" : String(d.registeredBlock)],
      ]),
    );
    process.stdout.write(`\nverdict history (${d.verdicts.length})\n`);
    if (d.verdicts.length > 0) {
      process.stdout.write(
        renderTable(d.verdicts, [
          { header: "block", get: (v) => String(v.blockNumber), align: "right" },
          { header: "epoch", get: (v) => String(v.epoch), align: "right" },
          { header: "seq", get: (v) => String(v.sequence), align: "right" },
          { header: "verdict", get: (v) => v.verdict + (v.voided ? " (voided)" : "") },
          { header: "score", get: (v) => String(v.score), align: "right" },
          { header: "signers", get: (v) => String(v.signers.length), align: "right" },
          { header: "evidence CID", get: (v) => v.evidenceCid || "-" },
        ]),
      );
    }
    process.stdout.write(`\nreputation history (${d.reputationHistory.length})\n`);
    if (d.reputationHistory.length > 0) {
      process.stdout.write(
        renderTable(d.reputationHistory, [
          { header: "block", get: (p) => String(p.blockNumber), align: "right" },
          { header: "score", get: (p) => String(p.score), align: "right" },
          { header: "reason", get: (p) => REPUTATION_REASONS[p.reason] ?? String(p.reason) },
        ]),
      );
    }
  });

  withChainOptions(
    audit
      .command("rounds")
      .description("recorded attestation rounds (verdicts), oldest first")
      .option("--since <block>", "only rounds recorded at or after this block", bigintArg("--since"))
      .option("--node <id>", "only rounds of this node", bigintArg("--node")),
  ).action(async (opts: ChainOpts & { since?: bigint; node?: bigint }) => {
    const t = await target(opts);
    const rounds = await readVerdicts(t, { ...(opts.since !== undefined ? { sinceBlock: opts.since } : {}), ...(opts.node !== undefined ? { node: opts.node } : {}) });
    if (opts.json) return printJson(rounds);
    if (rounds.length === 0) return void process.stdout.write("no rounds recorded\n");
    process.stdout.write(
      renderTable(rounds, [
        { header: "block", get: (v) => String(v.blockNumber), align: "right" },
        { header: "round", get: (v) => `0x${v.round.toString(16)}` },
        { header: "epoch", get: (v) => String(v.epoch), align: "right" },
        { header: "node", get: (v) => String(v.node), align: "right" },
        { header: "verdict", get: (v) => v.verdict + (v.voided ? " (voided)" : "") },
        { header: "score", get: (v) => String(v.score), align: "right" },
        { header: "signers", get: (v) => String(v.signers.length), align: "right" },
        { header: "evidence CID", get: (v) => v.evidenceCid || "-" },
        { header: "policy CID", get: (v) => short(v.policyCid, 24) },
      ]),
    );
  });

  withChainOptions(audit.command("policy").description("scoring-policy history: every CID with the epoch it takes effect")).action(async (opts: ChainOpts) => {
    const t = await target(opts);
    const h = await readPolicyHistory(t);
    if (opts.json) return printJson(h);
    process.stdout.write(`current epoch: ${h.currentEpoch ?? "unknown"}\n`);
    if (h.entries.length === 0) return void process.stdout.write("no scoring policy scheduled\n");
    process.stdout.write(
      renderTable(h.entries, [
        { header: "#", get: (p) => String(p.index), align: "right" },
        { header: "from epoch", get: (p) => String(p.effectiveEpoch), align: "right" },
        { header: "state", get: (p) => (p.active ? "active" : p.pending ? "pending" : "superseded") },
        { header: "CID", get: (p) => p.cid },
      ]),
    );
  });
}
