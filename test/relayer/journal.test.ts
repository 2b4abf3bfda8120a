import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GatewayJournal, signingFloorFor } from "../../offchain/relayer/journal.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { encodeRoundId } from "../../offchain/core/protocol.js";

const round = (epoch: bigint, sequence = 1n, node = 2n): bigint => encodeRoundId({ epoch, node, sequence });

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

async function onDisk(dir: string): Promise<{ votes: Record<string, unknown>; rounds: Record<string, unknown>; intents?: Record<string, unknown>; signingFloorEpoch?: string }> {
  return JSON.parse(await readFile(join(dir, "journal.json"), "utf8"));
}

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

  it("refuses to sign below the signing floor, and the floor survives a reopen and never goes down", async () => {
    const j = await GatewayJournal.open(dir);
    expect(j.signingFloor()).to.equal(0n);
    await j.compact(10n);
    let calls = 0;
    const sign = async () => `0xsig${++calls}`;
    const refused = await refusal(j.signOnce(round(9n), "0xaaa", sign));
    expect(isTrustmeshError(refused, "ROUND_BELOW_SIGNING_FLOOR")).to.equal(true);
    expect(calls).to.equal(0);
    expect(await j.signOnce(round(10n), "0xaaa", sign)).to.equal("0xsig1");

    const again = await GatewayJournal.open(dir);
    expect(again.signingFloor()).to.equal(10n);
    expect(isTrustmeshError(await refusal(again.signOnce(round(9n, 7n), "0xbbb", sign)), "ROUND_BELOW_SIGNING_FLOOR")).to.equal(true);
    await again.compact(4n);
    expect(again.signingFloor()).to.equal(10n);
    expect((await onDisk(dir)).signingFloorEpoch).to.equal("10");
    expect(calls).to.equal(1);
  });

  it("compaction drops what is below the floor and keeps the no-double-sign rule above it", async () => {
    const j = await GatewayJournal.open(dir);
    const sign = (sig: string) => async () => sig;
    for (const epoch of [3n, 4n, 5n, 6n]) {
      await j.signOnce(round(epoch), `0xv${epoch}`, sign(`0xs${epoch}`), { vote: { round: round(epoch).toString() }, role: "primary" });
      await j.putRound({ round: round(epoch).toString(), target: "2", phase: "recorded", updatedAt: 0 });
    }
    // An intent without a signature and an unfinished round, both below the floor to be.
    await j.signOnce(round(4n, 2n), "0xi4", async () => {
      throw new Error("killed");
    }, { vote: { round: round(4n, 2n).toString() }, role: "backup" }).catch(() => undefined);
    await j.putRound({ round: round(4n, 3n).toString(), target: "2", phase: "signed", updatedAt: 0 });
    await j.putRound({ round: round(6n, 3n).toString(), target: "2", phase: "evidence", updatedAt: 0 });
    const before = (await stat(join(dir, "journal.json"))).size;

    const result = await j.compact(5n);
    expect(result).to.deep.equal({ floorEpoch: 5n, votes: 2, intents: 1, rounds: 3 });
    expect(Object.keys(j.signedVotes()).sort()).to.deep.equal([round(5n).toString(), round(6n).toString()].sort());
    expect(j.roundVote(round(4n, 2n))).to.equal(undefined);
    expect(j.pendingRounds().map((r) => r.round)).to.deep.equal([round(6n, 3n).toString()]);
    expect((await stat(join(dir, "journal.json"))).size).to.be.below(before);

    // Above the floor a signed vote still binds: the same vote returns its signature, another is refused,
    // in this process and after a restart.
    const again = await GatewayJournal.open(dir);
    expect(Object.keys((await onDisk(dir)).votes)).to.have.length(2);
    for (const jj of [j, again]) {
      expect(await jj.signOnce(round(5n), "0xv5", sign("0xother"))).to.equal("0xs5");
      expect(isTrustmeshError(await refusal(jj.signOnce(round(6n), "0xdifferent", sign("0xother"))), "EQUIVOCATION_REFUSED")).to.equal(true);
      // Below it, the dropped vote cannot be replaced by another one.
      expect(isTrustmeshError(await refusal(jj.signOnce(round(4n), "0xdifferent", sign("0xother"))), "ROUND_BELOW_SIGNING_FLOOR")).to.equal(true);
    }
  });

  it("loads a journal written before the signing floor existed with floor 0", async () => {
    const old = { version: 1, salt: "00".repeat(16), nonceReservedUpTo: "256", votes: { [round(2n).toString()]: { voteHash: "0xa", signature: "0xs", signedAt: 1 } }, rounds: {} };
    await writeFile(join(dir, "journal.json"), JSON.stringify(old));
    const j = await GatewayJournal.open(dir);
    expect(j.signingFloor()).to.equal(0n);
    expect(await j.signOnce(round(2n), "0xa", async () => "0xnew")).to.equal("0xs");
    expect(await j.signOnce(round(1n), "0xb", async () => "0xt")).to.equal("0xt");
  });

  it("keeps K = the longer of the round-age and dispute windows per opened epoch, coalescing bursts", async () => {
    expect(signingFloorFor(200n, { maxRoundAge: 2n, disputeWindowEpochs: 168n })).to.equal(32n);
    expect(signingFloorFor(200n, { maxRoundAge: 50n, disputeWindowEpochs: 3n })).to.equal(150n);
    expect(signingFloorFor(100n, { maxRoundAge: 2n, disputeWindowEpochs: 168n })).to.equal(0n);
    const j = await GatewayJournal.open(dir);
    let reads = 0;
    const retention = async () => (reads++, { maxRoundAge: 3n, disputeWindowEpochs: 5n });
    // A restarted daemon replays every EpochOpened of the chain in one go.
    const all = await Promise.all([10n, 11n, 12n, 13n, 14n, 15n].map((epoch) => j.compactForEpoch(epoch, retention)));
    expect(reads).to.equal(2);
    expect(j.signingFloor()).to.equal(10n);
    expect(all.every((r) => r?.floorEpoch === 10n)).to.equal(true);
    await j.compactForEpoch(20n, retention);
    expect(j.signingFloor()).to.equal(15n);
  });

  it("coalesces flushes made during a write into one write of the newest state, resolving every caller", async () => {
    const j = await GatewayJournal.open(dir);
    const writesBefore = j.diskWrites();
    const rounds = Array.from({ length: 50 }, (_, i) => round(1n, BigInt(i)).toString());
    await Promise.all(rounds.map((r) => j.putRound({ round: r, target: "2", phase: "evidence", updatedAt: 0 })));
    // The first started a write at once; the 49 that came while it ran shared the next one.
    expect(j.diskWrites() - writesBefore).to.equal(2);
    expect(Object.keys((await onDisk(dir)).rounds).sort()).to.deep.equal([...rounds].sort());
    // Writes stay ordered: a later change is never overwritten by an older state.
    await Promise.all([j.putRound({ round: rounds[0] as string, target: "2", phase: "signed", updatedAt: 0 }), j.closeRounds([rounds[0] as string], "recorded")]);
    expect((await onDisk(dir)).rounds[rounds[0] as string]).to.include({ phase: "recorded" });
  });

  it("after a crash mid-write (a torn temporary file left over) reads the last complete state", async () => {
    const j = await GatewayJournal.open(dir);
    await j.signOnce(round(3n), "0xaaa", async () => "0xsig");
    await j.close();
    const torn = join(dir, ".journal.json.0123456789ab.tmp");
    await writeFile(torn, '{"version":1,"salt":"ff","votes":{"');
    const again = await GatewayJournal.open(dir);
    expect(again.signedVote(round(3n))?.signature).to.equal("0xsig");
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).to.deep.equal([]);
  });

  it("a process SIGKILLed while writing leaves a journal with every change it was told is durable", async function () {
    this.timeout(30_000);
    const journalModule = fileURLToPath(new URL("../../offchain/relayer/journal.ts", import.meta.url));
    // Bursts of round updates (coalesced) and signatures; each line is printed after its flush resolved.
    const script = `
      const { GatewayJournal } = await import(process.argv[1]);
      const j = await GatewayJournal.open(process.argv[2]);
      for (let i = 0n; ; i++) {
        const r = (1n << 128n) | i;
        await Promise.all([
          j.putRound({ round: r.toString(), target: "1", phase: "evidence", data: { pad: "x".repeat(2000) }, updatedAt: 0 }),
          j.signOnce(r, "0x" + i.toString(16), async () => "0xsig" + i.toString(16)),
        ]);
        process.stdout.write(r.toString() + "\\n");
      }`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, journalModule, dir], { stdio: ["ignore", "pipe", "inherit"] });
    const acked: string[] = [];
    let buffered = "";
    await new Promise<void>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`child exited with ${code}`))));
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        acked.push(...lines);
        if (acked.length >= 40) child.kill("SIGKILL");
      });
    });
    expect(acked.length).to.be.at.least(40);
    const after = await GatewayJournal.open(dir);
    for (const r of acked) {
      expect(after.signedVote(BigInt(r))?.signature, `vote of ${r}`).to.equal("0xsig" + (BigInt(r) & ((1n << 64n) - 1n)).toString(16));
      expect(after.round(r)?.phase, `round ${r}`).to.equal("evidence");
    }
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
