import { expect } from "chai";
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GatewayJournal, readJournalState, readJournalStateSync, signingFloorFor, type JournalState } from "../../offchain/relayer/journal.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { encodeRoundId } from "../../offchain/core/protocol.js";

const round = (epoch: bigint, sequence = 1n, node = 2n): bigint => encodeRoundId({ epoch, node, sequence });

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

/** What a gateway restarted now would find: the snapshot with its log replayed. */
async function durable(dir: string): Promise<JournalState> {
  const state = await readJournalState(dir);
  if (state === undefined) throw new Error(`no journal in ${dir}`);
  return state;
}

/** Both files: what the journal costs on disk. */
async function diskBytes(dir: string): Promise<number> {
  return (await stat(join(dir, "journal.json"))).size + (await stat(join(dir, "journal.log"))).size;
}

const logSize = async (dir: string): Promise<number> => (await stat(join(dir, "journal.log"))).size;
const snapshotOf = async (dir: string): Promise<JournalState & { logGeneration?: number }> => JSON.parse(await readFile(join(dir, "journal.json"), "utf8"));
const logLines = async (dir: string): Promise<string[]> => (await readFile(join(dir, "journal.log"), "utf8")).split("\n");

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
    expect((await durable(dir)).signingFloorEpoch).to.equal("10");
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
    const before = await diskBytes(dir);

    const result = await j.compact(5n);
    expect(result).to.deep.equal({ floorEpoch: 5n, votes: 2, intents: 1, rounds: 3 });
    expect(Object.keys(j.signedVotes()).sort()).to.deep.equal([round(5n).toString(), round(6n).toString()].sort());
    expect(j.roundVote(round(4n, 2n))).to.equal(undefined);
    expect(j.pendingRounds().map((r) => r.round)).to.deep.equal([round(6n, 3n).toString()]);
    expect(await diskBytes(dir)).to.be.below(before);

    // Above the floor a signed vote still binds: the same vote returns its signature, another is refused,
    // in this process and after a restart.
    const again = await GatewayJournal.open(dir);
    expect(Object.keys((await durable(dir)).votes)).to.have.length(2);
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

  it("keeps the votes of the epochs TrustBoard still records (maxRoundAge back) per opened epoch, coalescing bursts", async () => {
    expect(signingFloorFor(200n, 2n)).to.equal(198n);
    expect(signingFloorFor(200n, 50n)).to.equal(150n);
    expect(signingFloorFor(2n, 2n)).to.equal(0n);
    expect(signingFloorFor(1n, 2n)).to.equal(0n);
    const j = await GatewayJournal.open(dir);
    let reads = 0;
    const maxRoundAge = async () => (reads++, 3n);
    // A restarted daemon replays every EpochOpened of the chain in one go.
    const all = await Promise.all([10n, 11n, 12n, 13n, 14n, 15n].map((epoch) => j.compactForEpoch(epoch, maxRoundAge)));
    expect(reads).to.equal(2);
    expect(j.signingFloor()).to.equal(12n);
    expect(all.every((r) => r?.floorEpoch === 12n)).to.equal(true);
    await j.compactForEpoch(20n, maxRoundAge);
    expect(j.signingFloor()).to.equal(17n);
  });

  it("coalesces flushes made during a write into one write of the newest state, resolving every caller", async () => {
    const j = await GatewayJournal.open(dir);
    const writesBefore = j.diskWrites();
    const rounds = Array.from({ length: 50 }, (_, i) => round(1n, BigInt(i)).toString());
    await Promise.all(rounds.map((r) => j.putRound({ round: r, target: "2", phase: "evidence", updatedAt: 0 })));
    // The first started a write at once; the 49 that came while it ran shared the next one.
    expect(j.diskWrites() - writesBefore).to.equal(2);
    expect(Object.keys((await durable(dir)).rounds).sort()).to.deep.equal([...rounds].sort());
    // Writes stay ordered: a later change is never overwritten by an older state.
    await Promise.all([j.putRound({ round: rounds[0] as string, target: "2", phase: "signed", updatedAt: 0 }), j.closeRounds([rounds[0] as string], "recorded")]);
    expect((await durable(dir)).rounds[rounds[0] as string]).to.include({ phase: "recorded" });
  });

  it("after a crash mid-write (a torn temporary file left over) reads the last complete state", async () => {
    const j = await GatewayJournal.open(dir);
    await j.signOnce(round(3n), "0xaaa", async () => "0xsig");
    await j.close();
    await writeFile(join(dir, ".journal.json.0123456789ab.tmp"), '{"version":1,"salt":"ff","votes":{"');
    await writeFile(join(dir, ".journal.log.ba9876543210.tmp"), '{"generation":9}\n{"set":"vo');
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
      // A small log limit: the kill may land in an append or in a snapshot rewrite.
      const j = await GatewayJournal.open(process.argv[2], { logLimitBytes: 8192 });
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
    expect((await snapshotOf(dir)).logGeneration, "snapshot rewrites happened").to.be.above(1);
    const read = await durable(dir);
    const after = await GatewayJournal.open(dir);
    for (const r of acked) {
      expect(after.signedVote(BigInt(r))?.signature, `vote of ${r}`).to.equal("0xsig" + (BigInt(r) & ((1n << 64n) - 1n)).toString(16));
      expect(after.round(r)?.phase, `round ${r}`).to.equal("evidence");
    }
    // The reader saw what the restarted journal replayed, and the journal writes on from there.
    expect(after.signedVotes()).to.deep.equal(read.votes);
    await after.putRound({ round: "5", target: "1", phase: "requested", updatedAt: 0 });
    await after.close();
    expect((await GatewayJournal.open(dir)).round("5")?.phase).to.equal("requested");
  });

  it("replays a long mix of changes on reopen into exactly the state it had", async () => {
    const j = await GatewayJournal.open(dir);
    const sign = (sig: string) => async () => sig;
    const nonces = new Set<string>();
    for (let i = 0n; i < 40n; i++) {
      const r = round(3n + (i % 4n), i);
      const key = r.toString();
      nonces.add(Buffer.from(await j.freshNonce()).toString("hex"));
      await j.putRound({ round: key, target: "2", phase: "requested", nonce: `0x${i}`, data: { step: Number(i), nested: { ok: true } }, updatedAt: 0 });
      if (i % 3n === 0n) {
        await j.signOnce(r, `0xv${i}`, sign(`0xs${i}`), { vote: { round: key, score: Number(i) }, role: "primary" });
      } else if (i % 3n === 1n) {
        // An intent left behind by a failed signature.
        await j.signOnce(r, `0xi${i}`, async () => Promise.reject(new Error("killed")), { vote: { round: key }, role: "backup" }).catch(() => undefined);
      }
      await j.putRound({ round: key, target: "2", phase: "scored", nonce: `0x${i}`, data: { step: Number(i), score: 77 }, updatedAt: 0 });
      if (i % 5n === 4n) await j.closeRounds([key, round(3n + ((i - 1n) % 4n), i - 1n).toString()], i % 2n === 0n ? "recorded" : "abandoned", 1_000 + Number(i));
      // A snapshot rewrite in the middle: part of the state comes from the snapshot, the rest from the log.
      if (i === 20n) expect(await j.prune(0, 2_000)).to.be.above(0);
      // A floor raised with nothing below it: a field record.
      if (i === 30n) expect(await j.compact(3n)).to.deep.equal({ floorEpoch: 3n, votes: 0, intents: 0, rounds: 0 });
    }
    await j.putRound({ round: round(6n, 99n).toString(), target: "5", phase: "evidence", updatedAt: 0 });
    await j.signOnce(round(6n, 99n), "0xlast", sign("0xslast"), { vote: { last: true }, role: "primary" });
    const keys = [...Array.from({ length: 40 }, (_, i) => round(3n + (BigInt(i) % 4n), BigInt(i)).toString()), round(6n, 99n).toString()];
    const view = (jj: GatewayJournal) => ({
      votes: jj.signedVotes(),
      rounds: keys.map((k) => jj.round(k) ?? null),
      roundVotes: keys.map((k) => jj.roundVote(k) ?? null),
      pending: jj.pendingRounds().map((r) => r.round).sort(),
      floor: jj.signingFloor(),
    });
    const live = view(j);
    const lines = await logLines(dir);
    expect(lines.length, "changes were replayed from the log, not only read from a snapshot").to.be.above(10);
    await j.close();

    const again = await GatewayJournal.open(dir);
    expect(view(again)).to.deep.equal(live);
    expect(live.floor).to.equal(3n);
    expect(live.pending.length).to.be.above(3);
    expect(Object.keys(live.votes)).to.have.length.above(3);
    expect(live.roundVotes.filter((v) => v?.signed === false)).to.have.length.above(3);
    // A signature clears its round's intent on disk too.
    const unsigned = keys.filter((k) => j.roundVote(k)?.signed === false);
    expect(Object.keys((await durable(dir)).intents ?? {}).sort()).to.deep.equal(unsigned.sort());
    // The nonce mark replayed too: no nonce handed out before the reopen comes back after it.
    for (let i = 0; i < 300; i++) expect(nonces.has(Buffer.from(await again.freshNonce()).toString("hex"))).to.equal(false);
  });

  it("ignores a torn final log record, cuts it off, and appends the next record on a clean line", async () => {
    const j = await GatewayJournal.open(dir);
    await j.putRound({ round: "1", target: "2", phase: "evidence", updatedAt: 0 });
    await j.close();
    const whole = await logSize(dir);
    // A crash in the middle of an append that was never acknowledged.
    await appendFile(join(dir, "journal.log"), '{"set":"rounds","key":"2","value":{"round":"2","tar');
    // A reader leaves the file as it is.
    expect(Object.keys((await durable(dir)).rounds)).to.deep.equal(["1"]);
    expect(await logSize(dir)).to.be.above(whole);

    const again = await GatewayJournal.open(dir);
    expect(again.round("2")).to.equal(undefined);
    expect(await logSize(dir)).to.equal(whole);
    await again.putRound({ round: "3", target: "2", phase: "signed", updatedAt: 0 });
    await again.close();
    const lines = await logLines(dir);
    expect(lines.pop()).to.equal("");
    for (const line of lines) expect(() => JSON.parse(line), line).to.not.throw();

    // A whole last line the crash filled with junk (a block allocated, never written) is torn too.
    await appendFile(join(dir, "journal.log"), "\0\0\0\0\0\0\n");
    const third = await GatewayJournal.open(dir);
    expect(third.pendingRounds().map((r) => r.round).sort()).to.deep.equal(["1", "3"]);
    await third.putRound({ round: "4", target: "2", phase: "signed", updatedAt: 0 });
    expect((await GatewayJournal.open(dir)).pendingRounds().map((r) => r.round).sort()).to.deep.equal(["1", "3", "4"]);
  });

  it("refuses a log with an unreadable record before its last line, or a record of unknown shape", async () => {
    const j = await GatewayJournal.open(dir);
    await j.putRound({ round: "1", target: "2", phase: "evidence", updatedAt: 0 });
    await j.putRound({ round: "2", target: "2", phase: "evidence", updatedAt: 0 });
    await j.close();
    const good = await readFile(join(dir, "journal.log"), "utf8");
    const lines = good.split("\n");

    const broken = [lines[0], lines[1]?.slice(0, 20), lines[2], ""].join("\n");
    await writeFile(join(dir, "journal.log"), broken);
    expect(isTrustmeshError(await refusal(GatewayJournal.open(dir)), "JOURNAL_CORRUPT")).to.equal(true);
    expect(isTrustmeshError(await refusal(readJournalState(dir)), "JOURNAL_CORRUPT")).to.equal(true);
    expect(await readFile(join(dir, "journal.log"), "utf8"), "a refused log is left as it was").to.equal(broken);

    for (const odd of ['{"set":"peers","key":"1","value":{}}', '{"field":"salt","value":"00"}', '{"del":"votes"}', '["set","votes"]', '{"set":"votes","key":"__proto__","value":{}}']) {
      await writeFile(join(dir, "journal.log"), good + odd + "\n");
      expect(isTrustmeshError(await refusal(GatewayJournal.open(dir)), "JOURNAL_CORRUPT"), odd).to.equal(true);
    }
    await writeFile(join(dir, "journal.log"), good);
    expect((await GatewayJournal.open(dir)).pendingRounds()).to.have.length(2);
  });

  it("ignores and replaces a log older than the snapshot (a crash between the two steps of a rewrite), and refuses a newer one", async () => {
    const vote = { voteHash: "0xa", signature: "0xs", signedAt: 1 };
    const snapshot = { version: 1, salt: "00".repeat(16), nonceReservedUpTo: "512", votes: { "7": vote }, rounds: {}, logGeneration: 3 };
    await writeFile(join(dir, "journal.json"), JSON.stringify(snapshot));
    // The log of generation 2: all of it is in the snapshot, and replaying it would undo the rewrite.
    await writeFile(join(dir, "journal.log"), '{"generation":2}\n{"del":"votes","key":"7"}\n{"field":"nonceReservedUpTo","value":"256"}\n');
    expect((await durable(dir)).votes).to.deep.equal({ "7": vote });

    const j = await GatewayJournal.open(dir);
    expect(j.signedVote(7n)).to.deep.equal(vote);
    expect(await logLines(dir)).to.deep.equal(['{"generation":3}', ""]);
    await j.putRound({ round: "8", target: "2", phase: "evidence", updatedAt: 0 });
    await j.close();
    const again = await GatewayJournal.open(dir);
    expect(again.signedVote(7n)).to.deep.equal(vote);
    expect(again.round("8")?.phase).to.equal("evidence");
    await again.close();

    // A snapshot older than its log (restored from elsewhere) lacks what the log started from.
    await writeFile(join(dir, "journal.json"), JSON.stringify({ ...snapshot, logGeneration: 2 }));
    expect(isTrustmeshError(await refusal(GatewayJournal.open(dir)), "JOURNAL_CORRUPT")).to.equal(true);
    expect(isTrustmeshError(await refusal(readJournalState(dir)), "JOURNAL_CORRUPT")).to.equal(true);
  });

  it("folds the log into a new snapshot once it passes the size limit, and starts the log again small", async () => {
    const limit = 4096;
    const j = await GatewayJournal.open(dir, { logLimitBytes: limit });
    const header = await logSize(dir);
    const data = { pad: "p".repeat(400) };
    let rewrites = 0;
    let generation = (await snapshotOf(dir)).logGeneration;
    for (let i = 0; i < 60; i++) {
      await j.putRound({ round: String(i % 3), target: "2", phase: "evidence", data: { ...data, i }, updatedAt: 0 });
      const size = await logSize(dir);
      expect(size).to.be.at.most(limit);
      const now = (await snapshotOf(dir)).logGeneration;
      if (now !== generation) {
        rewrites++;
        generation = now;
        // The change that would have passed the limit went into the snapshot.
        expect(size).to.equal(header);
        expect((await snapshotOf(dir)).rounds[String(i % 3)]).to.deep.include({ data: { ...data, i } });
      }
    }
    expect(rewrites).to.be.at.least(5);
    expect(j.diskWrites()).to.equal(61); // one snapshot at open, then one write per change
    const again = await GatewayJournal.open(dir);
    expect(again.round("2")?.data).to.deep.equal({ ...data, i: 59 });
  });

  it("lets the log grow to the snapshot's own size before rewriting a snapshot larger than the limit", async () => {
    const j = await GatewayJournal.open(dir, { logLimitBytes: 1024 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => j.putRound({ round: String(i), target: "2", phase: "recorded", data: { pad: "q".repeat(500) }, updatedAt: 0 })));
    await j.putRound({ round: "40", target: "2", phase: "recorded", updatedAt: 0 });
    expect(await j.prune(0, Date.now() + 1_000)).to.equal(41);
    await Promise.all(Array.from({ length: 40 }, (_, i) => j.putRound({ round: String(i), target: "2", phase: "evidence", data: { pad: "q".repeat(500) }, updatedAt: 0 })));
    const { logGeneration } = await snapshotOf(dir);
    const snapshotBytes = (await stat(join(dir, "journal.json"))).size;
    expect(snapshotBytes).to.be.above(20_000);
    // Small changes: the log passes the limit and stays (rewriting 20 KB per KB logged would cost more than the log saves).
    let i = 0;
    for (; i < 100 && (await logSize(dir)) < 4 * 1024; i++) await j.putRound({ round: String(i % 40), target: "2", phase: "scored", updatedAt: 0 });
    expect(await logSize(dir)).to.be.at.least(4 * 1024);
    expect((await snapshotOf(dir)).logGeneration).to.equal(logGeneration);
    for (; i < 1000 && (await snapshotOf(dir)).logGeneration === logGeneration; i++) {
      expect(await logSize(dir)).to.be.at.most(snapshotBytes);
      await j.putRound({ round: String(i % 40), target: "2", phase: "signed", updatedAt: 0 });
    }
    expect((await snapshotOf(dir)).logGeneration).to.equal((logGeneration ?? 0) + 1);
    expect(await logSize(dir)).to.be.below(100);
  });

  it("appends a few hundred bytes per change however many votes are on record", async () => {
    const j = await GatewayJournal.open(dir);
    const vote = (i: bigint) => ({ round: round(50n, i).toString(), node: "2", verdict: 1, score: 90, evidenceCid: "0x" + "ab".repeat(34), policyCid: "0x" + "cd".repeat(34) });
    await Promise.all(Array.from({ length: 2000 }, (_, i) => j.signOnce(round(50n, BigInt(i)), "0x" + "11".repeat(32), async () => "0x" + "22".repeat(65), { vote: vote(BigInt(i)), role: "primary" })));
    expect(Object.keys((await durable(dir)).votes)).to.have.length(2000);
    expect(await diskBytes(dir)).to.be.above(500_000);

    const before = await logSize(dir);
    const snapshotBefore = await readFile(join(dir, "journal.json"));
    await j.putRound({ round: round(50n, 1n).toString(), target: "2", phase: "signed", nonce: "0x" + "33".repeat(32), data: { formedAt: 1 }, updatedAt: 0 });
    const appended = (await logSize(dir)) - before;
    expect(appended).to.be.above(0).and.below(400);
    expect((await readFile(join(dir, "journal.json"))).equals(snapshotBefore), "the snapshot was not rewritten").to.equal(true);
  });

  it("opens a journal written before the log existed (no logGeneration, no journal.log) with all of its content", async () => {
    const r = round(20n).toString();
    const old = {
      version: 1,
      salt: "00".repeat(16),
      nonceReservedUpTo: "512",
      votes: { [r]: { voteHash: "0xa", signature: "0xs", signedAt: 1, vote: { round: r } } },
      intents: { [round(20n, 2n).toString()]: { voteHash: "0xb", vote: { round: "x" } } },
      rounds: { [r]: { round: r, target: "3", phase: "signed", nonce: "ab", updatedAt: 5 } },
      signingFloorEpoch: "15",
    };
    await writeFile(join(dir, "journal.json"), JSON.stringify(old));
    const expected = structuredClone(old) as unknown as JournalState;
    expect(readJournalStateSync(dir)).to.deep.equal(expected);

    const j = await GatewayJournal.open(dir);
    expect(j.signedVote(BigInt(r))?.signature).to.equal("0xs");
    expect(j.roundVote(round(20n, 2n))).to.deep.equal({ voteHash: "0xb", vote: { round: "x" }, signed: false });
    expect(j.pendingRounds().map((p) => p.round)).to.deep.equal([r]);
    expect(j.signingFloor()).to.equal(15n);
    expect(await logLines(dir)).to.deep.equal(['{"generation":0}', ""]);
    await j.freshNonce();
    await j.putRound({ round: round(20n, 3n).toString(), target: "3", phase: "requested", updatedAt: 0 });
    await j.close();
    // The snapshot was not rewritten: the changes are on the log of generation 0.
    expect(JSON.parse(await readFile(join(dir, "journal.json"), "utf8"))).to.deep.equal(old);
    const state = await durable(dir);
    expect(state.nonceReservedUpTo).to.equal("768");
    expect(Object.keys(state.rounds)).to.have.length(2);
    expect(state.votes).to.deep.equal(old.votes);
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
