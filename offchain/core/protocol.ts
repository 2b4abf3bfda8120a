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
