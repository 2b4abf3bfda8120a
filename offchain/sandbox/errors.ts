import { TrustmeshError } from "../core/errors.js";
import type { SandboxFailureCode, SandboxResult } from "../core/sandbox-types.js";

/** A sandbox failure as an exception, for callers that prefer throwing (see `unwrap`). */
export class SandboxError extends TrustmeshError {
  override name = "SandboxError";
  declare readonly code: SandboxFailureCode | "BAD_LIMITS" | "SCORING_OUTPUT" | "SOURCE_ENCODING";
}

/** The value of a successful run, or a SandboxError carrying the failure code. */
export function unwrap<T>(result: SandboxResult<T>): T {
  if (result.ok) return result.value;
  throw new SandboxError(result.code, `sandboxed function failed: ${result.code}`, { metaMessages: [result.message] });
}
