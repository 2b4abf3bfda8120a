import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { appraise } from "../../offchain/attest/appraise.js";
import { AttestError, type Finding } from "../../offchain/attest/errors.js";
import { parseEventLog } from "../../offchain/attest/eventlog/parse.js";
import { readEvidenceDir } from "../../offchain/attest/evidence-dir.js";
import { evaluatePolicy, parsePolicy, parsePolicyJson, policySchema } from "../../offchain/attest/policy/evaluate.js";
import { validateJson } from "../../offchain/attest/policy/json-schema.js";
import type { GoldenPolicy, PolicyEvidence } from "../../offchain/attest/policy/types.js";
import { clockStateOf } from "../../offchain/attest/quote.js";
import { parseTpmsAttest } from "../../offchain/attest/tpm/attest.js";
import { parsePcrReadOutput } from "../../offchain/attest/tpm/pcrs.js";
import { writeEventLog } from "./helpers/eventlog-writer.js";
import { FIXTURES, fx } from "./helpers/fixtures.js";

const policyText = () => readFileSync(join(FIXTURES, "policy.json"), "utf8");

function evidence(dir: string): PolicyEvidence {
  const sel = parseTpmsAttest(fx(dir, "quote.attest")).pcrSelect;
  return { pcrs: parsePcrReadOutput(fx(dir, "pcrs.bin"), sel), eventLog: parseEventLog(fx(dir, "eventlog.bin")) };
}

function failures(f: Finding[]): string[] {
  return f.filter((x) => x.severity === "error" || x.severity === "fatal").map((x) => x.code);
}

function invalid(doc: unknown): string[] {
  try {
    parsePolicy(doc);
  } catch (e) {
    expect(e).to.be.instanceOf(AttestError);
    expect((e as AttestError).code).to.equal("POLICY_INVALID");
    return (e as AttestError).metaMessages;
  }
  throw new Error("policy accepted");
}

describe("attest/policy", () => {
  describe("document", () => {
    it("the fixture policy satisfies the schema", () => {
      const p = parsePolicyJson(policyText());
      expect(p.version).to.equal(1);
      expect(p.rules.map((r) => r.kind)).to.deep.equal(["pcr_matches", "eventlog_equals", "eventlog_includes", "eventlog_includes"]);
      expect(validateJson(policySchema(), JSON.parse(policyText()))).to.deep.equal([]);
    });
    it("rejects other versions, unknown kinds and properties, bad digests, with a pointer to each", () => {
      const base = JSON.parse(policyText()) as GoldenPolicy;
      expect(() => parsePolicy({ ...base, version: 2 })).to.throw(AttestError, /version 2 is not supported/);
      expect(invalid({ ...base, rules: [{ kind: "pcr_glob", bank: "sha256", pcr: 1 }] })).to.deep.equal(["/rules/0: matches no allowed variant"]);
      expect(invalid({ ...base, extra: 1 })).to.deep.equal(["/extra: unknown property"]);
      expect(invalid({ ...base, rules: [{ ...base.rules[0]!, pcr: 24 }] })).to.deep.equal(["/rules/0/pcr: must be <= 23"]);
      expect(invalid({ ...base, rules: [{ ...base.rules[0]!, value: "ABCD" }] })[0]).to.match(/^\/rules\/0\/value: must match/);
      expect(invalid({ ...base, rules: [{ kind: "pcr_matches", bank: "sha256", pcr: 0, value: "00".repeat(20) }] })).to.deep.equal(["/rules/0: digest 0 is 20 bytes, sha256 needs 32"]);
      expect(invalid({ ...base, rules: [] })).to.deep.equal(["/rules: must have at least 1 items"]);
      expect(invalid({ version: 1 })).to.have.members(['/: missing required property "name"', '/: missing required property "rules"']);
      expect(() => parsePolicyJson("{")).to.throw(AttestError, /not valid JSON/);
    });
  });

  describe("evaluation", () => {
    const policy = () => parsePolicyJson(policyText());

    it("the approved boot passes every rule", () => {
      const f = evaluatePolicy(policy(), evidence("ecc"));
      expect(failures(f)).to.deep.equal([]);
      expect(f.filter((x) => x.code === "POLICY_RULE_PASSED").length).to.equal(4);
    });
    it("an unapproved boot image fails eventlog_includes and nothing else", () => {
      const f = evaluatePolicy(policy(), evidence("unapproved-image"));
      expect(failures(f)).to.deep.equal(["POLICY_EVENTLOG_MISSING_DIGEST"]);
      expect(f.find((x) => x.code === "POLICY_EVENTLOG_MISSING_DIGEST")?.details).to.deep.include({ pcr: 4, match: "any" });
    });
    it("pcr_matches and eventlog_equals report the differing value / position", () => {
      const p = policy();
      const r0 = p.rules[0]!;
      if (r0.kind !== "pcr_matches") throw new Error("fixture order");
      r0.value = "00".repeat(32);
      const r1 = p.rules[1]!;
      if (r1.kind !== "eventlog_equals") throw new Error("fixture order");
      r1.digests = [r1.digests[0]!];
      const f = evaluatePolicy(p, evidence("ecc"));
      expect(failures(f)).to.deep.equal(["POLICY_PCR_MISMATCH", "POLICY_EVENTLOG_MISMATCH"]);
      expect(f.find((x) => x.code === "POLICY_EVENTLOG_MISMATCH")?.details).to.deep.include({ index: 1 });
    });
    it("match all requires every digest", () => {
      const p = policy();
      const r = p.rules[2]!;
      if (r.kind !== "eventlog_includes") throw new Error("fixture order");
      r.match = "all";
      expect(failures(evaluatePolicy(p, evidence("ecc")))).to.deep.equal(["POLICY_EVENTLOG_MISSING_DIGEST"]);
    });
    it("a forged event log that claims the approved image but does not replay to the quote is rejected", () => {
      const real = evidence("unapproved-image");
      const forged = parseEventLog(writeEventLog([4, 0xb, 0xc], [
        { pcrIndex: 4, eventType: 0xd, data: Buffer.from("trustmesh hpc boot image v1\n") },
      ]));
      const f = evaluatePolicy(policy(), { pcrs: real.pcrs, eventLog: forged });
      expect(failures(f)).to.include("POLICY_EVENTLOG_UNVERIFIED");
      expect(failures(f)).to.not.include("POLICY_EVENTLOG_MISSING_DIGEST");
    });
    it("without an event log, or with the PCR not quoted, the log rules fail", () => {
      const ev = evidence("ecc");
      expect(failures(evaluatePolicy(policy(), { pcrs: ev.pcrs }))).to.deep.equal(["POLICY_EVENTLOG_MISSING", "POLICY_EVENTLOG_MISSING", "POLICY_EVENTLOG_MISSING"]);
      ev.pcrs.get(0xb)!.delete(4);
      ev.pcrs.get(0xb)!.delete(0);
      expect(failures(evaluatePolicy(policy(), ev))).to.deep.equal(["POLICY_PCR_NOT_QUOTED", "POLICY_PCR_NOT_QUOTED", "POLICY_PCR_NOT_QUOTED"]);
    });
  });

  describe("appraise (quote + event log + policy) on the evidence directories", () => {
    const cases: [string, string[]][] = [
      ["ecc", []], ["ecc384", []], ["rsa", []], ["rsapss", []],
      ["tampered-wrong-nonce", ["NONCE_MISMATCH"]],
      ["tampered-pcr-changed", ["PCR_DIGEST_MISMATCH"]],
      ["reboot", []],
      ["unapproved-image", ["POLICY_EVENTLOG_MISSING_DIGEST"]],
    ];
    for (const [dir, expected] of cases) {
      it(`${dir}: ${expected.length ? expected.join(", ") : "valid"}`, () => {
        const e = readEvidenceDir(join(FIXTURES, dir));
        const r = appraise({ evidence: e.evidence, akPublic: e.akPublic, expectedNonce: e.nonce, policy: parsePolicyJson(policyText()) });
        expect(failures(r.findings)).to.deep.equal(expected);
        expect(r.ok).to.equal(expected.length === 0);
      });
    }
    it("reboot/ against ecc/'s clock reports REBOOT_DETECTED as a warning", () => {
      const prev = clockStateOf(parseTpmsAttest(fx("ecc", "quote.attest")));
      const e = readEvidenceDir(join(FIXTURES, "reboot"));
      const r = appraise({ evidence: e.evidence, akPublic: e.akPublic, expectedNonce: e.nonce, previousClock: prev });
      expect(r.findings.map((f) => [f.code, f.severity])).to.deep.equal([["REBOOT_DETECTED", "warning"]]);
    });
    it("a PCR file that does not fit the quote's selection is a fatal finding", () => {
      const e = readEvidenceDir(join(FIXTURES, "ecc"));
      const r = appraise({ evidence: { ...e.evidence, pcrs: e.evidence.pcrs!.subarray(1) }, akPublic: e.akPublic, expectedNonce: e.nonce });
      expect(failures(r.findings)).to.deep.equal(["PCR_VALUES_MALFORMED"]);
    });
  });
});
