/**
 * The operator, verifier and auditor commands against a real `hardhat node` with the
 * contracts deployed by offchain/chain/deploy.ts, each run as the `trustmesh` binary.
 */
import { expect } from "chai";
import type { Command } from "commander";
import { buildProgram } from "../../offchain/cli/main.js";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createWalletClient, getAddress, http, recoverTypedDataAddress, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { GatewayChain, type ChainEvent } from "../../offchain/relayer/chain-context.js";
import { createLogger } from "../../offchain/relayer/logger.js";
import { Metrics } from "../../offchain/relayer/metrics.js";
import { imageRegistryAbi, nodeRegistryAbi, trustTokenAbi } from "../../offchain/chain/artifacts.js";
import { chainFor } from "../../offchain/chain/client.js";
import { trustBoardDomain, voteTypes, type Vote } from "../../offchain/chain/eip712.js";
import { parseVrfPublicKey } from "../../offchain/cli/node-inputs.js";
import { encryptKeystore, LIGHT_SCRYPT, writeKeystoreFile } from "../../offchain/chain/keystore.js";
import { cidHexOf, cidOf, HARDHAT_KEY0, runCli, startChainFixture, vrfPublicKeyHex, type ChainFixture, type RunResult } from "./chain-fixture.js";

const B32 = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;

function json<T>(r: RunResult): T {
  expect(r.code, `exit code; stderr: ${r.stderr}`).to.equal(0);
  return JSON.parse(r.stdout) as T;
}

describe("trustmesh CLI against a local chain", function () {
  this.timeout(240_000);
  let f: ChainFixture;
  let metadataCid: string;
  let evidenceCid: string;
  /** The vote whose verdict the vote test records (later tests use the recorded round). */
  let recordedVote: Vote | undefined;

  const regArgs = () => [
    "node", "register", "--json",
    "--vrf-public-key", vrfPublicKeyHex(),
    "--ak-digest", B32(0xa1),
    "--fingerprint-root", B32(0xf1),
    "--tier", "1",
    "--metadata-cid", metadataCid,
  ];
  const envKey = (i: number) => ({ TRUSTMESH_PRIVATE_KEY: f.operators[i]!.key });
  const nonceOf = (i: number) => f.publicClient.getTransactionCount({ address: f.operators[i]!.address });

  before(async () => {
    f = await startChainFixture({ operators: 4, quorum: 2 });
    metadataCid = await cidOf("node metadata");
    evidenceCid = await cidOf("evidence bundle of round 1");
  });
  after(async () => {
    await f?.stop();
  });

  it("has --help on every command and --json on every read (in-process, all commands walked)", () => {
    const walk = (c: Command): Command[] => [c, ...c.commands.flatMap(walk)];
    const all = walk(buildProgram()).filter((c) => ["node", "vote", "audit", "keystore", "web"].includes(c.parent?.name() === "trustmesh" ? c.name() : (c.parent?.name() ?? "")));
    expect(all.length).to.be.greaterThan(15);
    for (const c of all) {
      expect(c.description(), c.name()).to.not.equal("");
      expect(c.helpInformation()).to.contain("Usage:");
    }
    const reads = ["audit nodes", "audit node", "audit rounds", "audit policy", "node status", "vote sign", "keystore inspect"];
    for (const r of reads) {
      const [g, n] = r.split(" ");
      const cmd = all.find((c) => c.name() === n && c.parent?.name() === g);
      expect(cmd?.options.some((o) => o.long === "--json"), r).to.equal(true);
    }
  });

  it("registers a node with stake through a permit in one transaction (key from the environment)", async () => {
    const before = await nonceOf(0);
    const out = json<{ nodeId: string; stake: string; tx: Hex }>(await runCli(f, regArgs(), envKey(0)));
    expect(out.nodeId).to.equal("1");
    expect(await nonceOf(0)).to.equal(before + 1); // permit + register = one tx
    const n = await f.publicClient.readContract({ address: f.deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [1n] });
    expect(n.operator).to.equal(f.operators[0]!.address);
    expect(n.stake).to.equal(100n * 10n ** 18n);
  });

  it("registers from an encrypted keystore and refuses a wrong password", async () => {
    const ks = join(f.dir, "op1.json");
    await writeKeystoreFile(ks, await encryptKeystore({ privateKey: f.operators[1]!.key, password: "s3cret", kdf: LIGHT_SCRYPT }));
    await writeFile(join(f.dir, "good.pw"), "s3cret\n");
    await writeFile(join(f.dir, "bad.pw"), "guess\n");
    const bad = await runCli(f, [...regArgs(), "--keystore", ks, "--password-file", join(f.dir, "bad.pw")]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain("wrong keystore password");
    expect(await nonceOf(1)).to.equal(0);
    const out = json<{ nodeId: string }>(await runCli(f, [...regArgs(), "--keystore", ks, "--password-file", join(f.dir, "good.pw")]));
    expect(out.nodeId).to.equal("2");
  });

  it("registers through a remote EIP-1193 signer (eth_signTypedData_v4 + eth_sendTransaction)", async () => {
    const from = getAddress(f.nodeAccounts[0]!);
    const out = json<{ nodeId: string; gateway: string }>(await runCli(f, [...regArgs(), "--remote-signer", f.node.rpcUrl, "--from", from]));
    expect(out.nodeId).to.equal("3");
    expect(out.gateway).to.equal(from);
  });

  it("refuses a stake below the minimum before sending anything", async () => {
    const r = await runCli(f, [...regArgs(), "--stake", "1"], envKey(3));
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("insufficient stake");
    expect(await nonceOf(3)).to.equal(0);
  });

  it("refuses a wrong chain id before signing", async () => {
    const r = await runCli(f, [...regArgs(), "--chain-id", "1"], envKey(3));
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("wrong chain");
    expect(await nonceOf(3)).to.equal(0);
  });

  it("refuses a top-up without allowance (nothing sent), then tops up with --approve", async () => {
    const before = await nonceOf(0);
    const r = await runCli(f, ["node", "top-up", "1", "--amount", "5"], envKey(0));
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("insufficient allowance");
    expect(await nonceOf(0)).to.equal(before);
    const ok = json<{ stake: string }>(await runCli(f, ["node", "top-up", "1", "--amount", "5", "--approve", "--json"], envKey(0)));
    expect(ok.stake).to.equal("105");
    const allowance = await f.publicClient.readContract({ address: f.deployment.contracts.TrustToken, abi: trustTokenAbi, functionName: "allowance", args: [f.operators[0]!.address, f.deployment.contracts.NodeRegistry] });
    expect(allowance).to.equal(0n);
  });

  it("shows a node's status as a table and as JSON", async () => {
    const table = await runCli(f, ["node", "status", "1"]);
    expect(table.code).to.equal(0);
    expect(table.stdout).to.match(/status\s+Registered/);
    const s = json<{ status: string; stake: string }>(await runCli(f, ["node", "status", "--gateway", f.operators[1]!.address, "--json"]));
    expect(s.status).to.equal("Registered");
    expect(s.stake).to.equal((100n * 10n ** 18n).toString());
  });

  it("signs a vote (EIP-712) and submits it; the second vote reaches quorum and records the verdict", async () => {
    const voteFlags = ["--node", "1", "--sequence", "1", "--verdict", "trusted", "--score", "97", "--evidence-cid", evidenceCid];
    const signed = json<{ signature: Hex; signer: string; vote: { round: string; policyCid: Hex } }>(
      await runCli(f, ["vote", "sign", ...voteFlags, "--json"], envKey(1)),
    );
    expect(signed.signer).to.equal(f.operators[1]!.address);
    const recovered = await recoverTypedDataAddress({
      domain: trustBoardDomain(31337, f.deployment.contracts.TrustBoard),
      types: voteTypes,
      primaryType: "Vote",
      message: { round: BigInt(signed.vote.round), node: 1n, verdict: 1, score: 97, evidenceCid: cidHexOf(evidenceCid), policyCid: signed.vote.policyCid },
      signature: signed.signature,
    });
    expect(recovered).to.equal(f.operators[1]!.address);

    const voteFile = join(f.dir, "vote.json");
    await writeFile(voteFile, JSON.stringify(signed));
    // Relayed by another account: the signature, not the sender, is the vote.
    const first = json<{ votesCounted: number; verdictRecorded: boolean }>(
      await runCli(f, ["vote", "submit", "--vote-file", voteFile, "--vrf-output", B32(1), "--json"], envKey(3)),
    );
    expect(first).to.include({ votesCounted: 1, verdictRecorded: false });
    const second = json<{ votesCounted: number; verdictRecorded: boolean }>(
      // Output evaluated from the verifier's VRF key over (epoch seed, round, Verifier).
      await runCli(f, ["vote", "submit", ...voteFlags, "--vrf-key-env", "TM_VRF_SK", "--remote-signer", f.node.rpcUrl, "--from", f.nodeAccounts[0]!, "--json"], { TM_VRF_SK: generatePrivateKey() }),
    );
    expect(second).to.include({ votesCounted: 2, verdictRecorded: true });
    recordedVote = { round: BigInt(signed.vote.round), node: 1n, verdict: 1, score: 97, evidenceCid: cidHexOf(evidenceCid), policyCid: signed.vote.policyCid };
    const again = await runCli(f, ["vote", "submit", ...voteFlags, "--vrf-output", B32(3), "--json"], envKey(3));
    expect(again.code).to.equal(2);
    expect(again.stderr).to.contain("already recorded");
  });

  it("audits nodes, one node's history, rounds and policy from the chain alone (--json)", async () => {
    const nodes = json<{ id: string; status: string; reputation: string }[]>(await runCli(f, ["audit", "nodes", "--json"]));
    expect(nodes.map((n) => n.id)).to.deep.equal(["1", "2", "3"]);
    expect(nodes[0]!.status).to.equal("Trusted");
    expect(BigInt(nodes[0]!.reputation) > 0n).to.equal(true);

    const d = json<{ verdicts: { verdict: string; score: number; evidenceCid: string; signers: string[] }[]; reputationHistory: unknown[]; metadataCid: string }>(
      await runCli(f, ["audit", "node", "1", "--json"]),
    );
    expect(d.metadataCid).to.equal(metadataCid);
    expect(d.verdicts).to.have.length(1);
    expect(d.verdicts[0]).to.include({ verdict: "Trusted", score: 97, evidenceCid });
    expect(d.verdicts[0]!.signers).to.have.length(2);
    expect(d.reputationHistory).to.have.length(1);

    const rounds = json<unknown[]>(await runCli(f, ["audit", "rounds", "--since", "0", "--json"]));
    expect(rounds).to.have.length(1);
    const head = await f.publicClient.getBlockNumber();
    expect(json<unknown[]>(await runCli(f, ["audit", "rounds", "--since", String(head + 1n), "--json"]))).to.have.length(0);

    const policy = json<{ currentEpoch: string; entries: { active: boolean; cidHex: Hex }[] }>(await runCli(f, ["audit", "policy", "--json"]));
    expect(policy.currentEpoch).to.equal("1");
    expect(policy.entries[0]!.active).to.equal(true);

    const table = await runCli(f, ["audit", "node", "1"]);
    expect(table.stdout).to.contain(evidenceCid);
    expect(table.stdout).to.match(/verdict history \(1\)/);
  });

  it("rotates a node's VRF key, and a gateway's cached record of the node follows the event", async () => {
    // A gateway reads node records from a cache kept coherent by registry events
    // (NODE_RECORD_MAX_AGE_MS): the rotation must evict the old key, or its verifiers would
    // judge the node's reveals by it until the record aged out.
    const gateway = new GatewayChain(f.node.rpcUrl, 31337, f.deployment, privateKeyToAccount(generatePrivateKey()), createLogger({ name: "cache-test", level: "silent" }), new Metrics(), 100);
    // From the next block on: an earlier event of node 1 (the last test's verdict) must not evict it.
    const seen: ChainEvent[] = [];
    gateway.onEvent((e) => seen.push(e));
    gateway.follow((await f.publicClient.getBlockNumber()) + 1n);
    try {
      const before = await gateway.node(1n, 0);
      const key = vrfPublicKeyHex();
      json<{ tx: Hex }>(await runCli(f, ["node", "rotate-key", "1", "--vrf-public-key", key, "--json"], envKey(0)));
      const n = await f.publicClient.readContract({ address: f.deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [1n] });
      expect([n.vrfPublicKey[0], n.vrfPublicKey[1]]).to.deep.equal([...parseVrfPublicKey(key)]);
      expect(before.vrfPublicKey).to.not.deep.equal([...parseVrfPublicKey(key)]);
      const deadline = Date.now() + 10_000;
      // An hour's age bound: only the event's eviction can bring the new key in.
      while ((await gateway.node(1n, 3_600_000)).vrfPublicKey[0] !== parseVrfPublicKey(key)[0]) {
        if (Date.now() > deadline) throw new Error("the cached record still has the old VRF key 10 s after the rotation");
        await new Promise((r) => setTimeout(r, 100));
      }
      // The log was decoded with its own contract's ABI (events are looked up by address and selector).
      const rotated = seen.filter((e) => e.eventName === "VrfKeyRotated");
      expect(rotated).to.have.length(1);
      expect(rotated[0]!.address.toLowerCase()).to.equal(f.deployment.contracts.NodeRegistry.toLowerCase());
      expect(rotated[0]!.args.nodeId).to.equal(1n);
    } finally {
      gateway.stopFollowing();
    }
  });

  it("a gateway's copy of the approved images follows approvals and revocations, and concurrent reads share one", async () => {
    const gateway = new GatewayChain(f.node.rpcUrl, 31337, f.deployment, privateKeyToAccount(generatePrivateKey()), createLogger({ name: "images-test", level: "silent" }), new Metrics(), 100);
    const governor = createWalletClient({ account: privateKeyToAccount(HARDHAT_KEY0), chain: chainFor(31337, f.node.rpcUrl), transport: http(f.node.rpcUrl) });
    const images = f.deployment.contracts.ImageRegistry as Hex;
    const digest = B32(0xabc);
    gateway.follow((await f.publicClient.getBlockNumber()) + 1n);
    // An hour's age bound: only the events' evictions can bring a change in.
    const listed = async () => (await gateway.approvedImages(3_600_000)).includes(digest);
    const until = async (want: boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while ((await listed()) !== want) {
        if (Date.now() > deadline) throw new Error(`the cached list still ${want ? "lacks" : "has"} the image 10 s after its ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      expect(gateway.approvedImages(3_600_000)).to.equal(gateway.approvedImages(3_600_000));
      expect(await listed()).to.equal(false);
      await f.publicClient.waitForTransactionReceipt({ hash: await governor.writeContract({ address: images, abi: imageRegistryAbi, functionName: "approve", args: [digest, 1, cidHexOf(evidenceCid)] }) });
      await until(true, "approval");
      await f.publicClient.waitForTransactionReceipt({ hash: await governor.writeContract({ address: images, abi: imageRegistryAbi, functionName: "revoke", args: [digest] }) });
      await until(false, "revocation");
    } finally {
      gateway.stopFollowing();
    }
  });

  it("a gateway sends no certificate for a round recorded while its write waited its turn", async () => {
    // An unfunded gateway key: a write that got as far as the gas estimate would fail there.
    const account = privateKeyToAccount(generatePrivateKey());
    const gateway = new GatewayChain(f.node.rpcUrl, 31337, f.deployment, account, createLogger({ name: "submit-test", level: "silent" }), new Metrics(), 100);
    const vote = recordedVote as Vote;
    // The follower has heard the round recorded: nothing is read or sent.
    expect(await gateway.submitCertificate(vote, [], [], () => true)).to.equal(null);
    // Not heard of, but the write queued behind another for over 250 ms: the board is read at its turn.
    const holding = gateway.submitCertificate(vote, [], [], () => {
      const until = Date.now() + 400; // holds the write queue (synchronously, as a slow write would)
      while (Date.now() < until);
      return true;
    });
    const queued = gateway.submitCertificate(vote, [], [], () => false);
    expect(await holding).to.equal(null);
    expect(await queued).to.equal(null);
    // Neither: the write goes ahead and the chain refuses it.
    let refused: unknown;
    await gateway.submitCertificate(vote, [], [], () => false).catch((e: unknown) => (refused = e));
    expect(refused, "a write that was not skipped").to.be.instanceOf(Error);
    expect(await f.publicClient.getTransactionCount({ address: account.address })).to.equal(0);
  });

  it("starts unbonding with node exit and refuses an early withdraw", async () => {
    const exit = json<{ unlocksAt: string }>(await runCli(f, ["node", "exit", "2", "--json"], envKey(1)));
    expect(Date.parse(exit.unlocksAt)).to.be.greaterThan(Date.now());
    const before = await nonceOf(1);
    const w = await runCli(f, ["node", "withdraw", "2"], envKey(1));
    expect(w.code).to.equal(2);
    expect(w.stderr).to.contain("NodeRegistryStillLocked");
    expect(await nonceOf(1)).to.equal(before);
  });
});
