/**
 * The dashboard end to end in Debian's headless Chromium (playwright-core, no browser
 * download): a chain with registered nodes, the page served by the `trustmesh web`
 * server, a test EIP-1193 wallet backed by viem local accounts. The operator registers
 * and stakes, the verifier signs and submits the deciding vote, and the auditor view
 * shows the verdict arrive through chain events. Screenshots go to test-artifacts/web/.
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createWalletClient, http, parseEther, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { nodeRegistryAbi, scoringPolicyAbi, trustBoardAbi, trustTokenAbi } from "../../offchain/chain/artifacts.js";
import { parseVrfPublicKey } from "../../offchain/cli/node-inputs.js";
import { chainFor } from "../../offchain/chain/client.js";
import { encodeRoundId } from "../../offchain/core/protocol.js";
import { ensureWebBuilt, startWebServer } from "../../offchain/cli/web-server.js";
import { cidHexOf, cidOf, ROOT, startChainFixture, vrfPublicKeyHex, type ChainFixture } from "../cli/chain-fixture.js";
import { TestWallet } from "./test-provider.js";

const SHOTS = join(ROOT, "test-artifacts/web");
const B32 = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe("web dashboard in headless Chromium", function () {
  this.timeout(300_000);
  let f: ChainFixture;
  let server: Server;
  let url: string;
  let context: BrowserContext;
  let page: Page;
  let wallet: TestWallet;
  let profile: string;
  let evidenceCid: string;
  const pageErrors: string[] = [];

  async function register(key: Hex): Promise<void> {
    const account = privateKeyToAccount(key);
    const w = createWalletClient({ account, chain: chainFor(31337, f.node.rpcUrl), transport: http(f.node.rpcUrl) });
    const c = f.deployment.contracts;
    const stake = parseEther("100");
    await f.publicClient.waitForTransactionReceipt({ hash: await w.writeContract({ address: c.TrustToken, abi: trustTokenAbi, functionName: "approve", args: [c.NodeRegistry, stake] }) });
    const reg = {
      gateway: account.address,
      vrfPublicKey: parseVrfPublicKey(vrfPublicKeyHex()),
      akDigest: B32(0xa1),
      ekCertDigest: B32(0),
      fingerprintRoot: B32(0xf1),
      tier: 1,
      metadataCid: cidHexOf(await cidOf(`meta ${account.address}`)),
      stake,
    };
    await f.publicClient.waitForTransactionReceipt({ hash: await w.writeContract({ address: c.NodeRegistry, abi: nodeRegistryAbi, functionName: "register", args: [reg] }) });
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  before(async () => {
    if (!existsSync("/usr/bin/chromium")) throw new Error("Debian's chromium is missing: run `bash scripts/ensure-prereqs.sh --browser` (or apt-get install -y chromium)");
    await mkdir(SHOTS, { recursive: true });
    f = await startChainFixture({ operators: 4, quorum: 2 });
    for (const o of f.operators.slice(0, 3)) await register(o.key);
    evidenceCid = await cidOf("evidence of node 1, round 1");
    // The first committee vote arrives from another verifier before the page's user votes.
    const v1 = privateKeyToAccount(f.operators[1]!.key);
    const w1 = createWalletClient({ account: v1, chain: chainFor(31337, f.node.rpcUrl), transport: http(f.node.rpcUrl) });
    const policyCid = (await f.publicClient.readContract({ address: f.deployment.contracts.ScoringPolicy, abi: scoringPolicyAbi, functionName: "activeCid", args: [1n] }));
    const vote = { round: encodeRoundId({ epoch: 1n, node: 1n, sequence: 1n }), node: 1n, verdict: 1, score: 90, evidenceCid: cidHexOf(evidenceCid), policyCid };
    await f.publicClient.waitForTransactionReceipt({ hash: await w1.writeContract({ address: f.deployment.contracts.TrustBoard, abi: trustBoardAbi, functionName: "castVote", args: [vote, B32(7)] }) });

    const root = await ensureWebBuilt();
    ({ server, url } = await startWebServer({ port: 0, root, config: () => ({ rpc: f.node.rpcUrl, deployment: f.deployment }) }));
    profile = await mkdtemp(join(tmpdir(), "tm-chromium-"));
    context = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
    wallet = new TestWallet(f.node.rpcUrl, chainFor(31337, f.node.rpcUrl), f.operators[3]!.key);
    await wallet.install(context);
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await context?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await f?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("loads and shows the registered nodes, policy and live chain status", async () => {
    await page.goto(url);
    await page.waitForSelector("#nodes tbody tr:nth-child(3)");
    const rows = await page.locator("#nodes tbody tr").count();
    expect(rows).to.equal(3);
    expect(await page.locator("#nodes tbody tr").first().innerText()).to.contain("Registered");
    await page.waitForFunction(() => /block \d+/.test(document.getElementById("chain-status")?.textContent ?? ""));
    expect(await page.locator("#policy").innerText()).to.contain("active");
    await shot("01-auditor-nodes");
  });

  it("operator: refuses a too-small stake in words, then registers and stakes with a permit", async () => {
    await page.click('button[data-tab="operator"]');
    await page.click("#op-connect");
    await page.waitForSelector("#op-msg.ok, #op-msg.error");
    expect(await page.locator("#op-msg").innerText()).to.contain("Wallet connected");
    const form = page.locator("#register-form");
    await form.locator('input[name="vrfPublicKey"]').fill(vrfPublicKeyHex());
    await form.locator('input[name="akDigest"]').fill(B32(0xa4));
    await form.locator('input[name="fingerprintRoot"]').fill(B32(0xf4));
    await form.locator('input[name="metadataCid"]').fill(await cidOf("operator 4 metadata"));
    await form.locator('input[name="stake"]').fill("1");
    await form.locator('button[type="submit"]').click();
    await page.waitForSelector("#op-msg.error");
    expect(await page.locator("#op-msg").innerText()).to.match(/Insufficient stake: 1 is below the minimum of 100/);
    await shot("02-operator-insufficient-stake");
    await form.locator('input[name="stake"]').fill("150");
    await form.locator('button[type="submit"]').click();
    await page.waitForSelector("#op-msg.ok", { timeout: 60_000 });
    expect(await page.locator("#op-msg").innerText()).to.match(/Registered node 4 with 150 tokens staked/);
    expect(wallet.requests).to.include("eth_signTypedData_v4");
    await shot("03-operator-registered");
  });

  it("verifier: signs a Vote as EIP-712 typed data and submits it; quorum records the verdict", async () => {
    wallet.useKey(f.operators[2]!.key);
    await page.click('button[data-tab="verifier"]');
    await page.click("#vf-connect");
    await page.waitForFunction((a) => document.getElementById("vf-msg")?.textContent?.includes(a) || document.getElementById("vf-msg")?.classList.contains("error"), wallet.address);
    expect(await page.locator("#vf-msg").innerText()).to.contain(`Wallet connected: ${wallet.address}`);
    const form = page.locator("#vote-form");
    await form.locator('input[name="node"]').fill("1");
    await form.locator('input[name="sequence"]').fill("1");
    await form.locator('input[name="score"]').fill("90");
    await form.locator('input[name="evidenceCid"]').fill(evidenceCid);
    await page.click("#vote-sign");
    // #vf-msg is already "ok" from connecting the wallet: wait for the signature itself.
    await page.waitForFunction(() => /signature 0x/.test(document.getElementById("vote-signature")?.textContent ?? "") || document.getElementById("vf-msg")?.classList.contains("error"), undefined, { timeout: 60_000 });
    expect(await page.locator("#vote-signature").innerText()).to.match(/signature 0x[0-9a-f]{130}/);
    await shot("04-verifier-signed");
    // Missing VRF output: explained in words, nothing sent.
    await page.click("#vote-submit");
    await page.waitForSelector("#vf-msg.error");
    expect(await page.locator("#vf-msg").innerText()).to.contain("VRF output must be 32 bytes");
    await form.locator('input[name="vrfOutput"]').fill(B32(9));
    await page.click("#vote-submit");
    await page.waitForFunction(() => /quorum reached/.test(document.getElementById("vf-msg")?.textContent ?? ""), undefined, { timeout: 60_000 });
    await shot("05-verifier-submitted");
    const rec = await f.publicClient.readContract({ address: f.deployment.contracts.TrustBoard, abi: trustBoardAbi, functionName: "verdict", args: [encodeRoundId({ epoch: 1n, node: 1n, sequence: 1n })] });
    expect(rec.verdict).to.equal(1);
    // The same round again is refused before signing.
    await page.click("#vote-submit");
    await page.waitForSelector("#vf-msg.error");
    expect(await page.locator("#vf-msg").innerText()).to.contain("already has a recorded verdict");
  });

  it("auditor: the verdict, node 4 and the reputation chart appear from chain events", async () => {
    await page.click('button[data-tab="auditor"]');
    await page.waitForFunction((cid) => document.getElementById("rounds")?.textContent?.includes(cid), evidenceCid, { timeout: 30_000 });
    await page.waitForSelector("#nodes tbody tr:nth-child(4)");
    expect(await page.locator("#nodes tbody tr").first().innerText()).to.contain("Trusted");
    expect(await page.locator("#chart svg polyline").count()).to.be.greaterThan(0);
    await shot("06-auditor-verdict");
    await page.locator("#nodes tbody tr").first().click();
    await page.waitForFunction((cid) => document.getElementById("node-detail")?.textContent?.includes(cid), evidenceCid);
    expect(await page.locator("#node-detail").innerText()).to.contain("Verdict history (1)");
    await shot("07-auditor-node-detail");
  });

  it("reads any RPC given by ?rpc= and explains an unreachable one in words", async () => {
    await page.goto(`${url}?rpc=${encodeURIComponent("http://127.0.0.1:9")}`);
    await page.waitForSelector("#global-msg.error", { timeout: 30_000 });
    expect(await page.locator("#global-msg").innerText()).to.contain("cannot reach an Ethereum node at http://127.0.0.1:9");
    expect(await page.inputValue("#rpc-url")).to.equal("http://127.0.0.1:9");
    await shot("08-unreachable-rpc");
    // Back to the real chain through the RPC box.
    await page.fill("#rpc-url", f.node.rpcUrl);
    await page.click('#rpc-form button[type="submit"]');
    await page.waitForSelector("#nodes tbody tr:nth-child(4)");
    expect(new URL(page.url()).searchParams.get("rpc")).to.equal(f.node.rpcUrl);
    expect(pageErrors).to.deep.equal([]);
  });
});
