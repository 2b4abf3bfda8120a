/**
 * The function bundle: the task function's source, pinned in IPFS, named on chain by CID
 * (rules: ipfs/tasks/README.md). What a run receives and returns is JSON; payload bytes of
 * capsules are its UTF-8 text. Pure apart from the store calls.
 */
import type { CID } from "multiformats/cid";
import type { ContentStore } from "../../ipfs/adapter/content-store.js";
import { decodeJsonPayload as decodeJson, encodeJsonPayload as encodeJson } from "../core/capsule/payload.js";
import { TaskError } from "./errors.js";

/** The entry function every task source defines. */
export const TASK_ENTRY = "run";
export const MAX_BUNDLE_BYTES = 256 * 1024;

export interface FunctionBundle {
  source: string;
  entry: typeof TASK_ENTRY;
}

/** Decodes and checks a task source; throws TASK_BUNDLE. */
export function parseBundle(bytes: Uint8Array): FunctionBundle {
  if (bytes.length === 0 || bytes.length > MAX_BUNDLE_BYTES) {
    throw new TaskError("TASK_BUNDLE", `a task function is 1..${MAX_BUNDLE_BYTES} bytes, got ${bytes.length}`);
  }
  let source: string;
  try {
    source = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new TaskError("TASK_BUNDLE", "the task function is not valid UTF-8", { cause });
  }
  // A cheap early refusal; the sandbox's NO_ENTRY stays the authority on what the source defines.
  if (!/(^|[\s;}])function\s+run\s*\(/.test(source)) {
    throw new TaskError("TASK_BUNDLE", "the task function defines no top-level `function run(inputs)`");
  }
  return { source, entry: TASK_ENTRY };
}

/** Stores and pins a task source after checking it; returns the CID A puts in the task. */
export async function publishFunction(store: ContentStore, source: Uint8Array): Promise<CID> {
  parseBundle(source);
  const cid = await store.put(source);
  await store.pin(cid);
  return cid;
}

/** Fetches (CID-checked by the store) and parses a task function. */
export async function loadFunction(store: ContentStore, cid: CID, signal?: AbortSignal): Promise<FunctionBundle> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(cid, { signal });
  } catch (cause) {
    throw new TaskError("TASK_FETCH", `cannot fetch the task function ${cid}`, { cause });
  }
  return parseBundle(bytes);
}

/** A JSON value as input capsule payload bytes; throws TASK_INPUT for what JSON cannot hold. */
export function encodeJsonPayload(value: unknown): Uint8Array {
  try {
    return encodeJson(value);
  } catch (cause) {
    throw new TaskError("TASK_INPUT", "payload is not JSON data", { cause });
  }
}

/** Capsule payload bytes as a JSON value; throws `code` when they are not UTF-8 JSON. */
export function decodeJsonPayload(bytes: Uint8Array, code: "TASK_INPUT" | "TASK_RESULT" = "TASK_INPUT"): unknown {
  try {
    return decodeJson(bytes);
  } catch (cause) {
    throw new TaskError(code, "capsule payload is not UTF-8 JSON", { cause });
  }
}
