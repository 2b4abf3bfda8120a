/**
 * The parties around a task (docs/task-protocol.md sections 1, 2, 7): the creator builds
 * the spec with a fresh task key, the input owners seal their data to that key, and the
 * recipients open the result and check it against the commitment on chain. Pure apart
 * from the content store.
 */
import type { Hex } from "viem";
import { generateCapsuleKeyPair, keyToHex, type CapsuleKeyPair } from "../core/capsule/keys.js";
import { openCapsule } from "../core/capsule/seal.js";
import { sealToStore, type CapsuleRecord } from "../capsule/store.js";
import type { ContentStore } from "../../ipfs/adapter/content-store.js";
import { hexToCid } from "../../ipfs/adapter/cid.js";
import { decodeJsonPayload, encodeJsonPayload } from "./bundle.js";
import { TaskError } from "./errors.js";
import { INPUT_ROLE, RESULT_ROLE } from "./executor.js";
import type { TaskSpec } from "./types.js";
import { hexOf } from "../core/hex.js";

export const MAX_INPUTS = 16;
export const MAX_RECIPIENTS = 16;
export const MAX_TIER = 2;

/** A fresh X25519 pair per task: the public half goes in the spec, the private half to the broker. */
export function newTaskKey(): CapsuleKeyPair {
  return generateCapsuleKeyPair();
}

/** An input owner's step: seal a JSON value to the task key under (taskId, "input"), store and pin it. */
export async function sealInput(store: ContentStore, taskId: bigint, taskKey: Uint8Array, value: unknown): Promise<CapsuleRecord> {
  return sealToStore(store, { payload: encodeJsonPayload(value), recipients: [taskKey], taskId, role: INPUT_ROLE });
}

export interface SpecParameters {
  functionCid: Hex;
  inputs: CapsuleRecord[];
  taskKey: Uint8Array;
  recipients: Uint8Array[];
  timeLimitMs: number;
  memoryLimitMb: number;
  minTier: number;
  payment: bigint;
  deadline: bigint;
}

/** Builds a spec, refusing what TaskMarket would revert on (TASK_SPEC). */
export function buildSpec(p: SpecParameters): TaskSpec {
  const bad = (why: string) => new TaskError("TASK_SPEC", `invalid task: ${why}`);
  if (p.inputs.length < 1 || p.inputs.length > MAX_INPUTS) throw bad(`1..${MAX_INPUTS} inputs, got ${p.inputs.length}`);
  if (p.recipients.length < 1 || p.recipients.length > MAX_RECIPIENTS) throw bad(`1..${MAX_RECIPIENTS} recipients, got ${p.recipients.length}`);
  for (const [k, v] of [["timeLimitMs", p.timeLimitMs], ["memoryLimitMb", p.memoryLimitMb]] as const) {
    if (!Number.isInteger(v) || v <= 0 || v > 0xffffffff) throw bad(`${k} must be a uint32 above 0`);
  }
  if (!Number.isInteger(p.minTier) || p.minTier < 0 || p.minTier > MAX_TIER) throw bad(`minTier must be 0..${MAX_TIER}`);
  if (p.payment <= 0n) throw bad("payment must be above 0");
  if (p.deadline <= 0n || p.deadline >= 1n << 64n) throw bad("deadline must be a uint64 of unix seconds");
  return {
    functionCid: p.functionCid,
    inputCids: p.inputs.map((i) => i.chain.cid),
    inputCommitments: p.inputs.map((i) => i.chain.commitment),
    taskKey: keyToHex(p.taskKey),
    recipientKeys: p.recipients.map((k) => keyToHex(k)),
    timeLimitMs: p.timeLimitMs,
    memoryLimitMb: p.memoryLimitMb,
    minTier: p.minTier,
    payment: p.payment,
    deadline: p.deadline,
  };
}

/**
 * A recipient's step: fetch the result capsule (CID-checked), open it with the recipient's
 * key and check its commitment is the one the chain recorded; returns the JSON value.
 */
export async function openResult(
  store: ContentStore,
  taskId: bigint,
  onChain: { resultCid: Hex; resultCommitment: Hex },
  recipientKey: Uint8Array,
): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(hexToCid(onChain.resultCid));
  } catch (cause) {
    throw new TaskError("TASK_FETCH", `cannot fetch the result capsule of task ${taskId}`, { cause });
  }
  let opened;
  try {
    opened = await openCapsule(bytes, recipientKey, { taskId, role: RESULT_ROLE });
  } catch (cause) {
    throw new TaskError("TASK_RESULT", `the result capsule of task ${taskId} does not open for this recipient`, { cause });
  }
  if (hexOf(opened.commitment) !== onChain.resultCommitment.toLowerCase()) {
    throw new TaskError("TASK_RESULT", `the result of task ${taskId} does not match the commitment on chain`);
  }
  return decodeJsonPayload(opened.payload, "TASK_RESULT");
}
