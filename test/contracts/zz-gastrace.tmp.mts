import hre from "hardhat";
import { parseSignature, type Hash } from "viem";
import { certificate, deployFixture, makeVote, nodeKeys, registerNode, registration, signVote, MIN_STAKE } from "./fixture.js";

async function trace(label: string, hash: Hash) {
  const t: any = await hre.network.provider.send("debug_traceTransaction", [hash, { disableStorage: true, disableMemory: true, disableStack: false }]);
  const by: Record<string, number> = {};
  const logs = t.structLogs as any[];
  for (let i = 0; i < logs.length; i++) {
    const l = logs[i];
    let c = l.gasCost;
    if (["CALL", "STATICCALL", "DELEGATECALL"].includes(l.op)) {
      // cost of the call op itself = gas before - gas at first op of callee - (gas after return compensation) ; approximate: record gas diff to next same-depth op minus inner
      const next = logs.slice(i + 1).find((x) => x.depth === l.depth);
      const inner = logs[i + 1] && logs[i + 1].depth > l.depth ? logs[i + 1].gas : 0;
      c = next ? l.gas - next.gas : c;
      const k = `d${l.depth} ${l.op}`;
      by[k] = (by[k] ?? 0) + c;
      continue;
    }
    const k = `d${l.depth} ${l.op.startsWith("LOG") ? "LOG" : ["SLOAD", "SSTORE", "KECCAK256"].includes(l.op) ? l.op : "other"}`;
    by[k] = (by[k] ?? 0) + c;
  }
  const r = await (hre as any).viem.getPublicClient().then((p: any) => p.getTransactionReceipt({ hash }));
  console.log(label, "gasUsed", r.gasUsed, "exec", t.gas);
  console.log(Object.entries(by).sort().map(([k, v]) => `  ${k}: ${v}`).join("\n"));
  // per-op SLOAD/SSTORE listing at all depths
  const ops: Record<string, number> = {};
  for (const l of logs) if (l.depth === 1 && !["CALL","STATICCALL"].includes(l.op)) ops[l.op] = (ops[l.op] ?? 0) + l.gasCost;
  console.log("  d1 ops:", Object.entries(ops).sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${k}=${v}`).join(" "));
  console.log("  storage ops:", logs.filter((l) => ["SLOAD", "SSTORE"].includes(l.op) || l.op.startsWith("LOG")).map((l) => `${l.depth}${l.op[1]}${l.gasCost}`).join(" "));
}

const f = await deployFixture();
const committee = [];
for (let i = 1; i <= 7; i++) committee.push(await registerNode(f, i, i - 1));
const target = await registerNode(f, 8, 7);
const op = f.operators[8]!;
const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
const nonce = await f.token.read.nonces([op.account.address]);
const sig = await op.signTypedData({
  domain: { name: await f.token.read.name(), version: "1", chainId: f.chainId, verifyingContract: f.token.address },
  types: { Permit: [{ name: "owner", type: "address" }, { name: "spender", type: "address" }, { name: "value", type: "uint256" }, { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint256" }] },
  primaryType: "Permit",
  message: { owner: op.account.address, spender: f.registry.address, value: MIN_STAKE, nonce, deadline },
});
const { v, r, s } = parseSignature(sig);
await trace("register", await f.registry.write.registerWithPermit([registration(nodeKeys(9)), deadline, Number(v), r, s], { account: op.account }));
const epoch = await f.clock.read.currentEpoch();
const signers5 = committee.slice(0, 5).map((n) => n.keys.gateway);
const vote1 = makeVote(epoch, target.id, 0n);
const c1 = await certificate(f, signers5, vote1);
await f.board.write.submitCertificate([vote1, c1.signatures, c1.vrfOutputs]);
const vote2 = makeVote(epoch, target.id, 1n, { score: 95 });
const c2 = await certificate(f, signers5, vote2);
await trace("cert", await f.board.write.submitCertificate([vote2, c2.signatures, c2.vrfOutputs]));
const disputer = f.operators[9]!;
for (const [seq, idx] of [[3n, 6], [4n, 5]] as const) {
  const a = makeVote(epoch, target.id, seq, { verdict: 1 });
  const b = makeVote(epoch, target.id, seq, { verdict: 2 });
  const ch = committee[idx]!.keys.gateway;
  const h = await f.disputes.write.disputeEquivocation([a, await signVote(f, ch, a), b, await signVote(f, ch, b), { signers: [], vrfOutputs: [] }], { account: disputer.account });
  if (seq === 4n) await trace("dispute", h);
}
process.exit(0);
