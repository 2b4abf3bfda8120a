/**
 * The sandbox's contract. A run either returns the function's JSON value or a failure
 * with a stable code; it never throws for anything the guest does.
 */
export type SandboxFailureCode =
  /** time limit: the VM was interrupted (soft) or the worker terminated (hard deadline) */
  | "TIMEOUT"
  /** the VM's memory limit (or the worker's heap limit) was reached */
  | "MEMORY"
  /** the guest recursed past the VM's stack limit */
  | "STACK"
  /** the entry function threw */
  | "THROW"
  /** the source failed to compile or its top level threw */
  | "LOAD"
  /** the source defines no function under the entry name */
  | "NO_ENTRY"
  /** the return value is not plain JSON data, or is too large */
  | "INVALID_OUTPUT"
  /** the host's input could not be encoded as JSON */
  | "INVALID_INPUT"
  /** the VM trapped or the worker died unexpectedly */
  | "CRASH";

export interface SandboxLimits {
  /** Wall time for loading and running the function, in ms. */
  timeMs: number;
  /** Bytes the QuickJS runtime may allocate (heap, strings, input copy). */
  memoryBytes: number;
  /** Largest JSON output accepted, in bytes; default 1 MiB. */
  maxOutputBytes?: number;
  /**
   * Extra ms the host waits after `timeMs` (counted from the worker's spawn) before it
   * terminates the thread, for guests the soft interrupt cannot stop; default 500.
   */
  hardKillGraceMs?: number;
}

export interface SandboxRunParameters {
  /** Plain script source (no imports) defining a global function named `entry`. */
  source: string;
  entry: string;
  /** Passed to the function as JSON (so it gets a copy, never a host object). */
  input: unknown;
  limits: SandboxLimits;
  /**
   * The fixed time seen by Date.now() and performance.now(); it also seeds Math.random.
   * Default 1_704_067_200_000 (2024-01-01T00:00:00Z). Tasks may derive it from chain data.
   */
  nowMs?: number;
}

export interface SandboxStats {
  /** Host wall time from spawning the worker to its answer. */
  wallMs: number;
  /** Time inside the VM: load the source, parse the input, run, check and serialise. */
  vmMs: number;
  /** Of which the entry function's own call (comparable to a native call). */
  runMs: number;
  /**
   * The same two spans as CPU time of the worker thread (Linux only; tick resolution, so
   * meaningful for runs of tens of ms). Unaffected by other processes on the machine.
   */
  vmCpuMs?: number;
  runCpuMs?: number;
}

export type SandboxResult<T = unknown> =
  | { ok: true; value: T; stats: SandboxStats }
  | { ok: false; code: SandboxFailureCode; message: string; stats: SandboxStats };
