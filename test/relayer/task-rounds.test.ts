/**
 * Task attestation rounds: the round-id layout, which requests a verifier serves, and the
 * cleanup a post-run round demands. Pure functions, no sockets.
 */
import { expect } from "chai";
import { decodeRoundId, encodeRoundId, MAX_TASK_ROUND_ATTEMPTS, parseTaskRoundSequence, taskRoundSequence, type TaskRoundPhase } from "../../offchain/core/protocol.js";
import { judgeTaskRoundRequest, POST_RUN_REBOOT_GRACE_S, TASK_ROUND_SKEW_MS, type TaskRoundFacts } from "../../offchain/relayer/task-rounds.js";
import { cleanupFindings } from "../../offchain/relayer/assess.js";
import { EMPTY_SCRATCH_DIGEST } from "../../firmware/agent/scratch.js";

const OPEN = 1;
const SUBMITTED = 2;
const SETTLED = 3;

function facts(phase: TaskRoundPhase, over: Partial<TaskRoundFacts> = {}, attempt = 0): TaskRoundFacts {
  const round = encodeRoundId({ epoch: 7n, node: 3n, sequence: taskRoundSequence({ taskId: 42n, phase, attempt }) });
  return {
    round,
    sender: 3n,
    startMs: 1_000_000,
    self: 5n,
    nowMs: 1_000_200,
    currentEpoch: 7n,
    task: phase === "pre-run" ? { status: OPEN, executor: 0n, submittedAt: 0n } : { status: SUBMITTED, executor: 3n, submittedAt: 900n },
    ...over,
  };
}

describe("task attestation rounds", () => {
  describe("round id layout", () => {
    it("round-trips task id, phase and attempt, and stays apart from scheduled sequences and their retries", () => {
      for (const phase of ["pre-run", "post-run"] as const) {
        for (const taskId of [1n, 42n, (1n << 32n) - 1n]) {
          for (let attempt = 0; attempt < MAX_TASK_ROUND_ATTEMPTS; attempt++) {
            const seq = taskRoundSequence({ taskId, phase, attempt });
            expect(parseTaskRoundSequence(seq)).to.deep.equal({ taskId, phase, attempt });
            expect(decodeRoundId(encodeRoundId({ epoch: 9n, node: 4n, sequence: seq })).sequence).to.equal(seq);
          }
        }
      }
      // Scheduled rounds count from 0; their retries add multiples of 2^32.
      for (const seq of [0n, 1n, 500n, (1n << 32n) + 3n, (3n << 32n) + 17n]) expect(parseTaskRoundSequence(seq)).to.equal(null);
      expect(taskRoundSequence({ taskId: 42n, phase: "pre-run", attempt: 0 })).to.not.equal(taskRoundSequence({ taskId: 42n, phase: "post-run", attempt: 0 }));
    });

    it("refuses task ids and attempts outside the layout", () => {
      expect(() => taskRoundSequence({ taskId: 0n, phase: "pre-run", attempt: 0 })).to.throw(/task id/);
      expect(() => taskRoundSequence({ taskId: 1n << 32n, phase: "pre-run", attempt: 0 })).to.throw(/task id/);
      expect(() => taskRoundSequence({ taskId: 1n, phase: "pre-run", attempt: MAX_TASK_ROUND_ATTEMPTS })).to.throw(/attempt/);
      expect(() => taskRoundSequence({ taskId: 1n, phase: "pre-run", attempt: -1 })).to.throw(/attempt/);
      // A flagged sequence with task id 0 or an attempt past the limit is no task round.
      expect(parseTaskRoundSequence(1n << 63n)).to.equal(null);
      expect(parseTaskRoundSequence((1n << 63n) | (BigInt(MAX_TASK_ROUND_ATTEMPTS) << 32n) | 5n)).to.equal(null);
    });
  });

  describe("judgeTaskRoundRequest", () => {
    it("serves a pre-run round of an open task and a post-run round of the task's executor", () => {
      const pre = judgeTaskRoundRequest(facts("pre-run"));
      expect(pre).to.deep.equal({ ok: true, parts: { taskId: 42n, phase: "pre-run", attempt: 0 }, epoch: 7n });
      const post = judgeTaskRoundRequest(facts("post-run", {}, 2));
      expect(post).to.deep.equal({ ok: true, parts: { taskId: 42n, phase: "post-run", attempt: 2 }, epoch: 7n });
      // Anyone may ask for the post-run round once the executor had time to reboot its HPC:
      // an executor cannot dodge it by staying silent.
      const openToAll = (900 + POST_RUN_REBOOT_GRACE_S) * 1000;
      expect(judgeTaskRoundRequest(facts("post-run", { sender: 6n, startMs: openToAll, nowMs: openToAll })).ok).to.equal(true);
    });

    const refusals: [string, TaskRoundFacts, RegExp][] = [
      ["a scheduled round", { ...facts("pre-run"), round: encodeRoundId({ epoch: 7n, node: 3n, sequence: 4n }) }, /not a task round/],
      ["a pre-run round asked for by another node", facts("pre-run", { sender: 4n }), /only ask for pre-run rounds of itself/],
      ["its own round", facts("pre-run", { self: 3n }), /own round/],
      ["an old epoch", facts("pre-run", { currentEpoch: 8n }), /epoch 7, current is 8/],
      ["a start too far back", facts("pre-run", { nowMs: 1_000_000 + TASK_ROUND_SKEW_MS + 1 }), /away from this clock/],
      ["a start in the future", facts("pre-run", { nowMs: 1_000_000 - TASK_ROUND_SKEW_MS - 1 }), /away from this clock/],
      ["an unknown task", facts("pre-run", { task: null }), /no task 42/],
      ["a pre-run round of a task that has a result", facts("pre-run", { task: { status: SUBMITTED, executor: 3n, submittedAt: 900n } }), /not open/],
      ["a post-run round of an open task", facts("post-run", { task: { status: OPEN, executor: 0n, submittedAt: 0n } }), /no result of node 3/],
      ["a post-run round of another executor's result", facts("post-run", { task: { status: SUBMITTED, executor: 6n, submittedAt: 900n } }), /no result of node 3/],
      ["a post-run round of a settled task", facts("post-run", { task: { status: SETTLED, executor: 3n, submittedAt: 900n } }), /no result of node 3/],
      [
        "a post-run round asked for by another node before the executor's reboot grace ends",
        facts("post-run", { sender: 6n, startMs: (900 + POST_RUN_REBOOT_GRACE_S) * 1000 - 1_000, nowMs: (900 + POST_RUN_REBOOT_GRACE_S) * 1000 - 1_000 }),
        /only the executor may ask .* until 1 s from now/,
      ],
      ["a malformed round id", { ...facts("pre-run"), round: 1n << 200n }, /malformed/],
    ];
    for (const [what, f, reason] of refusals) {
      it(`refuses ${what}`, () => {
        const j = judgeTaskRoundRequest(f);
        expect(j.ok).to.equal(false);
        if (!j.ok) expect(j.reason).to.match(reason);
      });
    }
  });

  describe("cleanupFindings (post-run rounds)", () => {
    const clean = { digest: EMPTY_SCRATCH_DIGEST, files: 0, bytes: 0, empty: true };
    const idle = { running: 0, finished: 3 };

    it("accepts an empty scratch area with no task run going", () => {
      expect(cleanupFindings(clean, idle)).to.deep.equal([]);
    });

    it("fails a scratch area that still holds data, or none reported", () => {
      const left = cleanupFindings({ digest: "ab".repeat(32), files: 2, bytes: 812, empty: false }, idle);
      expect(left.map((f) => [f.code, f.severity])).to.deep.equal([["SCRATCH_NOT_WIPED", "fatal"]]);
      expect(left[0]?.message).to.match(/2 file\(s\), 812 bytes/);
      expect(cleanupFindings(undefined, idle).map((f) => [f.code, f.severity])).to.deep.equal([["CLEANUP_EVIDENCE_MISSING", "fatal"]]);
    });

    it("fails a task run still going on the HPC, or task runs not reported", () => {
      const going = cleanupFindings(clean, { running: 1, finished: 2 });
      expect(going.map((f) => [f.code, f.severity])).to.deep.equal([["TASK_PROCESS_LEFT", "fatal"]]);
      expect(going[0]?.message).to.match(/1 task run\(s\) still going/);
      const unreported = cleanupFindings(clean, undefined);
      expect(unreported.map((f) => f.code)).to.deep.equal(["CLEANUP_EVIDENCE_MISSING"]);
      expect(unreported[0]?.message).to.match(/task runs/);
    });
  });
});
