export { runInSandbox, warmUpSandbox, DEFAULT_NOW_MS } from "./run.js";
export { SandboxPool } from "./pool.js";
export type { SandboxPoolOptions } from "./pool.js";
export { runScoring, SCORING_LIMITS } from "./scoring.js";
export type { RunScoringOptions } from "./scoring.js";
export { SandboxError, unwrap } from "./errors.js";
export type { SandboxFailureCode, SandboxLimits, SandboxResult, SandboxRunParameters, SandboxStats } from "../core/sandbox-types.js";
