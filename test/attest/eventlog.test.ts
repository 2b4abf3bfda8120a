import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { AttestError } from "../../offchain/attest/errors.js";
import { compareEventLog, measuredDigests, parseEventLog, replayEventLog, startupLocality } from "../../offchain/attest/eventlog/parse.js";
import { EV } from "../../offchain/attest/eventlog/types.js";
import { parseTpmsAttest } from "../../offchain/attest/tpm/attest.js";
import { TPM_ALG } from "../../offchain/attest/tpm/constants.js";
import { parsePcrReadOutput, pcrBanksToJson } from "../../offchain/attest/tpm/pcrs.js";
import { EventLogWriter } from "../../firmware/agent/eventlog-writer.js";
import { expectedPcrs, writeEventLog, type WriterEvent } from "./helpers/eventlog-writer.js";
import { FIXTURES, GOOD, fx } from "./helpers/fixtures.js";

const BANKS = [TPM_ALG.sha1, TPM_ALG.sha256, TPM_ALG.sha384];
const EVENTS: WriterEvent[] = [
  { pcrIndex: 0, eventType: EV.S_CRTM_VERSION, data: Buffer.from("crtm 2") },
  { pcrIndex: 4, eventType: EV.IPL, data: Buffer.from("img") },
  { pcrIndex: 0, eventType: EV.SEPARATOR, data: Buffer.alloc(4) },
  { pcrIndex: 4, eventType: EV.SEPARATOR, data: Buffer.alloc(4) },
];

function parseCode(buf: Buffer): string {
  try {
    parseEventLog(buf);
  } catch (e) {
    expect(e).to.be.instanceOf(AttestError);
    return (e as AttestError).code;
  }
  return "parsed";
}

describe("attest/eventlog", () => {
  it("parses a written log and replays it to the PCRs a TPM would hold", () => {
    const log = parseEventLog(writeEventLog(BANKS, EVENTS));
    expect(log.specId.algorithms.map((a) => [a.algorithmId, a.digestSize])).to.deep.equal([[4, 20], [0xb, 32], [0xc, 48]]);
    expect(log.events.map((e) => [e.seq, e.pcrIndex, e.eventType])).to.deep.equal([[1, 0, 8], [2, 4, 0xd], [3, 0, 4], [4, 4, 4]]);
    expect(pcrBanksToJson(replayEventLog(log))).to.deep.equal(pcrBanksToJson(expectedPcrs(BANKS, EVENTS)));
    expect(measuredDigests(log, TPM_ALG.sha256, 4).map((d) => d.toString("hex"))).to.deep.equal([
      createHash("sha256").update("img").digest("hex"),
      createHash("sha256").update(Buffer.alloc(4)).digest("hex"),
    ]);
  });

  it("applies a StartupLocality event to PCR 0 and skips EV_NO_ACTION in replay", () => {
    const log = parseEventLog(writeEventLog(BANKS, EVENTS, { startupLocality: 3 }));
    expect(startupLocality(log)).to.equal(3);
    expect(pcrBanksToJson(replayEventLog(log))).to.deep.equal(pcrBanksToJson(expectedPcrs(BANKS, EVENTS, 3)));
  });

  for (const kind of GOOD) {
    it(`the ${kind} fixture log replays to the PCR values the quote vouches for`, () => {
      const sel = parseTpmsAttest(fx(kind, "quote.attest")).pcrSelect;
      const quoted = parsePcrReadOutput(fx(kind, "pcrs.bin"), sel);
      const log = parseEventLog(fx(kind, "eventlog.bin"));
      expect(compareEventLog(log, quoted)).to.deep.equal([]);
    });
  }

  it("agrees with tpm2_eventlog on the fixture's replayed PCRs", function () {
    let out: string;
    try {
      out = execFileSync("tpm2_eventlog", [join(FIXTURES, "ecc", "eventlog.bin")], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch (e) {
      throw new Error(`tpm2_eventlog failed on our fixture log: ${(e as Error).message}`);
    }
    const ours = pcrBanksToJson(replayEventLog(parseEventLog(fx("ecc", "eventlog.bin"))));
    const section = out.slice(out.indexOf("pcrs:"));
    for (const [bank, pcrs] of Object.entries(ours)) {
      for (const [pcr, v] of Object.entries(pcrs)) {
        expect(section, `${bank}:${pcr}`).to.match(new RegExp(`${pcr}\\s*: 0x${v}`, "i"));
      }
    }
  });

  it("reads the HPC agent's own writer (firmware/agent/eventlog-writer.ts) and replays it", () => {
    const w = new EventLogWriter(["sha1", "sha256", "sha384"]);
    for (const e of EVENTS) {
      w.append({ pcr: e.pcrIndex, eventType: e.eventType, data: e.data, digests: { sha1: createHash("sha1").update(e.data).digest(), sha256: createHash("sha256").update(e.data).digest(), sha384: createHash("sha384").update(e.data).digest() } });
    }
    const bytes = w.bytes();
    expect(bytes.equals(writeEventLog(BANKS, EVENTS))).to.equal(true);
    expect(pcrBanksToJson(replayEventLog(parseEventLog(bytes)))).to.deep.equal(pcrBanksToJson(expectedPcrs(BANKS, EVENTS)));
  });

  it("reports a log that does not replay to the quoted PCRs, and unquoted measured PCRs", () => {
    const sel = parseTpmsAttest(fx("ecc", "quote.attest")).pcrSelect;
    const quoted = parsePcrReadOutput(fx("ecc", "pcrs.bin"), sel);
    const forged = parseEventLog(writeEventLog(BANKS, [...EVENTS, { pcrIndex: 14, eventType: EV.IPL, data: Buffer.from("x") }]));
    const f = compareEventLog(forged, quoted);
    expect(f.filter((x) => x.code === "EVENTLOG_REPLAY_MISMATCH").length).to.be.greaterThan(0);
    expect(f.find((x) => x.code === "EVENTLOG_PCR_UNQUOTED")?.details).to.deep.include({ pcr: 14 });
    const noSha384 = parseEventLog(writeEventLog([TPM_ALG.sha1, TPM_ALG.sha256], EVENTS));
    expect(compareEventLog(noSha384, quoted).map((x) => x.code)).to.include("EVENTLOG_BANK_MISSING");
  });

  describe("strictness", () => {
    const good = writeEventLog(BANKS, EVENTS);
    it("rejects truncation at every length and trailing garbage", () => {
      for (let n = 0; n < good.length; n++) expect(parseCode(good.subarray(0, n)), `length ${n}`).to.be.oneOf(["EVENTLOG_PARSE", "parsed"]);
      // Only the record boundaries parse; anything mid-record is an error.
      const boundaries = [0, 1, 2, 3].map((k) => writeEventLog(BANKS, EVENTS.slice(0, k)).length);
      for (let n = boundaries[0]!; n < good.length; n++) {
        expect(parseCode(good.subarray(0, n)) === "parsed", `length ${n}`).to.equal(boundaries.includes(n));
      }
      expect(parseCode(Buffer.concat([good, Buffer.from([0])]))).to.equal("EVENTLOG_PARSE");
    });
    it("rejects a SHA-1-only log, a wrong header, undeclared or duplicate digests and missing banks", () => {
      const noSpec = Buffer.from(good);
      noSpec.write("Spec ID Event02", 32, "latin1");
      expect(parseCode(noSpec)).to.equal("EVENTLOG_PARSE");
      const wrongType = Buffer.from(good);
      wrongType.writeUInt32LE(EV.POST_CODE, 4);
      expect(parseCode(wrongType)).to.equal("EVENTLOG_PARSE");
      const headerLen = writeEventLog(BANKS, []).length;
      const undeclared = Buffer.from(good);
      undeclared.writeUInt16LE(TPM_ALG.sha512, headerLen + 12);
      expect(parseCode(undeclared)).to.equal("EVENTLOG_PARSE");
      const dup = Buffer.from(good);
      dup.writeUInt16LE(TPM_ALG.sha1, headerLen + 12 + 2 + 20); // the second digest (sha256) claims to be sha1 again
      expect(parseCode(dup)).to.equal("EVENTLOG_PARSE");
      const fewer = Buffer.from(good);
      fewer.writeUInt32LE(2, headerLen + 8);
      expect(parseCode(fewer)).to.equal("EVENTLOG_PARSE");
      const badPcr = Buffer.from(good);
      badPcr.writeUInt32LE(24, headerLen);
      expect(parseCode(badPcr)).to.equal("EVENTLOG_PARSE");
    });
  });
});
