/**
 * Dashboard entry: reads /config.json (RPC + deployment from `trustmesh web`), lets
 * ?rpc= or the RPC box override the URL, connects read-only, renders the auditor view,
 * and re-renders when the contracts emit events (viem watchEvent, polling filters).
 */
import { connect } from "../../offchain/chain/client.js";
import type { DeploymentFile } from "../../offchain/chain/deployment-file.js";
import { renderAuditor } from "./auditor.js";
import { $, input, say } from "./dom.js";
import { registerFromForm } from "./operator.js";
import { state } from "./state.js";
import { signAndSubmit, signOnly } from "./verifier.js";
import { connectWallet, describeError } from "./wallet.js";

let unwatch: (() => void) | null = null;
let refreshTimer: number | undefined;
let refreshing = false;
let refreshAgain = false;

interface PageConfig {
  rpc?: string;
  deployment?: DeploymentFile | null;
}

async function loadConfig(): Promise<PageConfig> {
  try {
    const r = await fetch("./config.json", { cache: "no-store" });
    return r.ok ? ((await r.json()) as PageConfig) : {};
  } catch {
    return {};
  }
}

async function refresh(): Promise<void> {
  if (!state.target) return;
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    await renderAuditor(state.target);
    $("live").classList.add("on");
  } catch (e) {
    say("global-msg", "error", `Reading the chain failed: ${describeError(e)}`);
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      void refresh();
    }
  }
}

/** Coalesces bursts of events (one block can hold many) into one re-render. */
function scheduleRefresh(): void {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => void refresh(), 150);
}

async function reconnect(): Promise<void> {
  unwatch?.();
  unwatch = null;
  state.conn = null;
  state.target = null;
  $("live").classList.remove("on");
  const dep = state.deployment;
  if (!dep) {
    say("global-msg", "error", "No deployment is configured, so there are no contract addresses to read. Start the page with `trustmesh web --deployment FILE`.");
    $("nodes").textContent = "";
    return;
  }
  $("chain-status").textContent = `connecting to ${state.rpc}…`;
  try {
    state.conn = await connect({ rpcUrl: state.rpc, expectedChainId: dep.chainId, expectedFrom: "the deployment file", pollingInterval: 500 });
  } catch (e) {
    $("chain-status").textContent = "not connected";
    say("global-msg", "error", describeError(e));
    for (const id of ["nodes", "chart", "rounds", "policy"]) $(id).innerHTML = `<p class="muted">Not connected.</p>`;
    $("node-detail").classList.add("hidden");
    return;
  }
  const c = dep.contracts;
  state.target = {
    client: state.conn.publicClient,
    contracts: { NodeRegistry: c.NodeRegistry, Reputation: c.Reputation, TrustBoard: c.TrustBoard, ScoringPolicy: c.ScoringPolicy, ...(c.EpochClock ? { EpochClock: c.EpochClock } : {}) },
    fromBlock: BigInt(dep.startBlock),
  };
  say("global-msg", "info", "");
  const pc = state.conn.publicClient;
  const stopBlocks = pc.watchBlockNumber({
    emitOnBegin: true,
    onBlockNumber: (b) => ($("chain-status").textContent = `chain ${state.conn?.chain.id} · block ${b}`),
    onError: (e) => {
      $("live").classList.remove("on");
      say("global-msg", "error", `Lost the RPC connection: ${describeError(e)}`);
    },
  });
  const stopEvents = pc.watchEvent({
    address: Object.values(c),
    onLogs: () => scheduleRefresh(),
    onError: (e) => say("global-msg", "error", `Event watch failed: ${describeError(e)}`),
  });
  unwatch = () => {
    stopBlocks();
    stopEvents();
  };
  await refresh();
}

function showTab(name: string): void {
  document.querySelectorAll<HTMLButtonElement>("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll<HTMLElement>("section.tab").forEach((s) => s.classList.toggle("hidden", s.id !== `tab-${name}`));
}

async function onConnectWallet(msgEl: string): Promise<void> {
  if (!state.conn) return say(msgEl, "error", "Connect to a chain first (RPC box above), then connect the wallet.");
  try {
    const { address, wallet } = await connectWallet(state.conn.chain);
    state.wallet = { address, client: wallet };
    for (const id of ["op-account", "vf-account"]) $(id).textContent = `wallet ${address}`;
    say(msgEl, "ok", `Wallet connected: ${address}`);
  } catch (e) {
    say(msgEl, "error", describeError(e));
  }
}

async function boot(): Promise<void> {
  const cfg = await loadConfig();
  const params = new URLSearchParams(location.search);
  state.rpc = params.get("rpc") ?? cfg.rpc ?? state.rpc;
  state.deployment = cfg.deployment ?? null;
  input("rpc-url").value = state.rpc;

  $("rpc-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.rpc = input("rpc-url").value.trim();
    const url = new URL(location.href);
    url.searchParams.set("rpc", state.rpc);
    history.replaceState(null, "", url);
    void reconnect();
  });
  document.querySelectorAll<HTMLButtonElement>("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab ?? "auditor")));
  $("op-connect").addEventListener("click", () => void onConnectWallet("op-msg"));
  $("vf-connect").addEventListener("click", () => void onConnectWallet("vf-msg"));
  const regForm = $("register-form") as HTMLFormElement;
  regForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void registerFromForm(regForm);
  });
  const voteForm = $("vote-form") as HTMLFormElement;
  voteForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void signAndSubmit(voteForm);
  });
  $("vote-sign").addEventListener("click", () => void signOnly(voteForm));
  await reconnect();
}

void boot();
