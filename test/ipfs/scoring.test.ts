import { expect } from "chai";
import fc from "fast-check";
import { bundledScoringSource, scoreOutputProblem } from "../../ipfs/scoring/index.js";
import type { BundledScoringVersion, ScoreInput, ScoreOutput } from "../../ipfs/scoring/index.js";
import { runInSandbox, SCORING_LIMITS } from "../../offchain/sandbox/index.js";

type ScoreFn = (input: unknown) => ScoreOutput;

async function load(version: BundledScoringVersion): Promise<{ source: string; score: ScoreFn }> {
  const source = new TextDecoder().decode(await bundledScoringSource(version));
  // Native evaluation for the table tests; the sandbox comparison below checks it agrees.
  const score = new Function(`${source}\nreturn score;`)() as ScoreFn;
  return { source, score };
}

const clean = (over: Partial<ScoreInput> = {}): ScoreInput => ({
  findings: [],
  fingerprint: { ok: true, changed: [] },
  reputation: 1_000_000,
  tier: 0,
  history: [{ verdict: "trusted" }, { verdict: "trusted" }],
  ...over,
});

const untrustedHistory = (n: number, newest: boolean): ScoreInput["history"] => {
  const h: ScoreInput["history"] = Array.from({ length: 10 }, () => ({ verdict: "trusted" as const }));
  for (let i = 0; i < n; i++) h[newest ? 9 - i : i] = { verdict: "untrusted" };
  return h;
};

const arbInput: fc.Arbitrary<ScoreInput> = fc.record({
  findings: fc.array(
    fc.record({
      code: fc.constantFrom("PCR_MISMATCH", "NONCE_STALE", "EVENTLOG_UNKNOWN_IMAGE", "QUOTE_CLOCK", "FW_OLD"),
      severity: fc.constantFrom("info", "low", "medium", "high", "critical"),
    }),
    { maxLength: 4 },
  ),
  fingerprint: fc.record({ ok: fc.boolean(), changed: fc.array(fc.constantFrom("cpu", "nic", "disk", "dimm0"), { maxLength: 3 }) }),
  reputation: fc.integer({ min: 0, max: 1_000_000 }),
  tier: fc.integer({ min: 0, max: 5 }),
  history: fc.array(fc.record({ verdict: fc.constantFrom("trusted", "untrusted") }), { maxLength: 15 }),
}) as fc.Arbitrary<ScoreInput>;

describe("ipfs/scoring", () => {
  let v1: { source: string; score: ScoreFn };
  let v2: { source: string; score: ScoreFn };
  before(async () => {
    v1 = await load("v1");
    v2 = await load("v2");
  });

  it("sources are plain scripts without imports, exports or I/O names", () => {
    for (const { source } of [v1, v2]) {
      expect(source).to.not.match(/\bimport\b|\bexport\b|\brequire\s*\(|\bprocess\b|\bfetch\s*\(|Date\.now|Math\.random/);
    }
  });

  const table: Array<[string, ScoreInput, { v1: [number, string]; v2: [number, string] }]> = [
    ["a clean node", clean(), { v1: [100, "trusted"], v2: [100, "trusted"] }],
    ["a critical finding", clean({ findings: [{ code: "PCR_MISMATCH", severity: "critical" }] }), { v1: [0, "untrusted"], v2: [0, "untrusted"] }],
    ["one medium finding", clean({ findings: [{ code: "FW_OLD", severity: "medium" }] }), { v1: [85, "trusted"], v2: [80, "trusted"] }],
    ["one high finding", clean({ findings: [{ code: "QUOTE_CLOCK", severity: "high" }] }), { v1: [60, "trusted"], v2: [50, "untrusted"] }],
    ["a changed NIC", clean({ fingerprint: { ok: false, changed: ["nic"] } }), { v1: [65, "trusted"], v2: [50, "untrusted"] }],
    ["three recent failures", clean({ history: untrustedHistory(3, true) }), { v1: [91, "trusted"], v2: [73, "trusted"] }],
    ["three old failures", clean({ history: untrustedHistory(3, false) }), { v1: [91, "trusted"], v2: [94, "trusted"] }],
    ["low reputation", clean({ reputation: 200_000 }), { v1: [94, "trusted"], v2: [84, "trusted"] }],
    ["info findings only", clean({ findings: [{ code: "NOTE", severity: "info" }] }), { v1: [100, "trusted"], v2: [100, "trusted"] }],
  ];
  for (const [name, input, want] of table) {
    it(`scores ${name}: v1 ${want.v1.join("/")}, v2 ${want.v2.join("/")}`, () => {
      const a = v1.score(input);
      const b = v2.score(input);
      expect([a.score, a.verdict]).to.deep.equal(want.v1);
      expect([b.score, b.verdict]).to.deep.equal(want.v2);
      expect(scoreOutputProblem(a)).to.equal(null);
      expect(scoreOutputProblem(b)).to.equal(null);
    });
  }

  it("gives stable reason codes", () => {
    const input = clean({
      findings: [{ code: "FW_OLD", severity: "medium" }],
      fingerprint: { ok: false, changed: ["cpu"] },
      history: untrustedHistory(1, true),
      reputation: 400_000,
    });
    expect(v1.score(input).reasons).to.deep.equal([
      "finding:FW_OLD:medium",
      "fingerprint:failed",
      "fingerprint:changed:cpu",
      "history:untrusted:1",
      "reputation:low:400000",
    ]);
  });

  it("v2 raises the pass mark with the tier", () => {
    const input = clean({ findings: [{ code: "FW_OLD", severity: "medium" }] });
    expect(v2.score({ ...input, tier: 2 }).verdict).to.equal("trusted"); // 80 >= 80
    const t3 = v2.score({ ...input, tier: 3 }); // 80 < 85
    expect(t3.verdict).to.equal("untrusted");
    expect(t3.reasons).to.include("below-threshold:85");
    expect(v1.score({ ...input, tier: 3 }).verdict).to.equal("trusted");
  });

  it("property: outputs are well formed, and whatever v2 trusts v1 trusts too", () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const a = v1.score(input);
        const b = v2.score(input);
        expect(scoreOutputProblem(a)).to.equal(null);
        expect(scoreOutputProblem(b)).to.equal(null);
        if (b.verdict === "trusted") expect(a.verdict).to.equal("trusted");
        if (input.findings.some((f) => f.severity === "critical")) expect([a.score, b.score]).to.deep.equal([0, 0]);
      }),
      { numRuns: 500 },
    );
  });

  it("rejects malformed input with a TypeError naming the field", () => {
    for (const { score } of [v1, v2]) {
      expect(() => score(null)).to.throw(TypeError, /score input: not an object/);
      expect(() => score({ ...clean(), reputation: 1.5 })).to.throw(TypeError, /reputation/);
      expect(() => score({ ...clean(), reputation: 2_000_000 })).to.throw(TypeError, /reputation/);
      expect(() => score({ ...clean(), findings: [{ code: "X", severity: "fatal" }] })).to.throw(TypeError, /severity/);
      expect(() => score({ ...clean(), history: [{ verdict: 1 }] })).to.throw(TypeError, /history/);
      expect(() => score({ ...clean(), fingerprint: { ok: "yes", changed: [] } })).to.throw(TypeError, /fingerprint/);
    }
  });

  it("the sandbox computes exactly what native evaluation computes (200 random inputs each)", async () => {
    const inputs = fc.sample(arbInput, { numRuns: 200, seed: 42 });
    for (const fn of [v1, v2]) {
      const res = await runInSandbox<ScoreOutput[]>({
        source: `${fn.source}\nfunction scoreAll(xs) { return xs.map(score); }`,
        entry: "scoreAll",
        input: inputs,
        limits: SCORING_LIMITS,
      });
      if (!res.ok) expect.fail(`${res.code}: ${res.message}`);
      expect(res.value).to.deep.equal(inputs.map((i) => fn.score(i)));
    }
  });

  it("malformed input in the sandbox is a THROW failure, not a verdict", async () => {
    const res = await runInSandbox({ source: v2.source, entry: "score", input: { findings: 3 }, limits: SCORING_LIMITS });
    expect(res.ok).to.equal(false);
    if (!res.ok) {
      expect(res.code).to.equal("THROW");
      expect(res.message).to.match(/^TypeError: score input: findings/);
    }
  });
});
