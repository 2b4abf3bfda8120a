/**
 * The bundled scoring functions and how they get into IPFS. A function is identified by
 * the CID of its exact source bytes; ScoringPolicy on chain names that CID.
 */
import { readFile } from "node:fs/promises";
import type { CID } from "multiformats/cid";
import type { ContentStore } from "../adapter/content-store.js";

export type BundledScoringVersion = "v1" | "v2";

/** The entry function every scoring source defines. */
export const SCORING_ENTRY = "score";

/** UTF-8 bytes of ipfs/scoring/<version>.js, exactly as pinned. */
export async function bundledScoringSource(version: BundledScoringVersion): Promise<Uint8Array> {
  return new Uint8Array(await readFile(new URL(`./${version}.js`, import.meta.url)));
}

/** Stores and pins a scoring source; returns the CID to propose to ScoringPolicy. */
export async function publishScoringSource(store: ContentStore, source: Uint8Array): Promise<CID> {
  const cid = await store.put(source);
  await store.pin(cid);
  return cid;
}

export type { ScoreInput, ScoreOutput, FindingSeverity } from "./contract.js";
export { scoreOutputProblem } from "./contract.js";
