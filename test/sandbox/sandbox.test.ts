import { expect } from "chai";
import { DEFAULT_NOW_MS, SandboxError, runInSandbox, unwrap } from "../../offchain/sandbox/index.js";
import type { SandboxFailureCode, SandboxLimits, SandboxResult } from "../../offchain/sandbox/index.js";

const LIMITS: SandboxLimits = { timeMs: 300, memoryBytes: 16 * 2 ** 20 };

function run(source: string, input: unknown = {}, limits: SandboxLimits = LIMITS, nowMs?: number) {
  return runInSandbox({ source, entry: "main", input, limits, nowMs });
}

function expectFailure(res: SandboxResult, code: SandboxFailureCode, message?: RegExp): void {
  if (res.ok) expect.fail(`expected ${code}, got value ${JSON.stringify(res.value)}`);
  expect(res.code, res.message).to.equal(code);
  if (message) expect(res.message).to.match(message);
}

describe("sandbox: runInSandbox", () => {
  it("runs a pure function on a JSON copy of the input", async () => {
    const res = await run("function main(x) { x.list.push(4); return { sum: x.list.reduce(function (a, b) { return a + b; }, 0) }; }", { list: [1, 2, 3] });
    expect(unwrap(res)).to.deep.equal({ sum: 10 });
    expect(res.stats.vmMs).to.be.greaterThan(0);
  });

  it("is deterministic: fixed Date.now, performance.now and Math.random, same output every run", async () => {
    const src = "function main() { var r = []; for (var i = 0; i < 5; i++) r.push(Math.random()); return { now: Date.now(), perf: performance.now(), date: new Date().toISOString(), r: r }; }";
    const runs = await Promise.all([run(src), run(src), run(src)]);
    const values = runs.map(unwrap) as Array<{ now: number; perf: number; date: string; r: number[] }>;
    expect(values[0]!.now).to.equal(DEFAULT_NOW_MS);
    expect(values[0]!.date).to.equal("2024-01-01T00:00:00.000Z");
    expect(new Set(values[0]!.r).size).to.equal(5);
    expect(values[1]).to.deep.equal(values[0]);
    expect(values[2]).to.deep.equal(values[0]);
    const other = unwrap(await run(src, {}, LIMITS, DEFAULT_NOW_MS + 1000)) as { now: number; r: number[] };
    expect(other.now).to.equal(DEFAULT_NOW_MS + 1000);
    expect(other.r).to.not.deep.equal(values[0]!.r);
  });

  it("gives the guest no I/O and no host objects", async () => {
    const res = await run(`function main() {
      return [typeof require, typeof process, typeof fetch, typeof console, typeof print, typeof std, typeof os,
              typeof setTimeout, typeof WebAssembly, typeof WeakRef, typeof FinalizationRegistry, typeof Buffer];
    }`);
    expect(unwrap(res)).to.deep.equal(Array(12).fill("undefined"));
    expectFailure(await run("function main() { return import('os'); }"), "INVALID_OUTPUT", /Promise/);
  });

  it("stops an infinite loop at the time limit", async () => {
    const t0 = performance.now();
    const res = await run("function main() { while (true) {} }");
    expectFailure(res, "TIMEOUT");
    expect(performance.now() - t0).to.be.lessThan(LIMITS.timeMs + 2000);
  });

  it("stops a loop that tries to swallow the interrupt", async () => {
    expectFailure(await run("function main() { for (;;) { try { while (true) {} } catch (e) {} } }"), "TIMEOUT");
  });

  it("stops catastrophic regex backtracking", async () => {
    expectFailure(await run("function main() { return /(a+)+$/.test('a'.repeat(40) + 'b'); }"), "TIMEOUT");
  });

  it("terminates the worker at the hard deadline", async () => {
    const res = await run("function main() { while (true) {} }", {}, { ...LIMITS, timeMs: 20, hardKillGraceMs: 0 });
    expectFailure(res, "TIMEOUT", /hard deadline/);
  });

  it("stops a memory bomb at the memory limit", async () => {
    // A generous time limit: on a loaded machine the bomb must hit memory first, not time.
    const slow = { ...LIMITS, timeMs: 3000 };
    expectFailure(await run("function main() { var a = []; for (;;) a.push('x'.repeat(1000) + a.length); }", {}, slow), "MEMORY");
    expectFailure(await run("function main() { var a = []; for (;;) a.push(new Array(1e5).fill(a.length)); }", {}, slow), "MEMORY");
    expectFailure(await run("function main() { return new Array(1e9).fill(0).length; }", {}, slow), "MEMORY");
  });

  it("a memory bomb that catches out-of-memory still ends (time limit), never crashes", async () => {
    const res = await run("function main() { var a = []; for (;;) { try { a.push('x'.repeat(1e5) + a.length); } catch (e) { a = []; } } }");
    expect(res.ok).to.equal(false);
    if (!res.ok) expect(res.code).to.be.oneOf(["MEMORY", "TIMEOUT"]);
  });

  it("reports unbounded recursion as STACK", async () => {
    expectFailure(await run("function main() { return main() + 1; }"), "STACK");
  });

  it("reports a throw with the error's name and message", async () => {
    expectFailure(await run("function main() { throw new RangeError('bad range'); }"), "THROW", /^RangeError: bad range$/);
    expectFailure(await run("function main() { throw 42; }"), "THROW", /42/);
  });

  it("requires plain JSON output", async () => {
    const bad: Array<[string, RegExp]> = [
      ["return undefined;", /undefined is not JSON/],
      ["return { f: function () {} };", /output\.f: function/],
      ["return [1, NaN];", /output\[1\]: non-finite/],
      ["return new Map();", /not a plain object/],
      ["return 10n;", /bigint is not JSON/],
      ["var o = {}; o.self = o; return o;", /deeper than 64/],
      ["return Promise.resolve(1);", /Promise/],
      ["JSON.stringify = function () { return '{}'; }; Object.getPrototypeOf = function () { return Object.prototype; }; return { d: new Date(0) };", /output\.d: not a plain object/],
    ];
    for (const [body, why] of bad) {
      expectFailure(await run(`function main() { ${body} }`), "INVALID_OUTPUT", why);
    }
    expect(unwrap(await run("function main() { return Object.create(null); }"))).to.deep.equal({});
  });

  it("rejects output over maxOutputBytes", async () => {
    expectFailure(await run("function main() { return 'x'.repeat(5000); }", {}, { ...LIMITS, maxOutputBytes: 4096 }), "INVALID_OUTPUT", /limit 4096/);
  });

  it("reports sources that do not load or lack the entry", async () => {
    expectFailure(await run("function main( {"), "LOAD", /SyntaxError/);
    expectFailure(await run("throw new Error('top level');"), "LOAD", /top level/);
    expectFailure(await run("var main = 3;"), "NO_ENTRY");
    expectFailure(await run("function other() {}"), "NO_ENTRY");
  });

  it("rejects input that is not JSON before starting a worker", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expectFailure(await run("function main(x) { return x; }", cyclic), "INVALID_INPUT");
    expectFailure(await run("function main(x) { return x; }", 10n), "INVALID_INPUT");
    expectFailure(await runInSandbox({ source: "function main(x) { return x; }", entry: "main", input: undefined, limits: LIMITS }), "INVALID_INPUT");
  });

  it("throws BAD_LIMITS for nonsensical limits or entry names", async () => {
    for (const [limits, entry] of [
      [{ timeMs: 0, memoryBytes: 1 << 24 }, "main"],
      [{ timeMs: 100, memoryBytes: 1000 }, "main"],
      [{ timeMs: 1.5, memoryBytes: 1 << 24 }, "main"],
      [LIMITS, "main; while(1){}"],
    ] as const) {
      try {
        await runInSandbox({ source: "", entry, input: {}, limits });
        expect.fail("expected BAD_LIMITS");
      } catch (e) {
        expect(e).to.be.instanceOf(SandboxError);
        expect((e as SandboxError).code).to.equal("BAD_LIMITS");
      }
    }
  });

  it("the host survives many hostile guests at once and keeps serving", async () => {
    const hostile = [
      "function main() { while (true) {} }",
      "function main() { var a = []; for (;;) a.push(new Array(1e5).fill(a.length)); }",
      "function main() { return main(); }",
      "function main() { throw new Error('boom'); }",
      "function main() { return { f: function () {} }; }",
      "function main( {",
    ];
    const results = await Promise.all(hostile.map((s) => run(s, {}, { ...LIMITS, timeMs: 2000 })));
    expect(results.map((r) => (r.ok ? "ok" : r.code))).to.deep.equal(["TIMEOUT", "MEMORY", "STACK", "THROW", "INVALID_OUTPUT", "LOAD"]);
    expect(unwrap(await run("function main(x) { return x.a * 2; }", { a: 21 }))).to.equal(42);
  });
});
