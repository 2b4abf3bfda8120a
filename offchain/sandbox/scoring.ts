/**
 * runScoring: what a verifier does with the policy CID named on chain. Fetch the source
 * (the store verifies it against the CID), run its `score` in the sandbox, and accept
 * the answer only if it has the ScoreOutput shape. Fetch failures throw IpfsError (no
 * score can be computed); everything the function does is a SandboxResult.
 */
import type { CID } from "multiformats/cid";
import type { ContentStore } from "../../ipfs/adapter/content-store.js";
import { SCORING_ENTRY, scoreOutputProblem } from "../../ipfs/scoring/index.js";
import type { ScoreInput, ScoreOutput } from "../../ipfs/scoring/index.js";
import { SandboxError } from "./errors.js";
import { runInSandbox } from "./run.js";
import type { SandboxLimits, SandboxResult, SandboxRunParameters } from "../core/sandbox-types.js";
import { rememberBounded } from "../core/bounded-map.js";

/** Generous for a pure scoring function; every verifier must use the same values. */
export const SCORING_LIMITS: SandboxLimits = { timeMs: 1000, memoryBytes: 32 * 2 ** 20 };

export interface RunScoringOptions {
  limits?: SandboxLimits;
  signal?: AbortSignal;
  /** Where to run it: a SandboxPool's `run` for a busy verifier; default one-shot. */
  runner?: (params: SandboxRunParameters) => Promise<SandboxResult<unknown>>;
}

/**
 * Sources already fetched and checked, by CID. Content under a CID never changes, so the
 * check made once holds; a verifier scores every round with the same policy, and the store
 * read (a file read and a hash in the embedded node, a request to a Kubo daemon) sat on
 * every round's path: it was most of the "score" step at 10 rounds/s in the devnet.
 * Bounded: a few policies are live at once (the active one, one in flight during an upgrade).
 */
const sources = new Map<string, string>();
const SOURCES_MAX = 16;

async function scoringSource(cid: CID, store: ContentStore, signal: AbortSignal | undefined): Promise<string> {
  const key = cid.toString();
  const hit = sources.get(key);
  if (hit !== undefined) return hit;
  const bytes = await store.get(cid, { signal });
  let source: string;
  try {
    source = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new SandboxError("SOURCE_ENCODING", `scoring source ${cid} is not valid UTF-8`, { cause });
  }
  return rememberBounded(sources, key, source, SOURCES_MAX);
}

export async function runScoring(
  cid: CID,
  input: ScoreInput,
  store: ContentStore,
  options: RunScoringOptions = {},
): Promise<SandboxResult<ScoreOutput>> {
  const source = await scoringSource(cid, store, options.signal);
  const runner = options.runner ?? ((p: SandboxRunParameters) => runInSandbox<unknown>(p));
  const result = await runner({ source, entry: SCORING_ENTRY, input, limits: options.limits ?? SCORING_LIMITS });
  if (!result.ok) return result;
  const problem = scoreOutputProblem(result.value);
  if (problem !== null) {
    return { ok: false, code: "INVALID_OUTPUT", message: `scoring function ${cid}: ${problem}`, stats: result.stats };
  }
  return { ok: true, value: result.value as ScoreOutput, stats: result.stats };
}
