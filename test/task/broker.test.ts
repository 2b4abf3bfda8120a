import { expect } from "chai";
import type { Hex } from "viem";
import { openCapsule } from "../../offchain/core/capsule/seal.js";
import { capsulePublicKey, generateCapsuleKeyPair, keyToHex } from "../../offchain/core/capsule/keys.js";
import { Verdict, NodeStatus } from "../../offchain/core/protocol.js";
import { bytesToHex, bytesToBigInt, prove, evaluate } from "../../offchain/core/vrf/index.js";
import { KeyBroker, TASK_KEY_ROLE } from "../../offchain/task/broker.js";
import { signKeyClaim, type KeyClaim } from "../../offchain/task/claim.js";
import { ClaimRejectedError } from "../../offchain/task/errors.js";
import { judgeClaim, type ClaimFacts } from "../../offchain/task/rules.js";
import { executorAlpha } from "../../offchain/task/selection.js";
import { DOMAIN, MemoryChain, SEED, makeNode, specFor, type TestNode } from "./fixtures.js";

async function claimFor(n: TestNode, taskId: bigint, ephemeral = generateCapsuleKeyPair().publicKey, signer = n.account): Promise<KeyClaim> {
  const proof = bytesToHex(prove(n.vrfSecret, executorAlpha(SEED, taskId))) as Hex;
  return signKeyClaim(signer, DOMAIN, { taskId, node: n.nodeId, proof, ephemeralKey: keyToHex(ephemeral) });
}

function outputOf(n: TestNode, taskId: bigint): bigint {
  return bytesToBigInt(evaluate(n.vrfSecret, executorAlpha(SEED, taskId)));
}

describe("key broker rules (judgeClaim)", () => {
  const node = makeNode(4n);
  const chain = new MemoryChain();
  const task = chain.addTask(1n, specFor());
  const fresh = { verdict: Verdict.Trusted, recordedAt: task.createdAt, voided: false };
  let claim: KeyClaim;
  let good: ClaimFacts;
  before(async () => {
    claim = await claimFor(node, 1n);
    good = { task, signer: node.account.address, node: node.facts, seed: SEED, latestVerdict: fresh };
  });

  const reason = (c: KeyClaim, f: Partial<ClaimFacts>) => {
    const j = judgeClaim(c, { ...good, ...f });
    return j.ok ? "ok" : j.reason;
  };

  it("accepts a well-signed, valid, fresh claim and reports its VRF output", () => {
    const j = judgeClaim(claim, good);
    expect(j).to.deep.equal({ ok: true, outputInt: outputOf(node, 1n) });
  });

  it("malformed claims", () => {
    expect(reason({ ...claim, proof: "0x1234" }, {})).to.equal("malformed");
    expect(reason({ ...claim, ephemeralKey: "0x00" }, {})).to.equal("malformed");
    expect(reason({ ...claim, node: 0n }, {})).to.equal("malformed");
  });

  it("unknown task, and a task no longer Open", () => {
    expect(reason(claim, { task: null })).to.equal("unknown-task");
    expect(reason(claim, { task: { ...task, status: 2 } })).to.equal("window-closed");
  });

  it("bad signature: another signer, nobody, or an unregistered node", () => {
    expect(reason(claim, { signer: makeNode(9n).account.address })).to.equal("bad-signature");
    expect(reason(claim, { signer: null })).to.equal("bad-signature");
    expect(reason(claim, { node: null })).to.equal("bad-signature");
  });

  it("bad proof: a proof for another task, or by another VRF key", async () => {
    const other = await claimFor(node, 2n);
    expect(reason({ ...claim, proof: other.proof }, {})).to.equal("bad-proof");
    expect(reason(claim, { node: { ...node.facts, vrfPublicKey: makeNode(8n).facts.vrfPublicKey } })).to.equal("bad-proof");
  });

  it("over threshold", () => {
    expect(reason(claim, { task: { ...task, threshold: outputOf(node, 1n) } })).to.equal("over-threshold");
    expect(reason(claim, { task: { ...task, threshold: outputOf(node, 1n) + 1n } })).to.equal("ok");
  });

  it("not Trusted on chain, or tier below the task's minimum", () => {
    expect(reason(claim, { node: { ...node.facts, status: NodeStatus.Untrusted } })).to.equal("not-trusted");
    expect(reason(claim, { node: { ...node.facts, status: NodeStatus.Registered } })).to.equal("not-trusted");
    expect(reason(claim, { node: { ...node.facts, tier: 0 } })).to.equal("tier-too-low");
  });

  it("no fresh Trusted verdict: none, older than the task, Untrusted, or voided", () => {
    expect(reason(claim, { latestVerdict: null })).to.equal("no-fresh-verdict");
    expect(reason(claim, { latestVerdict: { ...fresh, recordedAt: task.createdAt - 1n } })).to.equal("no-fresh-verdict");
    expect(reason(claim, { latestVerdict: { ...fresh, verdict: Verdict.Untrusted } })).to.equal("no-fresh-verdict");
    expect(reason(claim, { latestVerdict: { ...fresh, voided: true } })).to.equal("no-fresh-verdict");
  });
});

describe("KeyBroker", () => {
  it("releases the key to the lowest valid claim after the window, sealed to its ephemeral key", async () => {
    const chain = new MemoryChain();
    const taskKey = generateCapsuleKeyPair();
    chain.addTask(1n, specFor({ taskKey: keyToHex(taskKey.publicKey) }));
    const nodes = [makeNode(1n), makeNode(2n), makeNode(3n)];
    for (const n of nodes) chain.addNode(n);
    const broker = new KeyBroker({ chain, domain: DOMAIN, windowMs: 150 });
    broker.hold(1n, taskKey.privateKey);
    const eph = nodes.map(() => generateCapsuleKeyPair());
    const settled = await Promise.allSettled(nodes.map(async (n, i) => broker.submit(await claimFor(n, 1n, eph[i]!.publicKey))));
    const best = nodes.reduce((a, b) => (outputOf(a, 1n) < outputOf(b, 1n) ? a : b));
    const winner = nodes.indexOf(best);
    settled.forEach((s, i) => {
      if (i === winner) {
        expect(s.status).to.equal("fulfilled");
      } else {
        expect(s.status).to.equal("rejected");
        expect((s as PromiseRejectedResult).reason).to.be.instanceOf(ClaimRejectedError).with.property("reason", "not-chosen");
      }
    });
    const grant = (settled[winner] as PromiseFulfilledResult<{ sealedKey: Uint8Array }>).value;
    const opened = await openCapsule(grant.sealedKey, eph[winner]!.privateKey, { taskId: 1n, role: TASK_KEY_ROLE });
    expect(keyToHex(capsulePublicKey(opened.payload))).to.equal(keyToHex(taskKey.publicKey));
    expect(broker.releasedTo(1n)).to.equal(best.nodeId);
    // A loser's ephemeral key cannot open the winner's grant.
    const loser = (winner + 1) % nodes.length;
    await openCapsule(grant.sealedKey, eph[loser]!.privateKey, { taskId: 1n, role: TASK_KEY_ROLE }).then(
      () => expect.fail("a loser opened the grant"),
      (e: Error & { code?: string }) => expect(e.code).to.equal("CAPSULE_NOT_RECIPIENT"),
    );
    // Late claims after the release are refused.
    await broker.submit(await claimFor(nodes[loser]!, 1n)).then(
      () => expect.fail("late claim granted"),
      (e: ClaimRejectedError) => expect(e.reason).to.equal("window-closed"),
    );
    broker.stop();
  });

  it("refuses an invalid claim at once without opening the window, and keeps serving others", async () => {
    const chain = new MemoryChain();
    const taskKey = generateCapsuleKeyPair();
    chain.addTask(1n, specFor({ taskKey: keyToHex(taskKey.publicKey) }));
    const stale = makeNode(1n);
    const good = makeNode(2n);
    chain.addNode(stale, { verdict: Verdict.Trusted, recordedAt: 10n, voided: false });
    chain.addNode(good);
    const broker = new KeyBroker({ chain, domain: DOMAIN, windowMs: 50 });
    broker.hold(1n, taskKey.privateKey);
    await broker.submit(await claimFor(stale, 1n)).then(
      () => expect.fail("stale claim granted"),
      (e: ClaimRejectedError) => expect(e.reason).to.equal("no-fresh-verdict"),
    );
    const forged = await claimFor(good, 1n, undefined, makeNode(7n).account);
    await broker.submit(forged).then(
      () => expect.fail("forged claim granted"),
      (e: ClaimRejectedError) => expect(e.reason).to.equal("bad-signature"),
    );
    expect(broker.releasedTo(1n)).to.equal(undefined);
    await broker.submit(await claimFor(good, 1n));
    expect(broker.releasedTo(1n)).to.equal(2n);
    await broker.submit(await claimFor(good, 9n)).then(
      () => expect.fail("claim for an unheld task granted"),
      (e: ClaimRejectedError) => expect(e.reason).to.equal("unknown-task"),
    );
    broker.stop();
  });
});
