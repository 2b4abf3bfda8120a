import { expect } from "chai";
import { bundledTaskSource } from "../../ipfs/tasks/index.js";
import { runInSandbox } from "../../offchain/sandbox/index.js";
import { nameLists } from "../../offchain/task/scenario.js";

const limits = { timeMs: 10_000, memoryBytes: 64 * 2 ** 20, maxOutputBytes: 16 * 2 ** 20 };

describe("ipfs/tasks/intersection.js", () => {
  let source: string;
  let native: (inputs: unknown) => string[];
  before(async () => {
    source = new TextDecoder().decode(await bundledTaskSource("intersection"));
    native = new Function(`${source}\nreturn run;`)() as typeof native;
  });

  it("returns the common names once each, sorted", () => {
    expect(native([["c", "a", "b", "a", "x"], ["b", "a", "a", "z"]])).to.deep.equal(["a", "b"]);
    expect(native([[], ["a"]])).to.deep.equal([]);
    expect(native([["Zoë", "Ada", "Émile"], ["Émile", "Zoë"]])).to.deep.equal(["Zoë", "Émile"]);
  });

  it("rejects malformed input with a TypeError starting with 'run input:'", () => {
    for (const bad of [null, [["a"]], [["a"], "b"], [["a", 1], ["a"]], [["a"], [null]]]) {
      expect(() => native(bad)).to.throw(TypeError, /^run input:/);
    }
  });

  it("finds exactly the known overlap of two lists of 10,000 names, natively and in the sandbox", async () => {
    const lists = nameLists(10_000, 2_500);
    expect(new Set(lists.b).size).to.equal(10_000);
    const want = lists.common;
    expect(want).to.have.length(2_500);
    expect(native([lists.b, lists.c])).to.deep.equal(want);
    const r = await runInSandbox<string[]>({ source, entry: "run", input: [lists.b, lists.c], limits });
    expect(r.ok, r.ok ? "" : r.message).to.equal(true);
    if (r.ok) expect(r.value).to.deep.equal(want);
  });

  it("gives the same answer whichever owner is first (as sets)", () => {
    const lists = nameLists(500, 120);
    expect(native([lists.c, lists.b])).to.deep.equal(native([lists.b, lists.c]));
  });

  it("a bad input in the sandbox is a THROW failure, not a crash", async () => {
    const r = await runInSandbox({ source, entry: "run", input: [["a"], [1]], limits });
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.code).to.equal("THROW");
      expect(r.message).to.match(/run input: list 2 item 0/);
    }
  });
});
