import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Swtpm } from "../../firmware/agent/swtpm.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";

/** A listening socket on a kernel-chosen loopback port, standing in for another process's. */
async function occupy(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (typeof addr !== "object" || !addr) throw new Error("no address");
  return { server, port: addr.port };
}

describe("swtpm process: ports and start failures", function () {
  this.timeout(30_000);

  it("draws another port pair when the server port is taken between probe and bind", async function () {
    const { server, port } = await occupy();
    const t = await Swtpm.start({ port });
    try {
      expect(t.port).to.not.equal(port);
      expect(t.running).to.equal(true);
    } finally {
      await t.stop();
      server.close();
    }
  });

  it("draws another pair when the control port (server + 1) is taken", async function () {
    const { server, port } = await occupy();
    const t = await Swtpm.start({ port: port - 1 });
    try {
      expect(t.port).to.not.equal(port - 1);
      expect(t.running).to.equal(true);
    } finally {
      await t.stop();
      server.close();
    }
  });

  it("eight instances started at once get eight disjoint port pairs", async function () {
    const tpms = await Promise.all(Array.from({ length: 8 }, () => Swtpm.start()));
    try {
      const ports = tpms.flatMap((t) => [t.port, t.port + 1]);
      expect(new Set(ports).size).to.equal(16);
      expect(tpms.every((t) => t.running)).to.equal(true);
    } finally {
      await Promise.all(tpms.map((t) => t.stop()));
    }
  });

  it("a failure other than a taken port is reported with swtpm's own words", async function () {
    const dir = await mkdtemp(join(tmpdir(), "trustmesh-swtpm-bad-"));
    // A corrupt NV file: libtpms refuses it and swtpm exits during start.
    await writeFile(join(dir, "tpm2-00.permall"), randomBytes(3000));
    try {
      await Swtpm.start({ stateDir: dir });
      expect.fail("started on a corrupt TPM state");
    } catch (e) {
      expect(isTrustmeshError(e)).to.equal(true);
      const err = e as { code: string; message: string; details?: unknown };
      expect(err.code).to.equal("SWTPM_FAILED");
      expect(err.message).to.match(/exited with 1 during start/);
      expect(String(err.details)).to.match(/libtpms/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
