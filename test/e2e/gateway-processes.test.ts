/**
 * The devnet with its gateways in processes of their own (DevnetOptions.gatewayProcesses,
 * the end-to-end benchmark's layout): four gateways in two processes attest each other to
 * Trusted, so gossip, direct messages and PBFT cross process boundaries; the evidence they
 * pin reaches the devnet's store through the parent; round timings come back; and stopping
 * the devnet leaves no gateway process behind.
 */
import "../../offchain/core/polyfills.js";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { expect } from "chai";
import { missingTpmTool, TPM_INSTALL_COMMAND } from "../../offchain/devnet/tools.js";
import { Devnet } from "../../offchain/devnet/devnet.js";
import { auditTarget, demoOptions, statuses } from "../../offchain/devnet/scenes.js";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { readVerdicts } from "../../offchain/chain/reads.js";
import { CID } from "../../ipfs/adapter/index.js";
import type { RoundTiming } from "../../offchain/relayer/verifier.js";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("devnet gateways in two processes of their own (4 gateways, swtpm, hardhat node)", function () {
  this.timeout(240_000);
  let dir: string;
  let net: Devnet | undefined;
  const timings: { gateway: number; t: RoundTiming }[] = [];

  before(async () => {
    const missing = missingTpmTool();
    if (missing !== undefined) throw new Error(`this test needs ${missing}: ${TPM_INSTALL_COMMAND} (or bash scripts/ensure-prereqs.sh --tpm)`);
    dir = await mkdtemp(join(tmpdir(), "tm-procs-"));
    net = await Devnet.start(demoOptions(4, join(dir, "devnet"), { onFailedVerdict: "report", gatewayProcesses: 2, onRoundTiming: (gateway, t) => timings.push({ gateway, t }) }));
  });

  after(async () => {
    await net?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("attests every node Trusted across the processes, with the evidence in the devnet's store", async () => {
    const n = net as Devnet;
    const pids = n.hosts.map((h) => h.pid as number);
    expect(pids).to.have.length(2);
    expect(pids.every(alive)).to.equal(true);
    expect(pids).to.not.include(process.pid);

    await n.waitFor("every node Trusted", async () => (await statuses(n)).every((s) => s === NodeStatus.Trusted), 150_000);

    // Gateways 0 and 2 run in one process, 1 and 3 in the other: each process's verifiers took part.
    const requestedBy = new Set(timings.filter((x) => x.t.event === "requested").map((x) => x.gateway % 2));
    expect([...requestedBy].sort()).to.deep.equal([0, 1]);
    expect(timings.some((x) => x.t.event === "recorded")).to.equal(true);

    const verdicts = await readVerdicts(auditTarget(n));
    expect(verdicts.length).to.be.at.least(4);
    const withEvidence = verdicts.filter((v) => v.evidenceCid !== "");
    expect(withEvidence.length).to.be.at.least(1);
    for (const v of withEvidence) expect(await n.store.has(CID.parse(v.evidenceCid)), `evidence ${v.evidenceCid} in the devnet's store`).to.equal(true);

    // Schedule changes reach each gateway in its process (an unknown index would be refused there).
    await n.setAttestationInterval(4_000);
    // A gateway in another process is reached only through its control.
    expect(() => (n.nodes[0] as (typeof n.nodes)[number]).gateway).to.throw(/process of its own/);
    expect((await (n.nodes[1] as (typeof n.nodes)[number]).control.admittedNodeIds()).length).to.equal(3);

    await n.stop();
    net = undefined;
    expect(pids.some(alive), "a gateway process outlived the devnet").to.equal(false);
  });
});
