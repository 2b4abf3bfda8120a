/**
 * Gas of the on-chain hot paths, measured in-process on the Hardhat network (cancun):
 * register with permit, single vote, certificate with quorum 5 of 7, equivocation dispute,
 * and a TaskMarket task's createTask / submitResult / settle.
 * Writes bench/results/gas.json and gas.md and prints the table.
 * Run: npm run bench:gas
 */
import hre from "hardhat";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { maxUint256, type Hash } from "viem";
import {
  certificate,
  deployFixture,
  makeVote,
  nodeKeys,
  registerNode,
  registration,
  signStakePermit,
  signVote,
  MIN_STAKE,
  type Fixture,
} from "../test/contracts/fixture.js";
import { createTask, submit } from "../test/contracts/task-market.helpers.js";
import { taskRoundSequence } from "../offchain/core/protocol.js";

interface Row {
  operation: string;
  gasUsed: number;
  target: number | null;
  note: string;
}

async function gasOf(f: Fixture, hash: Hash): Promise<number> {
  const r = await f.publicClient.waitForTransactionReceipt({ hash });
  if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
  return Number(r.gasUsed);
}

interface Part {
  part: string;
  gas: number;
}

/**
 * Where a transaction's gas goes, from the node's opcode trace: the intrinsic cost (21,000
 * plus calldata), each top-level call (its cold access, encoding and everything the callee
 * ran), the entry contract's own SLOAD/SSTORE and LOG opcodes, the refund, and the rest
 * (ABI decoding, hashing, memory, control flow).
 */
async function breakdown(f: Fixture, hash: Hash, names: Record<string, string>): Promise<Part[]> {
  const tx = await f.publicClient.getTransaction({ hash });
  const receipt = await f.publicClient.getTransactionReceipt({ hash });
  type Log = { op: string; gas: number; gasCost: number; depth: number; stack?: string[] };
  const trace = (await hre.network.provider.send("debug_traceTransaction", [
    hash,
    { disableStorage: true, disableMemory: true },
  ])) as { structLogs: Log[] };
  const logs = trace.structLogs;
  const parts = new Map<string, number>();
  const add = (k: string, g: number) => parts.set(k, (parts.get(k) ?? 0) + g);
  const intrinsic = Number(tx.gas) - logs[0]!.gas;
  let counted = 0;
  for (let i = 0; i < logs.length; i++) {
    const l = logs[i]!;
    if (l.depth !== 1) continue;
    let k: string | null = null;
    let g = l.gasCost;
    if (l.op === "CALL" || l.op === "STATICCALL") {
      const next = logs.slice(i + 1).find((x) => x.depth === 1);
      g = next ? l.gas - next.gas : l.gasCost;
      const to = `0x${(l.stack?.[l.stack.length - 2] ?? "").replace(/^0x/, "").padStart(40, "0").slice(-40)}`.toLowerCase();
      k = to === "0x0000000000000000000000000000000000000001" ? "ecrecover precompile (each 3,000 + call)" : `call ${names[to] ?? to}`;
    } else if (l.op === "SSTORE" || l.op === "SLOAD") k = `own storage (${l.op})`;
    else if (l.op.startsWith("LOG")) k = "own events (LOG)";
    if (k === null) continue;
    add(k, g);
    counted += g;
  }
  const executed = logs[0]!.gas - logs[logs.length - 1]!.gas + logs[logs.length - 1]!.gasCost;
  const refund = intrinsic + executed - Number(receipt.gasUsed);
  return [
    { part: "intrinsic: 21,000 base + calldata", gas: intrinsic },
    ...[...parts.entries()].map(([part, gas]) => ({ part, gas })),
    { part: "rest of the entry contract (ABI decoding, hashing, memory, control flow)", gas: executed - counted },
    ...(refund !== 0 ? [{ part: "storage refund", gas: -refund }] : []),
    { part: "total (gasUsed)", gas: Number(receipt.gasUsed) },
  ];
}

function breakdownTable(title: string, parts: Part[]): string {
  return [
    `### ${title}`,
    "",
    "| part | gas |",
    "| --- | ---: |",
    ...parts.map((p) => `| ${p.part} | ${p.gas.toLocaleString("en-US")} |`),
  ].join("\n");
}

async function main() {
  const f = await deployFixture();
  const rows: Row[] = [];
  const names: Record<string, string> = Object.fromEntries(
    (
      [
        [f.token.address, "token"],
        [f.registry.address, "NodeRegistry"],
        [f.clock.address, "EpochClock"],
        [f.policy.address, "ScoringPolicy"],
        [f.reputation.address, "Reputation"],
        [f.board.address, "TrustBoard"],
      ] as const
    ).map(([a, n]) => [a.toLowerCase(), n]),
  );
  const breakdowns: { title: string; parts: Part[] }[] = [];

  // Seven committee nodes and one target, registered the plain way.
  const committee = [];
  for (let i = 1; i <= 7; i++) committee.push(await registerNode(f, i, i - 1));
  const target = await registerNode(f, 8, 7);

  // register with permit: a fresh operator (first permit, so its nonce slot is new), then
  // the same operator's second node (nonce slot already written).
  const op = f.operators[8]!;
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  let lastHash: Hash = "0x";
  const permitRegister = async (keys: ReturnType<typeof nodeKeys>) => {
  const nonce = await f.token.read.nonces([op.account.address]);
  const { v, r, s } = await signStakePermit(f, op, MIN_STAKE, nonce, deadline);
  const hash = await f.registry.write.registerWithPermit([registration(keys), deadline, v, r, s], { account: op.account });
  lastHash = hash;
  return gasOf(f, hash);
  };
  rows.push({ operation: "registerWithPermit (operator's first permit)", gasUsed: await permitRegister(nodeKeys(9)), target: 200_000, note: "permit + transferFrom + register; the token's nonce slot is new" });
  breakdowns.push({ title: "registerWithPermit (operator's first permit)", parts: await breakdown(f, lastHash, names) });
  rows.push({ operation: "registerWithPermit (operator's later permit)", gasUsed: await permitRegister(nodeKeys(10)), target: 200_000, note: "same, nonce slot already non-zero" });

  const epoch = await f.clock.read.currentEpoch();
  const signers5 = committee.slice(0, 5).map((n) => n.keys.gateway);

  // Certificate, first verdict of the target (its reputation and history slots are new).
  const vote1 = makeVote(epoch, target.id, 0n);
  const c1 = await certificate(f, signers5, vote1);
  const h1 = await f.board.write.submitCertificate([vote1, c1.signatures, c1.vrfOutputs]);
  rows.push({ operation: "submitCertificate (5 of 7), node's first verdict", gasUsed: await gasOf(f, h1), target: null, note: "creates the node's reputation and history slots; also the deployment's first certificate, so it fills the epoch cache (2 fresh slots)" });

  // Certificate, steady state (same node, next round).
  const vote2 = makeVote(epoch, target.id, 1n, { score: 95 });
  const c2 = await certificate(f, signers5, vote2);
  const h2 = await f.board.write.submitCertificate([vote2, c2.signatures, c2.vrfOutputs]);
  rows.push({ operation: "submitCertificate (5 of 7)", gasUsed: await gasOf(f, h2), target: 120_000, note: "steady state: later verdict of a node" });
  breakdowns.push({ title: "submitCertificate (5 of 7), steady state", parts: await breakdown(f, h2, names) });
  // Marginal cost per extra signer: 6 and 7 signatures on later rounds.
  const perSigner: number[] = [];
  for (const [k, seq] of [[6, 10n], [7, 11n]] as const) {
    const v = makeVote(epoch, target.id, seq);
    const c = await certificate(f, committee.slice(0, k).map((n) => n.keys.gateway), v);
    perSigner.push(await gasOf(f, await f.board.write.submitCertificate([v, c.signatures, c.vrfOutputs])));
  }
  rows.push({ operation: "submitCertificate (7 of 7)", gasUsed: perSigner[1]!, target: null, note: "steady state" });
  rows.push({ operation: "certificate: marginal gas per signer", gasUsed: Math.round((perSigner[1]! - rows[rows.length - 2]!.gasUsed) / 2), target: 10_400, note: "(7 signers - 5 signers) / 2; Safe is ~10.4k per signer" });

  // Single votes: a relayed vote that does not reach quorum, then the one that does.
  const vote3 = makeVote(epoch, target.id, 2n);
  const gases: number[] = [];
  for (const n of committee.slice(0, 5)) {
    const sigV = await signVote(f, n.keys.gateway, vote3);
    const out = `0x${"11".repeat(31)}${n.id.toString(16).padStart(2, "0")}` as const;
    gases.push(await gasOf(f, await f.board.write.submitVote([vote3, sigV, out])));
  }
  rows.push({ operation: "submitVote (relayed, below quorum)", gasUsed: gases[1]!, target: null, note: "second of five votes" });
  rows.push({ operation: "submitVote (relayed, reaching quorum 5)", gasUsed: gases[4]!, target: null, note: "fifth vote records the verdict" });

  // Equivocation: one signer signs two different votes for one round.
  const vote4 = makeVote(epoch, target.id, 3n, { verdict: 1 });
  const vote4b = makeVote(epoch, target.id, 3n, { verdict: 2 });
  const cheat = committee[6]!.keys.gateway;
  const sa = await signVote(f, cheat, vote4);
  const sb = await signVote(f, cheat, vote4b);
  const disputer = f.operators[9]!;
  const hd = await f.disputes.write.disputeEquivocation([vote4, sa, vote4b, sb, { signers: [], vrfOutputs: [] }], { account: disputer.account });
  rows.push({ operation: "disputeEquivocation (first slash ever)", gasUsed: await gasOf(f, hd), target: 150_000, note: "slash 50% (20% to the disputer), zero reputation, ban; slashed-funds slot new" });
  const vote5 = makeVote(epoch, target.id, 4n, { verdict: 1 });
  const vote5b = makeVote(epoch, target.id, 4n, { verdict: 2 });
  const cheat2 = committee[5]!.keys.gateway;
  const hd2 = await f.disputes.write.disputeEquivocation([vote5, await signVote(f, cheat2, vote5), vote5b, await signVote(f, cheat2, vote5b), { signers: [], vrfOutputs: [] }], { account: disputer.account });
  rows.push({ operation: "disputeEquivocation (signer without reputation record)", gasUsed: await gasOf(f, hd2), target: null, note: "second dispute; the signer never had a verdict (bootstrap Registered verifier), so zeroing its reputation creates the slot" });
  // Steady state: outside bootstrap every verifier is Trusted, i.e. has had a verdict and so
  // already has a reputation record. Give committee[4] one (signed by four others and the
  // target itself excluded), then dispute its equivocation.
  const cheat3 = committee[4]!;
  const prior = makeVote(epoch, cheat3.id, 0n);
  const cp = await certificate(f, [...committee.slice(0, 4), target].map((n) => n.keys.gateway), prior);
  await gasOf(f, await f.board.write.submitCertificate([prior, cp.signatures, cp.vrfOutputs]));
  const vote6 = makeVote(epoch, target.id, 5n, { verdict: 1 });
  const vote6b = makeVote(epoch, target.id, 5n, { verdict: 2 });
  const hd3 = await f.disputes.write.disputeEquivocation([vote6, await signVote(f, cheat3.keys.gateway, vote6), vote6b, await signVote(f, cheat3.keys.gateway, vote6b), { signers: [], vrfOutputs: [] }], { account: disputer.account });
  rows.push({ operation: "disputeEquivocation", gasUsed: await gasOf(f, hd3), target: 150_000, note: "steady state: third dispute, the signer is a Trusted verifier with a reputation record" });
  breakdowns.push({ title: "disputeEquivocation, steady state", parts: await breakdown(f, hd3, names) });

  // TaskMarket: the target (Trusted) executes; 2 inputs, 2 recipients, a real ECVRF proof.
  const market = { market: await hre.viem.getContractAt("TaskMarket", f.deployment.contracts.TaskMarket), creator: disputer };
  names[market.market.address.toLowerCase()] = "TaskMarket";
  if (f.deployment.contracts.VRFVerifier) names[f.deployment.contracts.VRFVerifier.toLowerCase()] = "VRFVerifier";
  await f.token.write.approve([market.market.address, maxUint256], { account: disputer.account });
  const t1 = await createTask(market);
  rows.push({ operation: "TaskMarket.createTask (first task)", gasUsed: await gasOf(f, t1.hash), target: null, note: "5 new task slots + the fresh counter/escrow slot; spec arrays only in events" });
  const t2 = await createTask(market);
  rows.push({ operation: "TaskMarket.createTask", gasUsed: await gasOf(f, t2.hash), target: null, note: "steady state: 5 new task slots, counter/escrow slot updated" });
  const signersPost = [...committee.slice(0, 4).map((n) => n.keys.gateway), nodeKeys(9).gateway];
  const pre = makeVote(epoch, target.id, 19n);
  const cpre = await certificate(f, signersPost, pre);
  await gasOf(f, await f.board.write.submitCertificate([pre, cpre.signatures, cpre.vrfOutputs]));
  const hs = await submit(market, target, t2.id);
  rows.push({ operation: "TaskMarket.submitResult", gasUsed: await gasOf(f, hs), target: null, note: "node and pre-run verdict checks + ECVRF fastVerify + 3 slots written" });
  breakdowns.push({ title: "TaskMarket.submitResult", parts: await breakdown(f, hs, names) });
  // The executor's post-run task round for t2 (the only kind settle accepts).
  const post = makeVote(epoch, target.id, taskRoundSequence({ taskId: t2.id, phase: "post-run", attempt: 0 }));
  const cpost = await certificate(f, signersPost, post);
  await gasOf(f, await f.board.write.submitCertificate([post, cpost.signatures, cpost.vrfOutputs]));
  const hst = await market.market.write.settle([t2.id, post.round]);
  rows.push({ operation: "TaskMarket.settle (Trusted)", gasUsed: await gasOf(f, hst), target: null, note: "named post-run task round checked (shape, recorded, not voided, after the result) on TrustBoard, payment pushed to the operator" });

  const md = [
    "| operation | gas used | target | met | note |",
    "| --- | ---: | ---: | :---: | --- |",
    ...rows.map((x) => `| ${x.operation} | ${x.gasUsed.toLocaleString("en-US")} | ${x.target === null ? "-" : x.target.toLocaleString("en-US")} | ${x.target === null ? "-" : x.gasUsed <= x.target ? "yes" : "NO"} | ${x.note} |`),
  ].join("\n");
  const meta = {
    network: hre.network.name,
    hardfork: hre.config.networks.hardhat.hardfork,
    solc: hre.config.solidity.compilers[0]?.version,
    optimizer: hre.config.solidity.compilers[0]?.settings?.optimizer,
    measuredAt: new Date().toISOString(),
  };
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await writeFile(new URL("./results/gas.json", import.meta.url), JSON.stringify({ ...meta, results: rows, breakdowns }, null, 2) + "\n");
  const notes = await readFile(new URL("./results/gas.notes.md", import.meta.url), "utf8");
  const tables = breakdowns.map((b) => breakdownTable(b.title, b.parts)).join("\n\n");
  await writeFile(
    new URL("./results/gas.md", import.meta.url),
    `# Gas (${meta.network}, ${meta.hardfork}, solc ${meta.solc})\n\n${md}\n\n## Where the gas goes (measured)\n\n${tables}\n\n${notes}`,
  );
  console.log(md);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
