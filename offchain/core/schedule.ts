/**
 * When is each node attested? Constant, frequent and unpredictable: the round start times
 * of an epoch are drawn from the epoch seed (itself taken from the chain when the epoch
 * opens), as exponential gaps of a configured mean. Nobody - not the target's operator
 * either - can know them before the epoch opens, and every gateway computes the same times.
 * Pure: no clock, no I/O.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { encodeRoundId } from "./protocol.js";
import { ProtocolError } from "./protocol.js";

export interface ScheduleParams {
  /** 32-byte epoch seed from EpochClock. */
  seed: Uint8Array;
  epoch: bigint;
  node: bigint;
  /** Epoch start and length in milliseconds. */
  epochStartMs: number;
  epochLengthMs: number;
  /** Mean gap between two rounds for one node, in milliseconds. */
  meanIntervalMs: number;
  /** Upper bound of rounds per node and epoch (protects against a tiny mean). */
  maxRounds?: number;
}

export interface ScheduledRound {
  round: bigint;
  sequence: bigint;
  startMs: number;
}

/** A uniform draw in (0, 1] from 32 bytes: the top 53 bits, never exactly 0. */
function uniform(bytes: Uint8Array): number {
  let x = 0;
  for (let i = 0; i < 7; i++) x = x * 256 + (bytes[i] ?? 0);
  const top53 = Math.floor(x / 8); // 56 bits -> 53 bits
  return (top53 + 1) / 2 ** 53;
}

export function roundSchedule(p: ScheduleParams): ScheduledRound[] {
  if (p.seed.length !== 32) throw new ProtocolError("SEED_LENGTH", "epoch seed must be 32 bytes");
  if (!(p.meanIntervalMs > 0) || !(p.epochLengthMs > 0)) {
    throw new ProtocolError("SCHEDULE_PARAMS", "mean interval and epoch length must be positive");
  }
  const maxRounds = p.maxRounds ?? 1024;
  const out: ScheduledRound[] = [];
  let t = 0;
  for (let seq = 0n; out.length < maxRounds; seq++) {
    const material = new Uint8Array(32 + 8 + 8);
    material.set(p.seed, 0);
    new DataView(material.buffer).setBigUint64(32, p.node);
    new DataView(material.buffer).setBigUint64(40, seq);
    t += -Math.log(uniform(sha256(material))) * p.meanIntervalMs;
    if (t >= p.epochLengthMs) break;
    out.push({
      sequence: seq,
      round: encodeRoundId({ epoch: p.epoch, node: p.node, sequence: seq }),
      startMs: p.epochStartMs + Math.floor(t),
    });
  }
  return out;
}

/**
 * Whether a failed round of a node is worth running again at `retryStartMs`. Not when the
 * node's next scheduled round starts first: that round attests the node afresh, and a retry
 * would only double the work at the moment it hurts most (rounds fail together when the
 * machines are overloaded; at 10 rounds/s offered to the 7-gateway devnet, retries made
 * most of the load and throughput fell to a third). A round with nothing scheduled after it
 * in its epoch (the next epoch's schedule is unknown until it opens) is retried. Every
 * gateway computes the same schedule, so all of them agree on which rounds are retried.
 */
export function retryWorthwhile(nextScheduledStartMs: number | undefined, retryStartMs: number): boolean {
  return nextScheduledStartMs === undefined || nextScheduledStartMs > retryStartMs;
}
