import { TrustmeshError } from "../core/errors.js";

/**
 * Task-flow failures. `code` is stable:
 * - TASK_BUNDLE: the function source is not a valid bundle (encoding, size, no entry)
 * - TASK_SPEC: a task specification breaks the protocol's limits (docs/task-protocol.md 1)
 * - TASK_FETCH: a function or capsule could not be fetched (absent, CID mismatch)
 * - TASK_INPUT: an input capsule does not open or does not match its commitment
 * - TASK_NO_KEY: the broker released no task key to this executor
 * - TASK_RUN: the sandboxed function failed (loop, memory, throw, ...); see `reason`
 * - TASK_RESULT: the result capsule does not open or does not match the chain
 * - TASK_CHAIN: a chain call failed or reverted
 * - CLAIM_REJECTED: the key broker refused a claim; see `reason`
 * - TASK_EXECUTOR: anything else that stopped an executor (a bug or the host); see `cause`
 */
export type TaskErrorCode =
  | "TASK_BUNDLE"
  | "TASK_SPEC"
  | "TASK_FETCH"
  | "TASK_INPUT"
  | "TASK_NO_KEY"
  | "TASK_RUN"
  | "TASK_RESULT"
  | "TASK_CHAIN"
  | "CLAIM_REJECTED"
  | "TASK_EXECUTOR";

export class TaskError extends TrustmeshError {
  override name = "TaskError";
  declare readonly code: TaskErrorCode;
}

/** Why a key broker refused a claim (docs/task-protocol.md section 4), one stable word each. */
export type ClaimRejection =
  | "unknown-task"
  | "window-closed"
  | "malformed"
  | "bad-signature"
  | "bad-proof"
  | "over-threshold"
  | "not-trusted"
  | "tier-too-low"
  | "no-fresh-verdict"
  | "not-chosen";

export class ClaimRejectedError extends TaskError {
  override name = "ClaimRejectedError";
  constructor(
    readonly reason: ClaimRejection,
    detail: string,
  ) {
    super("CLAIM_REJECTED", `key claim rejected: ${reason}`, { metaMessages: [detail] });
  }
}

/** A sandbox failure of a task's function, with the sandbox's own code (TIMEOUT, MEMORY, THROW, ...). */
export class TaskRunError extends TaskError {
  override name = "TaskRunError";
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super("TASK_RUN", `task function failed: ${reason}`, { metaMessages: [detail] });
  }
}
