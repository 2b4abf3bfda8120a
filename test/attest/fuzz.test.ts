/**
 * Fuzzes every parser with random bytes and with mutations of the real swtpm fixtures
 * (bit flips, byte overwrites, boundary sizes, truncation, extension, duplicated slices).
 * The property: a parser returns or throws AttestError; nothing else may escape. The
 * quote verifier and the appraisal must not throw at all: bad input becomes findings.
 */
import { expect } from "chai";
import fc from "fast-check";
import { appraise } from "../../offchain/attest/appraise.js";
import { loadAkPublic } from "../../offchain/attest/ak.js";
import { AttestError } from "../../offchain/attest/errors.js";
import { compareEventLog, parseEventLog, replayEventLog } from "../../offchain/attest/eventlog/parse.js";
import { evaluatePolicy, parsePolicy } from "../../offchain/attest/policy/evaluate.js";
import { verifyQuote } from "../../offchain/attest/quote.js";
import { parseTpmsAttest } from "../../offchain/attest/tpm/attest.js";
import { parsePcrReadOutput, parsePcrSelection, parseSelectionSpec } from "../../offchain/attest/tpm/pcrs.js";
import { parseTpm2bPublic, parseTpmtPublic } from "../../offchain/attest/tpm/public.js";
import { parseTpmtSignature } from "../../offchain/attest/tpm/signature.js";
import { GOOD, fx, nonceOf } from "./helpers/fixtures.js";

type Mutation =
  | { k: "flip"; at: number; bit: number }
  | { k: "set"; at: number; v: number }
  | { k: "u16"; at: number; v: number }
  | { k: "truncate"; to: number }
  | { k: "extend"; bytes: Uint8Array }
  | { k: "dup"; at: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("set" as const), at: fc.nat(), v: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("u16" as const), at: fc.nat(), v: fc.constantFrom(0, 1, 2, 0x20, 0x40, 0x41, 0x100, 0x7fff, 0xffff) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("truncate" as const), to: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("extend" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("dup" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }) },
);

function apply(seed: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of muts) {
    if (b.length === 0 && m.k !== "extend") continue;
    switch (m.k) {
      case "flip": b[m.at % b.length]! ^= 1 << m.bit; break;
      case "set": b[m.at % b.length] = m.v; break;
      case "u16": if (b.length >= 2) b.writeUInt16BE(m.v, m.at % (b.length - 1)); break;
      case "truncate": b = b.subarray(0, m.to % (b.length + 1)); break;
      case "extend": b = Buffer.concat([b, m.bytes]); break;
      case "dup": { const at = m.at % b.length; b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.len), b.subarray(at)]); break; }
    }
  }
  return b;
}

function mutated(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([s, m]) => apply(s, m));
}

const randomBytes = fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u));

let runs = 0;
let parsedOk = 0;

/** Runs `fn`; anything but a return or an AttestError fails the property. */
function onlyAttestErrors(fn: () => unknown): boolean {
  runs++;
  try {
    fn();
    parsedOk++;
    return true;
  } catch (e) {
    if (e instanceof AttestError) return true;
    throw e;
  }
}

const seeds = (file: string) => GOOD.map((k) => fx(k, file));

describe("attest fuzz (fast-check)", function () {
  this.timeout(120_000);
  after(() => {
    process.stdout.write(`      fuzz: ${runs} inputs, ${parsedOk} accepted by a parser, 0 untyped exceptions\n`);
    expect(runs).to.be.at.least(10_000);
  });

  const quoteSeeds = [...seeds("quote.attest"), fx("reboot", "quote.attest")];
  const sigSeeds = seeds("quote.sig");
  const pubSeeds = [...GOOD.map((k) => fx("keys", k, "ak.pub")), fx("ek.pub")];
  const logSeeds = [fx("ecc", "eventlog.bin"), fx("tampered-pcr-changed", "eventlog.bin"), fx("unapproved-image", "eventlog.bin")];

  it("TPMS_ATTEST: 2,000 mutated + 500 random", () => {
    fc.assert(fc.property(mutated(quoteSeeds), (b) => onlyAttestErrors(() => parseTpmsAttest(b))), { numRuns: 2000 });
    fc.assert(fc.property(randomBytes, (b) => onlyAttestErrors(() => parseTpmsAttest(b))), { numRuns: 500 });
  });

  it("TPMT_SIGNATURE: 1,500 mutated + 500 random", () => {
    fc.assert(fc.property(mutated(sigSeeds), (b) => onlyAttestErrors(() => parseTpmtSignature(b))), { numRuns: 1500 });
    fc.assert(fc.property(randomBytes, (b) => onlyAttestErrors(() => parseTpmtSignature(b))), { numRuns: 500 });
  });

  it("TPM2B_PUBLIC / TPMT_PUBLIC / AK loader: 1,500 mutated + 600 random", () => {
    fc.assert(fc.property(mutated(pubSeeds), (b) => onlyAttestErrors(() => parseTpm2bPublic(b))), { numRuns: 1000 });
    fc.assert(fc.property(mutated(pubSeeds.map((p) => p.subarray(2))), (b) => onlyAttestErrors(() => parseTpmtPublic(b))), { numRuns: 500 });
    fc.assert(fc.property(randomBytes, (b) => onlyAttestErrors(() => loadAkPublic(b))), { numRuns: 300 });
    fc.assert(fc.property(randomBytes, (b) => onlyAttestErrors(() => parseTpmtPublic(b))), { numRuns: 300 });
  });

  it("PCR selections, selection specs and tpm2_pcrread output: 1,500", () => {
    const sel = parseTpmsAttest(fx("ecc", "quote.attest")).pcrSelect;
    fc.assert(fc.property(randomBytes, (b) => onlyAttestErrors(() => parsePcrSelection(b))), { numRuns: 400 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.concat([Buffer.from([0, 0, 0, u.length % 5]), u])), (b) => onlyAttestErrors(() => parsePcrSelection(b))), { numRuns: 400 });
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => onlyAttestErrors(() => parseSelectionSpec(s))), { numRuns: 400 });
    fc.assert(fc.property(mutated(seeds("pcrs.bin")), (b) => onlyAttestErrors(() => parsePcrReadOutput(b, sel))), { numRuns: 300 });
  });

  it("event log: 2,000 mutated + 500 random (parse, replay, compare)", () => {
    const quoted = parsePcrReadOutput(fx("ecc", "pcrs.bin"), parseTpmsAttest(fx("ecc", "quote.attest")).pcrSelect);
    const full = (b: Buffer) => { const log = parseEventLog(b); replayEventLog(log); return compareEventLog(log, quoted); };
    fc.assert(fc.property(mutated(logSeeds), (b) => onlyAttestErrors(() => full(b))), { numRuns: 2000 });
    fc.assert(fc.property(randomBytes, (b) => onlyAttestErrors(() => full(b))), { numRuns: 500 });
  });

  it("verifyQuote and appraise never throw: 1,200 mutated evidence sets", () => {
    const policy = parsePolicy(JSON.parse(fx("policy.json").toString("utf8")));
    const ev = fc.tuple(fc.constantFrom(...GOOD), fc.nat(4), fc.array(mutation, { minLength: 1, maxLength: 3 }));
    fc.assert(fc.property(ev, ([kind, which, muts]) => {
      runs++;
      const parts = [fx(kind, "quote.attest"), fx(kind, "quote.sig"), fx(kind, "ak.pub"), fx(kind, "pcrs.bin"), fx(kind, "eventlog.bin")];
      parts[which] = apply(parts[which]!, muts);
      const [quote, signature, ak, pcrs, eventLog] = parts as [Buffer, Buffer, Buffer, Buffer, Buffer];
      const r = appraise({ evidence: { quote, signature, pcrs, eventLog }, akPublic: ak, expectedNonce: nonceOf(kind), policy });
      const q = verifyQuote({ quote, signature, akPublic: ak, expectedNonce: nonceOf(kind) });
      // A changed quote or signature never verifies: the signature covers every quote byte.
      const original = which === 0 ? fx(kind, "quote.attest") : fx(kind, "quote.sig");
      if (which <= 1 && !parts[which]!.equals(original)) expect(q.ok, `${kind} part ${which}`).to.equal(false);
      return Array.isArray(r.findings) && Array.isArray(q.findings);
    }), { numRuns: 1200 });
  });

  it("policy documents: 800 mutated + random JSON values", () => {
    const base = JSON.parse(fx("policy.json").toString("utf8")) as Record<string, unknown>;
    const ev = { pcrs: parsePcrReadOutput(fx("ecc", "pcrs.bin"), parseTpmsAttest(fx("ecc", "quote.attest")).pcrSelect), eventLog: parseEventLog(fx("ecc", "eventlog.bin")) };
    const check = (doc: unknown) => onlyAttestErrors(() => evaluatePolicy(parsePolicy(doc), ev));
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 300 });
    const rule = fc.record({ kind: fc.constantFrom("pcr_matches", "eventlog_equals", "eventlog_includes", "x"), bank: fc.constantFrom("sha1", "sha256", "sha384", "md5"), pcr: fc.oneof(fc.integer({ min: -2, max: 30 }), fc.string()), value: fc.stringMatching(/^[0-9a-f]{0,96}$/), digests: fc.array(fc.oneof(fc.stringMatching(/^[0-9a-f]{0,96}$/), fc.constant("00".repeat(32)))), match: fc.constantFrom("all", "any", "some") }, { requiredKeys: [] });
    fc.assert(fc.property(fc.array(rule, { maxLength: 4 }), (rules) => check({ ...base, rules })), { numRuns: 500 });
  });
});
