import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { EmbeddedStore, IpfsError, cidToHex, hexToCid, rawCid } from "../../ipfs/adapter/index.js";
import { bundledScoringSource, publishScoringSource } from "../../ipfs/scoring/index.js";
import type { ScoreInput, ScoreOutput } from "../../ipfs/scoring/index.js";
import { runScoring, unwrap } from "../../offchain/sandbox/index.js";

const input: ScoreInput = {
  findings: [{ code: "FW_OLD", severity: "medium" }],
  fingerprint: { ok: true, changed: [] },
  reputation: 900_000,
  tier: 3,
  history: [{ verdict: "untrusted" }, { verdict: "trusted" }],
};

describe("sandbox: runScoring (source fetched by CID, verified, sandboxed)", () => {
  let dir: string;
  let store: EmbeddedStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tm-scoring-"));
    store = await EmbeddedStore.open({ directory: dir });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs v1 and v2 by CID and matches their native results", async () => {
    for (const version of ["v1", "v2"] as const) {
      const source = await bundledScoringSource(version);
      const cid = await publishScoringSource(store, source);
      expect(cid.equals(rawCid(source))).to.equal(true);
      // The CID as the chain holds it (binary bytes as hex) is enough to find the function.
      const fromChain = hexToCid(cidToHex(cid));
      const res = await runScoring(fromChain, input, store);
      const native = (new Function(`${new TextDecoder().decode(source)}\nreturn score;`)() as (i: ScoreInput) => ScoreOutput)(input);
      expect(unwrap(res)).to.deep.equal(native);
    }
  });

  it("v1 and v2 have different CIDs and may disagree on the same evidence", async () => {
    const c1 = await publishScoringSource(store, await bundledScoringSource("v1"));
    const c2 = await publishScoringSource(store, await bundledScoringSource("v2"));
    expect(c1.equals(c2)).to.equal(false);
    const r1 = unwrap(await runScoring(c1, input, store));
    const r2 = unwrap(await runScoring(c2, input, store));
    expect(r1.verdict).to.equal("trusted");
    expect(r2.verdict).to.equal("untrusted");
  });

  it("refuses a scoring source whose stored bytes were swapped (CID_MISMATCH)", async () => {
    // A source no earlier test fetched: a verified source is kept by CID (next test).
    const unique = new TextEncoder().encode(`${new TextDecoder().decode(await bundledScoringSource("v2"))}\n// swapped-bytes test ${Date.now()}\n`);
    const cid = await publishScoringSource(store, unique);
    const [file] = await files(join(dir, "blocks"));
    await writeFile(file!, "function score() { return { score: 100, verdict: 'trusted', reasons: [] }; }");
    try {
      await runScoring(cid, input, store);
      expect.fail("expected CID_MISMATCH");
    } catch (e) {
      expect(e).to.be.instanceOf(IpfsError);
      expect((e as IpfsError).code).to.equal("CID_MISMATCH");
    }
  });

  it("keeps a source it has verified: bytes swapped in the store afterwards are never read", async () => {
    const unique = new TextEncoder().encode(`${new TextDecoder().decode(await bundledScoringSource("v1"))}\n// kept-source test ${Date.now()}\n`);
    const cid = await publishScoringSource(store, unique);
    const first = unwrap(await runScoring(cid, input, store));
    expect(first.score, "the swapped function's answer must differ from v1's").to.not.equal(100);
    const [file] = await files(join(dir, "blocks"));
    await writeFile(file!, "function score() { return { score: 100, verdict: 'trusted', reasons: [] }; }");
    expect(unwrap(await runScoring(cid, input, store))).to.deep.equal(first);
  });

  it("rejects a function whose output breaks the ScoreOutput contract", async () => {
    const cases: Array<[string, RegExp]> = [
      ["function score() { return { score: 101, verdict: 'trusted', reasons: [] }; }", /0\.\.100/],
      ["function score() { return { score: 50.5, verdict: 'trusted', reasons: [] }; }", /integer/],
      ["function score() { return { score: 50, verdict: 'maybe', reasons: [] }; }", /verdict/],
      ["function score() { return { score: 50, verdict: 'trusted', reasons: [1] }; }", /reasons/],
      ["function score() { return { score: 50, verdict: 'trusted', reasons: [], extra: 1 }; }", /unexpected fields: extra/],
    ];
    for (const [src, why] of cases) {
      const cid = await store.put(new TextEncoder().encode(src));
      const res = await runScoring(cid, input, store);
      expect(res.ok).to.equal(false);
      if (!res.ok) {
        expect(res.code).to.equal("INVALID_OUTPUT");
        expect(res.message).to.match(why);
      }
    }
  });

  it("a hostile scoring function ends in a typed failure within the limits", async () => {
    const cid = await store.put(new TextEncoder().encode("function score() { while (true) {} }"));
    const res = await runScoring(cid, input, store, { limits: { timeMs: 100, memoryBytes: 8 * 2 ** 20 } });
    expect(res.ok ? "ok" : res.code).to.equal("TIMEOUT");
  });

  it("an absent CID is NOT_FOUND at once (no network search)", async () => {
    try {
      await runScoring(rawCid(new TextEncoder().encode("never published")), input, store);
      expect.fail("expected NOT_FOUND");
    } catch (e) {
      expect((e as IpfsError).code).to.equal("NOT_FOUND");
    }
  });
});

async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}
