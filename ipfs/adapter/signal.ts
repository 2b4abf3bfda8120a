import { IpfsError } from "./errors.js";

/** Throws ABORTED when the signal has fired; called before and after each backend call. */
export function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) {
    throw new IpfsError("ABORTED", `${what} aborted`, { cause: signal.reason });
  }
}
