/**
 * The auditor view: nodes, one node's detail with verdict history and evidence CIDs,
 * reputation over time (SVG), rounds and the scoring-policy history. Everything comes
 * from the chain through offchain/chain/reads.ts, the same code the CLI uses.
 */
import {
  listNodes,
  readNodeDetail,
  readPolicyHistory,
  readReputationHistory,
  readVerdicts,
  REPUTATION_REASONS,
  type AuditTarget,
  type NodeSummary,
  type VerdictEntry,
} from "../../offchain/chain/reads.js";
import { reputationChartSvg, type Series } from "./chart.js";
import { $, esc, formatTokens, shortHex, tableHtml, tierName } from "./dom.js";
import { state } from "./state.js";

function statusBadge(s: string): string {
  return `<span class="badge s-${esc(s)}">${esc(s)}</span>`;
}

function verdictCell(v: VerdictEntry): string {
  return `<span class="v-${esc(v.verdict)}">${esc(v.verdict)}</span>${v.voided ? " (voided)" : ""}`;
}

function nodesTable(nodes: NodeSummary[]): string {
  if (nodes.length === 0) return `<p class="muted">No nodes registered yet.</p>`;
  return tableHtml(
    nodes,
    [
      { header: "id", cell: (n) => esc(n.id), cls: "num" },
      { header: "status", cell: (n) => statusBadge(n.status) },
      { header: "stake", cell: (n) => esc(formatTokens(n.stake)), cls: "num" },
      { header: "reputation", cell: (n) => esc(n.reputation), cls: "num" },
      { header: "tier", cell: (n) => esc(tierName(n.tier)) },
      { header: "verdicts", cell: (n) => esc(n.verdictCount), cls: "num" },
      { header: "gateway", cell: (n) => esc(shortHex(n.gateway)), cls: "mono" },
      { header: "operator", cell: (n) => esc(shortHex(n.operator)), cls: "mono" },
    ],
    (n) => `class="clickable${state.selectedNode === n.id ? " selected" : ""}" data-node="${esc(n.id)}" title="show node ${esc(n.id)}"`,
  );
}

function verdictTable(rows: VerdictEntry[], withNode: boolean): string {
  return tableHtml(rows, [
    { header: "block", cell: (v) => esc(v.blockNumber), cls: "num" },
    { header: "epoch", cell: (v) => esc(v.epoch), cls: "num" },
    ...(withNode ? [{ header: "node", cell: (v: VerdictEntry) => esc(v.node), cls: "num" }] : []),
    { header: "seq", cell: (v) => esc(v.sequence), cls: "num" },
    { header: "verdict", cell: verdictCell },
    { header: "score", cell: (v) => esc(v.score), cls: "num" },
    { header: "signers", cell: (v) => esc(v.signers.length), cls: "num" },
    { header: "evidence CID", cell: (v) => esc(v.evidenceCid || "-"), cls: "mono" },
  ]);
}

export async function renderNodeDetail(t: AuditTarget, id: bigint): Promise<void> {
  const el = $("node-detail");
  const d = await readNodeDetail(t, id);
  const fields: [string, string][] = [
    ["status", d.status + (d.until ? ` until ${new Date(d.until * 1000).toISOString()}` : "")],
    ["stake", formatTokens(d.stake)],
    ["reputation", String(d.reputation)],
    ["tier", tierName(d.tier)],
    ["operator", d.operator],
    ["gateway", d.gateway],
    ["metadata CID", d.metadataCid || "-"],
    ["fingerprint root", d.fingerprintRoot],
    ["AK digest", d.akDigest],
  ];
  // Reputation starts at zero on registration; drawing that point shows the first rise.
  const start = { block: Number(d.registeredBlock ?? t.fromBlock), value: 0 };
  const series: Series[] = [{ label: `node ${id}`, points: [start, ...d.reputationHistory.map((p) => ({ block: Number(p.blockNumber), value: Number(p.score) }))] }];
  el.innerHTML = `
    <h3>Node ${esc(id)}</h3>
    <dl class="fields">${fields.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>
    <h3>Verdict history (${d.verdicts.length})</h3>
    ${d.verdicts.length ? verdictTable(d.verdicts, false) : `<p class="muted">No verdicts yet.</p>`}
    <h3>Reputation changes (${d.reputationHistory.length})</h3>
    ${d.reputationHistory.length ? tableHtml(d.reputationHistory, [
      { header: "block", cell: (p) => esc(p.blockNumber), cls: "num" },
      { header: "score", cell: (p) => esc(p.score), cls: "num" },
      { header: "reason", cell: (p) => esc(REPUTATION_REASONS[p.reason] ?? p.reason) },
    ]) : ""}
    ${reputationChartSvg(series, { width: 560, height: 160 })}`;
  el.classList.remove("hidden");
}

/** Re-reads everything the auditor tab shows. */
export async function renderAuditor(t: AuditTarget): Promise<void> {
  const [nodes, rounds, policy, rep] = await Promise.all([listNodes(t), readVerdicts(t), readPolicyHistory(t), readReputationHistory(t)]);
  const nodesEl = $("nodes");
  nodesEl.innerHTML = nodesTable(nodes);
  nodesEl.querySelectorAll<HTMLTableRowElement>("tr[data-node]").forEach((tr) =>
    tr.addEventListener("click", () => {
      state.selectedNode = BigInt(tr.dataset.node ?? "0");
      nodesEl.querySelectorAll("tr.selected").forEach((x) => x.classList.remove("selected"));
      tr.classList.add("selected");
      void renderNodeDetail(t, state.selectedNode);
    }),
  );
  if (state.selectedNode !== null) await renderNodeDetail(t, state.selectedNode);

  const byNode = new Map<bigint, Series>();
  for (const p of rep) {
    let s = byNode.get(p.node);
    if (!s) byNode.set(p.node, (s = { label: `node ${p.node}`, points: [{ block: Number(t.fromBlock), value: 0 }] }));
    s.points.push({ block: Number(p.blockNumber), value: Number(p.score) });
  }
  $("chart").innerHTML = reputationChartSvg([...byNode.values()], { width: 760, height: 240 });

  const recent = [...rounds].reverse().slice(0, 100);
  $("rounds").innerHTML = recent.length ? verdictTable(recent, true) : `<p class="muted">No rounds recorded yet.</p>`;

  $("policy").innerHTML =
    `<p class="muted">current epoch: ${esc(policy.currentEpoch ?? "unknown")}</p>` +
    (policy.entries.length
      ? tableHtml(policy.entries, [
          { header: "#", cell: (p) => esc(p.index), cls: "num" },
          { header: "from epoch", cell: (p) => esc(p.effectiveEpoch), cls: "num" },
          { header: "state", cell: (p) => esc(p.active ? "active" : p.pending ? "pending" : "superseded") },
          { header: "CID", cell: (p) => esc(p.cid), cls: "mono" },
        ])
      : `<p class="muted">No scoring policy scheduled.</p>`);
}
