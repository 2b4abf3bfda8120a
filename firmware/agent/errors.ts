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
  | "EVENTLOG_WRITE";

export class AgentError extends TrustmeshError {
  override name = "AgentError";
  declare readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, shortMessage: string, options: TrustmeshErrorOptions = {}) {
    super(code, shortMessage, options);
  }
}
