import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { GatewayJournal } from "../../offchain/relayer/journal.js";
import { createLogger } from "../../offchain/relayer/logger.js";
import { resumeData, resumePendingRounds, voteToJson, type ResumableRound, type ResumeMember } from "../../offchain/relayer/round-resume.js";
import type { Vote } from "../../offchain/chain/eip712.js";

const log = createLogger({ name: "test", level: "silent" });
const members: ResumeMember[] = [1n, 2n, 3n].map((n) => ({
  node: n,
  gateway: `0x${n.toString().padStart(40, "0")}`,
  output: n * 1000n,
  publicKey: `0x02${"ab".repeat(32)}` as Hex,
  proof: `0x${"cd".repeat(81)}` as Hex,
  at: 1000 + Number(n),
}));
const vote = (round: bigint, evidence: string): Vote => ({ round, node: 4n, verdict: 1, score: 90, evidenceCid: `0x${evidence}` as Hex, policyCid: "0x0155" });

describe("restart recovery of pending rounds (round-resume)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tm-resume-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function journalWith(rounds: { round: bigint; phase: "requested" | "signed"; formedAgoMs?: number }[], now: number): Promise<GatewayJournal> {
    const j = await GatewayJournal.open(dir);
    for (const r of rounds) {
      const data = r.phase === "signed" ? { ...resumeData(members, 2, "0x99", vote(r.round, "aa")), formedAt: now - (r.formedAgoMs ?? 0) } : undefined;
      await j.putRound({ round: r.round.toString(), target: "4", phase: r.phase, nonce: `0x${r.round}`, data, updatedAt: now });
    }
    return j;
  }

  it("rejoins a live round asking for the decision it was about to sign, and closes it once recorded", async () => {
    const now = Date.now();
    const j = await journalWith([{ round: 7n, phase: "signed", formedAgoMs: 5_000 }], now);
    // The committee's decision (another member's evidence) was written down before signing.
    const decided = vote(7n, "bb");
    await j.signOnce(7n, "0xhash", () => Promise.reject(new Error("killed")), { vote: voteToJson(decided), role: "backup" }).catch(() => undefined);
    const resumed: ResumableRound[] = [];
    let recorded = false;
    const outcomes = await resumePendingRounds(
      {
        journal: j,
        isRecorded: async () => recorded,
        resume: async (r) => {
          resumed.push(r);
          recorded = true;
          return { kind: "decided" };
        },
        log,
        roundTimeoutMs: 40_000,
      },
      now,
    );
    expect(outcomes).to.deep.equal([{ round: "7", kind: "decided" }]);
    expect(resumed).to.have.length(1);
    expect(resumed[0]!.vote).to.deep.equal(decided);
    expect(resumed[0]!.myIndex).to.equal(2);
    expect(resumed[0]!.members.map((m) => m.node)).to.deep.equal([1n, 2n, 3n]);
    expect(resumed[0]!.members[0]!.output).to.equal(1000n);
    expect((await GatewayJournal.open(dir)).round(7n)?.phase).to.equal("recorded");
  });

  it("without a decision on disk it asks for its own vote", async () => {
    const now = Date.now();
    const j = await journalWith([{ round: 8n, phase: "signed" }], now);
    const resumed: ResumableRound[] = [];
    await resumePendingRounds({ journal: j, isRecorded: async () => false, resume: async (r) => (resumed.push(r), { kind: "abstained" }), log, roundTimeoutMs: 40_000 }, now);
    expect(resumed[0]!.vote).to.deep.equal(vote(8n, "aa"));
    expect(j.round(8n)?.phase).to.equal("signed");
  });

  it("closes rounds that are over: recorded, timed out, or interrupted before the committee formed", async () => {
    const now = Date.now();
    const j = await journalWith(
      [
        { round: 1n, phase: "signed", formedAgoMs: 1_000 },
        { round: 2n, phase: "signed", formedAgoMs: 60_000 },
        { round: 3n, phase: "requested" },
      ],
      now,
    );
    const asked: bigint[] = [];
    let resumed = 0;
    await resumePendingRounds(
      {
        journal: j,
        isRecorded: async (r) => (asked.push(r), r === 1n),
        resume: async () => (resumed++, { kind: "decided" }),
        log,
        roundTimeoutMs: 40_000,
      },
      now,
    );
    expect(resumed).to.equal(0);
    expect(asked, "stale rounds are closed without a chain read").to.deep.equal([1n]);
    const again = await GatewayJournal.open(dir);
    expect([1n, 2n, 3n].map((r) => again.round(r)?.phase)).to.deep.equal(["recorded", "abandoned", "abandoned"]);
    expect(again.pendingRounds()).to.deep.equal([]);
  });

  it("leaves a round pending when the chain cannot be read, and never throws for a failed resume", async () => {
    const now = Date.now();
    const j = await journalWith([{ round: 5n, phase: "signed" }, { round: 6n, phase: "signed" }], now);
    const outcomes = await resumePendingRounds(
      {
        journal: j,
        isRecorded: async (r) => {
          if (r === 5n) throw new Error("rpc down");
          return false;
        },
        resume: async () => {
          throw new Error("boom");
        },
        log,
        roundTimeoutMs: 40_000,
      },
      now,
    );
    expect(outcomes).to.deep.equal([{ round: "6", kind: "failed" }]);
    expect(j.round(5n)?.phase).to.equal("signed");
  });
});
