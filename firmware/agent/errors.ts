/**
 * Errors of the HPC agent and its drivers. One class, stable codes: the bridge turns any of
 * these into an error reply (code + shortMessage) and keeps serving.
 */
import { TrustmeshError, type TrustmeshErrorOptions } from "../../offchain/core/errors.js";

export type AgentErrorCode =
  /** A tpm2-tools command exited non-zero or could not be started. */
  | "TPM_TOOL_FAILED"
  /** swtpm could not be started or set up. */
  | "SWTPM_FAILED"
  /** A request asked for something the driver cannot do (unknown bank, PCR out of range). */
  | "BAD_REQUEST"
  /** The agent's own state (keys, event log) is missing or inconsistent. */
  | "AGENT_STATE"
  /** The event log would not be well-formed (oversized event, unknown bank). */
  | "EVENTLOG_WRITE"
  /** A task run: no usable key (none prepared, grant does not open, not the chain's task key). */
  | "TASK_NO_KEY"
  /** A task run: an input capsule does not open, does not match its commitment, or is not JSON. */
  | "TASK_INPUT"
  /** A task run: the function failed in the sandbox (see TaskRunFailure's reason). */
  | "TASK_RUN"
  /** A task run: the result could not be encoded or sealed. */
  | "TASK_RESULT";

export class AgentError extends TrustmeshError {
  override name = "AgentError";
  declare readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, shortMessage: string, options: TrustmeshErrorOptions = {}) {
    super(code, shortMessage, options);
  }
}

/** A task function's failure in the sandbox, with the sandbox's own reason (TIMEOUT, MEMORY, THROW, ...). */
export class TaskRunFailure extends AgentError {
  override name = "TaskRunFailure";

  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super("TASK_RUN", `task function failed: ${reason}`, { metaMessages: [detail] });
  }
}
