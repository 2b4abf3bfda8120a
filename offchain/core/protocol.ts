/**
 * Protocol constants and encodings shared by contracts, gateways and tools.
 * Pure: no I/O. The Solidity side mirrors these exactly (see contracts/libraries/RoundId.sol
 * and the TrustBoard EIP-712 type); tests assert both sides agree.
 */
import { TrustmeshError } from "./errors.js";

/** Verdict codes as stored on chain (uint8). 0 is "no verdict". */
export const Verdict = { None: 0, Trusted: 1, Untrusted: 2 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** Sortition roles, the last byte of the VRF input (alpha). */
export const Role = { Verifier: 1, Executor: 2 } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Node lifecycle as NodeRegistry's `NodeStatus` enum. */
export const NodeStatus = {
  None: 0,
  Registered: 1,
  Trusted: 2,
  Untrusted: 3,
  Exiting: 4,
  Withdrawn: 5,
  Banned: 6,
} as const;
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus];

export class ProtocolError extends TrustmeshError {
  override name = "ProtocolError";
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * A round id binds epoch, target node and a per-(epoch,node) sequence into one uint256:
 * `epoch << 128 | node << 64 | sequence`, each a uint64. The contract decodes it, so
 * a vote cannot claim one epoch and be counted in another.
 */
export interface RoundParts {
  epoch: bigint;
  node: bigint;
  sequence: bigint;
}

export function encodeRoundId({ epoch, node, sequence }: RoundParts): bigint {
  for (const [name, v] of [["epoch", epoch], ["node", node], ["sequence", sequence]] as const) {
    if (v < 0n || v > U64_MAX) {
      throw new ProtocolError("ROUND_FIELD_RANGE", `round ${name} ${v} does not fit in uint64`);
    }
  }
  return (epoch << 128n) | (node << 64n) | sequence;
}

export function decodeRoundId(round: bigint): RoundParts {
  if (round < 0n || round >> 192n !== 0n) {
    throw new ProtocolError("ROUND_ID_RANGE", `round id ${round} has bits above 192`);
  }
  return { epoch: (round >> 128n) & U64_MAX, node: (round >> 64n) & U64_MAX, sequence: round & U64_MAX };
}

/**
 * The VRF input (alpha) for sortition: seed (32 bytes) || round id (32 bytes, big-endian)
 * || role (1 byte). 65 bytes; the on-chain Disputes contract builds the same bytes with
 * abi.encodePacked(bytes32 seed, uint256 round, uint8 role).
 */
export function sortitionAlpha(seed: Uint8Array, round: bigint, role: Role): Uint8Array {
  if (seed.length !== 32) throw new ProtocolError("SEED_LENGTH", `epoch seed must be 32 bytes, got ${seed.length}`);
  const out = new Uint8Array(65);
  out.set(seed, 0);
  let r = round;
  for (let i = 63; i >= 32; i--) {
    out[i] = Number(r & 0xffn);
    r >>= 8n;
  }
  out[64] = role;
  return out;
}

/**
 * Task attestation rounds: run on demand, when an executor asks, instead of at a time the
 * epoch seed drew. Their sequence says which task and which side of the run they attest,
 * so verifiers know what to judge (a post-run round also checks the cleanup) and the
 * chain's round id tells an auditor why the round happened:
 *   bit 63 = 1 (task round), bit 62 = phase (0 pre-run, 1 post-run),
 *   bits 32..61 = attempt (a failed round is asked for again under a new id),
 *   bits 0..31 = task id.
 * Scheduled rounds count their sequence up from 0 (and retries add multiples of 2^32),
 * far below bit 62, so the two kinds never share an id.
 */
export type TaskRoundPhase = "pre-run" | "post-run";

const TASK_ROUND_FLAG = 1n << 63n;
const POST_RUN_FLAG = 1n << 62n;
const TASK_ID_MASK = (1n << 32n) - 1n;
/** Attempts per task and phase a verifier serves; more would only let an executor farm verdicts. */
export const MAX_TASK_ROUND_ATTEMPTS = 4;

export interface TaskRoundParts {
  taskId: bigint;
  phase: TaskRoundPhase;
  attempt: number;
}

export function taskRoundSequence({ taskId, phase, attempt }: TaskRoundParts): bigint {
  if (taskId <= 0n || taskId > TASK_ID_MASK) throw new ProtocolError("ROUND_FIELD_RANGE", `task id ${taskId} does not fit a task round (1..2^32-1)`);
  if (!Number.isInteger(attempt) || attempt < 0 || attempt >= MAX_TASK_ROUND_ATTEMPTS) {
    throw new ProtocolError("ROUND_FIELD_RANGE", `task round attempt ${attempt} is outside 0..${MAX_TASK_ROUND_ATTEMPTS - 1}`);
  }
  return TASK_ROUND_FLAG | (phase === "post-run" ? POST_RUN_FLAG : 0n) | (BigInt(attempt) << 32n) | taskId;
}

/** The task round a sequence encodes, or null for a scheduled round (or a malformed one). */
export function parseTaskRoundSequence(sequence: bigint): TaskRoundParts | null {
  if ((sequence & TASK_ROUND_FLAG) === 0n) return null;
  const taskId = sequence & TASK_ID_MASK;
  const attempt = (sequence >> 32n) & ((1n << 30n) - 1n);
  if (taskId === 0n || attempt >= BigInt(MAX_TASK_ROUND_ATTEMPTS)) return null;
  return { taskId, phase: (sequence & POST_RUN_FLAG) === 0n ? "pre-run" : "post-run", attempt: Number(attempt) };
}
