/**
 * The boot nonce of the HPC's power cycle after a task: the "fresh boot nonce" of the
 * post-run cleanup evidence (ARCHITECTURE, digital capsules; docs/task-protocol.md 5.1).
 *
 * The executor's gateway PXE-boots its HPC once the result is on chain, with this nonce
 * baked into the image; the boot measures it first into PCR 11. PCR 11 cannot be reset
 * without resetting the TPM, so a quote whose PCR 11 event log starts with this nonce
 * proves the machine was reset after the result was submitted: the block hash of the
 * submission cannot be known before it is mined. The run's plaintext lived in the memory of
 * an earlier boot, and the task key the HPC held died with it (it is made per task, in
 * memory, and the broker releases no key once a result is in).
 *
 * Every verifier derives the same nonce from chain facts alone. Pure.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { ProtocolError } from "./protocol.js";
import { bigIntToBytes, hexToBytes } from "./vrf/encoding.js";

export const POST_RUN_BOOT_DOMAIN = "trustmesh/post-run-boot/1";

export interface PostRunBootFacts {
  chainId: number | bigint;
  /** The TaskMarket the task lives in (20-byte address, hex). */
  taskMarket: string;
  taskId: bigint;
  /** Hash of the block holding the executor's ResultSubmitted event. */
  submitBlockHash: string;
}

function fixedHex(hex: string, bytes: number, what: string): Uint8Array {
  if (!new RegExp(`^(?:0x)?[0-9a-fA-F]{${bytes * 2}}$`).test(hex)) throw new ProtocolError("ROUND_FIELD_RANGE", `${what} must be ${bytes} bytes of hex`);
  return hexToBytes(hex, what);
}

function uint256(v: bigint, what: string): Uint8Array {
  if (v < 0n || v >= 1n << 256n) throw new ProtocolError("ROUND_FIELD_RANGE", `${what} does not fit 256 bits`);
  return bigIntToBytes(v, 32);
}

/** sha256(domain || chainId || taskMarket || taskId || submitBlockHash), 32 bytes. */
export function postRunBootNonce(f: PostRunBootFacts): Uint8Array {
  const parts = [
    new TextEncoder().encode(POST_RUN_BOOT_DOMAIN),
    uint256(BigInt(f.chainId), "chain id"),
    fixedHex(f.taskMarket, 20, "task market address"),
    uint256(f.taskId, "task id"),
    fixedHex(f.submitBlockHash, 32, "submission block hash"),
  ];
  const h = sha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}
