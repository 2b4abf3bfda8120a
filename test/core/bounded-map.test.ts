import { expect } from "chai";
import { rememberBounded } from "../../offchain/core/bounded-map.js";

describe("rememberBounded (bounded memo tables)", () => {
  it("keeps at most `max` entries, dropping the oldest first, and returns the value set", () => {
    const m = new Map<number, string>();
    for (let i = 0; i < 10; i++) expect(rememberBounded(m, i, `v${i}`, 4)).to.equal(`v${i}`);
    expect([...m.keys()]).to.deep.equal([6, 7, 8, 9]);
  });

  it("replaces a key it already holds without dropping another", () => {
    const m = new Map([
      [1, "a"],
      [2, "b"],
    ]);
    rememberBounded(m, 1, "a2", 2);
    expect([...m]).to.deep.equal([
      [1, "a2"],
      [2, "b"],
    ]);
  });
});
