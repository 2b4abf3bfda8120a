import { expect } from "chai";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Swtpm } from "../../firmware/agent/swtpm.js";
import { TpmDriver } from "../../firmware/agent/drivers/tpm.js";
import { SwDriver } from "../../firmware/agent/drivers/sw.js";
import { EV, EventLogWriter, encodeEvent2 } from "../../firmware/agent/eventlog-writer.js";
import { MEASURED_PCRS, Measurer, measureBoot, PCR } from "../../firmware/agent/measure.js";
import type { AgentDriver, BankName } from "../../firmware/agent/drivers/types.js";
import { parseEventLog, replayEventLog, compareEventLog } from "../../offchain/attest/eventlog/parse.js";
import { parsePcrReadOutput } from "../../offchain/attest/tpm/pcrs.js";
import { verifyQuote } from "../../offchain/attest/quote.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { bootInputs } from "./helpers.js";

const execFileP = promisify(execFile);
const ALG: Record<BankName, number> = { sha1: 4, sha256: 11, sha384: 12, sha512: 13 };

describe("measured boot + event log writer", function () {
  let work: string;
  const tpms: Swtpm[] = [];

  before(async function () {
    work = await mkdtemp(join(tmpdir(), "trustmesh-evlog-"));
    // Three swtpm instances at once; they must not share ports or state.
    tpms.push(...(await Promise.all([Swtpm.start(), Swtpm.start(), Swtpm.start()])));
  });

  after(async function () {
    await Promise.all(tpms.map((t) => t.stop()));
    await rm(work, { recursive: true, force: true });
  });

  it("several swtpm instances run at once on distinct ports", function () {
    expect(new Set(tpms.map((t) => t.port)).size).to.equal(3);
    expect(tpms.every((t) => t.running)).to.equal(true);
  });

  async function measureOn(driver: AgentDriver): Promise<{ m: Measurer; banks: readonly BankName[] }> {
    await driver.init();
    const m = await Measurer.create(driver);
    await measureBoot(m, bootInputs(randomBytes(16)));
    await m.measure(PCR.containers, "container", "second:2.0", Buffer.from("second image"));
    return { m, banks: await driver.banks() };
  }

  for (const kind of ["tpm", "sw"] as const) {
    it(`${kind} driver: log replays to the PCRs, tpm2_eventlog parses it without warnings`, async function () {
      const driver: AgentDriver =
        kind === "tpm" ? new TpmDriver({ tcti: (tpms[0] as Swtpm).tcti, stateDir: join(work, "tpm0") }) : new SwDriver({ stateDir: join(work, "sw") });
      const { m, banks } = await measureOn(driver);
      const selection = banks.map((bank) => ({ bank, pcrs: [...MEASURED_PCRS] }));
      const { raw } = await driver.readPcrs(selection);
      const quoted = parsePcrReadOutput(raw, selection.map((s) => ({ hashAlg: ALG[s.bank], pcrs: s.pcrs })));
      const log = parseEventLog(m.log.bytes());
      expect(compareEventLog(log, quoted).filter((f) => f.severity === "error")).to.deep.equal([]);
      // PCR 9 holds exactly one event: the boot image, whose sha256 digest is the image's sha256.
      const boot = log.events.find((e) => e.pcrIndex === 9);
      expect(boot?.digests.find((d) => d.hashAlg === 11)?.digest.toString("hex")).to.equal(
        createHash("sha256").update(bootInputs(Buffer.alloc(16)).bootImage.content).digest("hex"),
      );
      const file = join(work, `${kind}.bin`);
      await writeFile(file, m.log.bytes());
      const { stdout, stderr } = await execFileP("tpm2_eventlog", [file]);
      expect(stderr).to.not.match(/WARN|ERROR/);
      // tpm2_eventlog's own replay equals the TPM's PCRs.
      const replay = replayEventLog(log);
      for (const b of banks) {
        for (const pcr of MEASURED_PCRS) {
          const v = replay.get(ALG[b])?.get(pcr)?.toString("hex");
          expect(stdout, `${b}:${pcr}`).to.include(`${String(pcr).padEnd(2)} : 0x${v}`);
        }
      }
      expect(stdout).to.include("kernel_cmdline: console=ttyS0");
      await driver.close();
    });
  }

  it("tpm driver quote over the measured PCRs verifies with verifyQuote", async function () {
    const driver = new TpmDriver({ tcti: (tpms[1] as Swtpm).tcti, stateDir: join(work, "tpm1"), akAlg: "rsa" });
    await measureOn(driver);
    const sel = [{ bank: "sha256" as const, pcrs: [...MEASURED_PCRS] }];
    const nonce = randomBytes(32);
    const q = await driver.quote(sel, nonce);
    const res = verifyQuote({
      quote: q.attest,
      signature: q.signature,
      akPublic: await driver.akPublic(),
      pcrs: parsePcrReadOutput(q.pcrs, [{ hashAlg: 11, pcrs: [...MEASURED_PCRS] }]),
      expectedNonce: nonce,
    });
    expect(res.findings).to.deep.equal([]);
    expect(res.ok).to.equal(true);
  });

  it("swtpm restart is a TPM reset: resetCount + 1, PCRs back to zero", async function () {
    const t = tpms[2] as Swtpm;
    const d1 = new TpmDriver({ tcti: t.tcti, stateDir: join(work, "tpm2") });
    await d1.init();
    await d1.extend(8, { sha256: createHash("sha256").update("x").digest() });
    const c1 = await d1.clock();
    await t.restart();
    const d2 = new TpmDriver({ tcti: t.tcti, stateDir: join(work, "tpm2") });
    await d2.init(); // AK is persistent: no new key after the reset
    expect((await d2.akPublic()).equals(await d1.akPublic())).to.equal(true);
    expect((await d2.clock()).resetCount).to.equal(c1.resetCount + 1);
    const { values } = await d2.readPcrs([{ bank: "sha256", pcrs: [8] }]);
    expect(values.sha256?.[8]).to.equal("00".repeat(32));
  });

  it("writer refuses records that would make a malformed log", function () {
    const w = new EventLogWriter(["sha256"]);
    const bad = [
      { pcr: 24, eventType: EV.IPL, digests: { sha256: Buffer.alloc(32) }, data: Buffer.alloc(0) },
      { pcr: 8, eventType: EV.IPL, digests: { sha256: Buffer.alloc(31) }, data: Buffer.alloc(0) },
      { pcr: 8, eventType: EV.IPL, digests: {}, data: Buffer.alloc(0) },
    ];
    for (const e of bad) {
      let threw: unknown;
      try {
        w.append(e);
      } catch (x) {
        threw = x;
      }
      expect(isTrustmeshError(threw, "EVENTLOG_WRITE")).to.equal(true);
    }
    expect(() => new EventLogWriter([])).to.throw();
    expect(encodeEvent2(["sha256"], { pcr: 8, eventType: EV.IPL, digests: { sha256: Buffer.alloc(32) }, data: Buffer.from("x") })).to.have.length(4 + 4 + 4 + 2 + 32 + 4 + 1);
    expect(() => EventLogWriter.restore(["sha1"], w.bytes())).to.throw();
  });
});
