import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { EmbeddedStore } from "../../ipfs/adapter/index.js";
import { bundledScoringSource, publishScoringSource } from "../../ipfs/scoring/index.js";
import { SandboxPool, runInSandbox, runScoring, unwrap } from "../../offchain/sandbox/index.js";
import type { SandboxLimits } from "../../offchain/sandbox/index.js";

const LIMITS: SandboxLimits = { timeMs: 2000, memoryBytes: 16 * 2 ** 20 };
const SRC = "function main(x) { var r = []; for (var i = 0; i < 3; i++) r.push(Math.random()); return { twice: x.n * 2, now: Date.now(), r: r }; }";

describe("sandbox: SandboxPool", () => {
  let pool: SandboxPool;
  before(async () => (pool = await SandboxPool.create({ size: 2 })));
  after(() => pool.close());

  it("gives the same answers as one-shot runs, with a fresh VM per job", async () => {
    const oneShot = unwrap(await runInSandbox({ source: SRC, entry: "main", input: { n: 1 }, limits: LIMITS }));
    const results = await Promise.all(Array.from({ length: 8 }, (_, n) => pool.run({ source: SRC, entry: "main", input: { n }, limits: LIMITS })));
    results.forEach((r, n) => {
      const v = unwrap(r) as { twice: number; r: number[]; now: number };
      expect(v.twice).to.equal(n * 2);
      // A reused VM would continue the random sequence; a fresh one repeats it.
      expect(v.r).to.deep.equal((oneShot as { r: number[] }).r);
    });
  });

  it("state left by one job is invisible to the next", async () => {
    const leak = "function main() { var before = typeof globalThis.leaked; globalThis.leaked = 1; Object.prototype.polluted = 1; return before; }";
    for (let i = 0; i < 4; i++) expect(unwrap(await pool.run({ source: leak, entry: "main", input: null, limits: LIMITS }))).to.equal("undefined");
  });

  it("survives hostile jobs, replacing workers ended at the hard deadline", async () => {
    const before = pool.replaced;
    const hard = await pool.run({ source: "function main() { while (true) {} }", entry: "main", input: null, limits: { ...LIMITS, timeMs: 20, hardKillGraceMs: 0 } });
    expect(hard.ok ? "ok" : hard.code).to.equal("TIMEOUT");
    if (!hard.ok && /hard deadline/.test(hard.message)) expect(pool.replaced).to.be.greaterThan(before);
    const hostile = await Promise.all(
      [
        "function main() { while (true) {} }",
        "function main() { var a = []; for (;;) a.push(new Array(1e5).fill(a.length)); }",
        "function main() { return main(); }",
        "function main() { throw new Error('boom'); }",
      ].map((source) => pool.run({ source, entry: "main", input: null, limits: LIMITS })),
    );
    expect(hostile.map((r) => (r.ok ? "ok" : r.code))).to.deep.equal(["TIMEOUT", "MEMORY", "STACK", "THROW"]);
    expect(unwrap(await pool.run({ source: SRC, entry: "main", input: { n: 21 }, limits: LIMITS }))).to.have.property("twice", 42);
  });

  it("serves runScoring as its runner", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tm-pool-"));
    const store = await EmbeddedStore.open({ directory: dir });
    try {
      const cid = await publishScoringSource(store, await bundledScoringSource("v1"));
      const input = { findings: [], fingerprint: { ok: true, changed: [] }, reputation: 1_000_000, tier: 0, history: [] };
      const res = await runScoring(cid, input, store, { runner: (p) => pool.run(p) });
      expect(unwrap(res)).to.deep.equal({ score: 100, verdict: "trusted", reasons: [] });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("answers queued and later jobs with a failure once closed", async () => {
    const p = await SandboxPool.create({ size: 1 });
    const running = p.run({ source: "function main() { while (true) {} }", entry: "main", input: null, limits: LIMITS });
    const queued = p.run({ source: SRC, entry: "main", input: { n: 1 }, limits: LIMITS });
    await new Promise((r) => setTimeout(r, 50));
    await p.close();
    const [a, b] = await Promise.all([running, queued]);
    expect([a.ok, b.ok]).to.deep.equal([false, false]);
    const after = await p.run({ source: SRC, entry: "main", input: { n: 1 }, limits: LIMITS });
    expect(after.ok ? "ok" : after.code).to.equal("CRASH");
  });
});
