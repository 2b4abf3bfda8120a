import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { parseAgentConfig } from "../../firmware/agent/config.js";
import { runAgent } from "../../firmware/agent/main.js";
import { AgentClient, generateStaticKey } from "../../offchain/attest/bridge/index.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";

describe("agent daemon entry (config + runAgent)", function () {
  let work: string;

  before(async function () {
    work = await mkdtemp(join(tmpdir(), "trustmesh-daemon-"));
  });

  after(async function () {
    await rm(work, { recursive: true, force: true });
  });

  it("starts from a config, measures the boot image and serves its pinned gateway", async function () {
    const agentKey = generateStaticKey();
    const gw = generateStaticKey();
    await writeFile(join(work, "boot.efi"), "image bytes");
    await writeFile(join(work, "cmdline"), "console=ttyS0 quiet\n");
    const config = parseAgentConfig({
      driver: "sw",
      stateDir: join(work, "state"),
      listen: { host: "127.0.0.1", port: 0 },
      staticKeyHex: Buffer.from(agentKey.secretKey).toString("hex"),
      gatewayKeysHex: [Buffer.from(gw.publicKey).toString("hex")],
      boot: { imagePath: join(work, "boot.efi"), nonceHex: "11".repeat(16), cmdlinePath: join(work, "cmdline") },
      scratchDir: join(work, "scratch"),
    });
    const warnings: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void warnings.push(line) });
    const { agent, server } = await runAgent(config, logger);
    // The software tier is announced, never silent.
    expect(warnings.some((l) => l.includes("software driver: development only"))).to.equal(true);
    try {
      const c = await AgentClient.connect({ port: server.port, staticKey: gw, agentKey: agentKey.publicKey });
      expect((await c.hello()).tier).to.equal("software");
      const r = await c.quote({ selection: [{ bank: "sha256", pcrs: [8, 9, 11] }], include: ["eventlog", "scratch"] });
      expect(r.evidence.scratch?.empty).to.equal(true);
      expect(Buffer.from(r.evidence.eventLog ?? "", "base64").includes(Buffer.from("kernel_cmdline: console=ttyS0 quiet"))).to.equal(true);
      await writeFile(join(work, "scratch", "job.out"), "results");
      const w = await c.wipeScratch();
      expect(w.before.files).to.equal(1);
      expect(w.after.empty).to.equal(true);
      c.close();
    } finally {
      await server.close();
      await agent.stop();
    }
  });

  it("rejects bad configs at start", function () {
    const good = { driver: "tpm", tcti: "device:/dev/tpmrm0", stateDir: "/x", listen: { host: "127.0.0.1", port: 1 }, staticKeyHex: "00".repeat(32), gatewayKeysHex: ["11".repeat(32)] };
    expect(parseAgentConfig(good).driver).to.equal("tpm");
    for (const bad of [{ ...good, driver: "fpga" }, { ...good, tcti: "tcp:1" }, { ...good, gatewayKeysHex: [] }, { ...good, staticKeyHex: "zz" }, { ...good, rekeyIntervalMs: -1 }, null]) {
      let threw: unknown;
      try {
        parseAgentConfig(bad);
      } catch (e) {
        threw = e;
      }
      expect(isTrustmeshError(threw, "BAD_REQUEST")).to.equal(true);
    }
  });
});
