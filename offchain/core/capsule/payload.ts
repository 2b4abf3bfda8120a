/**
 * What a task's capsules carry: one JSON value as UTF-8 text. Shared by the data owners
 * and recipients (offchain/task) and the HPC that runs the task (firmware/agent/tasks.ts).
 */
import { CapsuleError } from "./errors.js";

/** A JSON value as capsule payload bytes; throws CAPSULE_PAYLOAD for what JSON cannot hold. */
export function encodeJsonPayload(value: unknown): Uint8Array {
  const text = JSON.stringify(value);
  if (text === undefined) throw new CapsuleError("CAPSULE_PAYLOAD", "payload is not JSON data");
  return new TextEncoder().encode(text);
}

/** Capsule payload bytes as a JSON value; throws CAPSULE_PAYLOAD when they are not UTF-8 JSON. */
export function decodeJsonPayload(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new CapsuleError("CAPSULE_PAYLOAD", "capsule payload is not UTF-8 JSON", { cause });
  }
}
