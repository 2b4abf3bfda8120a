import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayJournal } from "../../offchain/relayer/journal.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";

describe("gateway journal", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tm-journal-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("never hands out the same nonce twice, across restarts", async () => {
    const seen = new Set<string>();
    for (let restart = 0; restart < 3; restart++) {
      const j = await GatewayJournal.open(dir);
      for (let i = 0; i < 300; i++) {
        const n = Buffer.from(await j.freshNonce()).toString("hex");
        expect(seen.has(n)).to.equal(false);
        seen.add(n);
      }
    }
    expect(seen.size).to.equal(900);
  });

  it("signs one vote per round: same vote returns the stored signature, another is refused", async () => {
    const j = await GatewayJournal.open(dir);
    let calls = 0;
    const sign = async () => `0xsig${++calls}`;
    expect(await j.signOnce(5n, "0xaaa", sign)).to.equal("0xsig1");
    expect(await j.signOnce(5n, "0xaaa", sign)).to.equal("0xsig1");
    expect(calls).to.equal(1);
    const refused = await j.signOnce(5n, "0xbbb", sign).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isTrustmeshError(refused, "EQUIVOCATION_REFUSED")).to.equal(true);

    // A restarted gateway remembers the signed vote.
    const again = await GatewayJournal.open(dir);
    expect(again.signedVote(5n)?.signature).to.equal("0xsig1");
    const refusedAfterRestart = await again.signOnce(5n, "0xbbb", sign).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isTrustmeshError(refusedAfterRestart, "EQUIVOCATION_REFUSED")).to.equal(true);
  });

  it("concurrent signing of one round cannot produce two different signatures", async () => {
    const j = await GatewayJournal.open(dir);
    const slowSign = (sig: string) => () => new Promise<string>((r) => setTimeout(() => r(sig), 20));
    const results = await Promise.allSettled([j.signOnce(3n, "0xaaa", slowSign("0xsigA")), j.signOnce(3n, "0xbbb", slowSign("0xsigB")), j.signOnce(3n, "0xaaa", slowSign("0xsigC"))]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : "refused"))).to.deep.equal(["0xsigA", "refused", "0xsigA"]);
  });

  it("a failed signer leaves nothing recorded", async () => {
    const j = await GatewayJournal.open(dir);
    await j.signOnce(9n, "0x1", async () => {
      throw new Error("wallet locked");
    }).catch(() => undefined);
    expect(j.signedVote(9n)).to.equal(undefined);
    expect(await j.signOnce(9n, "0x2", async () => "0xok")).to.equal("0xok");
  });

  it("writes the vote it is about to sign down first; an intent is not a lock", async () => {
    const j = await GatewayJournal.open(dir);
    const vote = { round: "7", node: "2", verdict: 1, score: 90, evidenceCid: "0x01", policyCid: "0x02" };
    let seenOnDisk: unknown;
    await j
      .signOnce(7n, "0xaaa", async () => {
        // What a process killed right now would find after its restart.
        seenOnDisk = (await GatewayJournal.open(dir)).roundVote(7n);
        throw new Error("killed");
      }, { vote, role: "backup" })
      .catch(() => undefined);
    expect(seenOnDisk).to.deep.equal({ voteHash: "0xaaa", vote, signed: false });
    // Nothing was signed: another vote may still be signed (the committee may have moved on).
    const other = { ...vote, evidenceCid: "0x03" };
    expect(await j.signOnce(7n, "0xbbb", async () => "0xsig", { vote: other, role: "backup" })).to.equal("0xsig");
    const again = await GatewayJournal.open(dir);
    expect(again.roundVote(7n)).to.deep.equal({ voteHash: "0xbbb", vote: other, signed: true });
    expect(again.signedVotes()["7"]?.signature).to.equal("0xsig");
  });

  it("keeps pending rounds across restarts and prunes only finished old ones", async () => {
    const j = await GatewayJournal.open(dir);
    await j.putRound({ round: "11", target: "3", phase: "evidence", nonce: "ab", updatedAt: 0 });
    await j.putRound({ round: "12", target: "3", phase: "recorded", updatedAt: 0 });
    const again = await GatewayJournal.open(dir);
    expect(again.pendingRounds().map((r) => r.round)).to.deep.equal(["11"]);
    expect(await again.prune(0, Date.now() + 1)).to.equal(1);
    expect(again.round("12")).to.equal(undefined);
    expect(again.round("11")?.phase).to.equal("evidence");
  });

  it("refuses a corrupt journal instead of starting blank", async () => {
    await writeFile(join(dir, "journal.json"), "{not json");
    const e = await GatewayJournal.open(dir).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isTrustmeshError(e, "STATE_CORRUPT")).to.equal(true);
  });
});
