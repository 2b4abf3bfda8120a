/**
 * Key claims (docs/task-protocol.md section 4): a candidate executor asks the key broker
 * for the task key with its VRF proof and a fresh X25519 key of its HPC, signed by its
 * gateway key with EIP-712 in the TaskMarket domain (so a claim for one chain or market
 * is void on another). Claims never go on chain; only the winner's proof does, with the
 * result.
 */
import { recoverTypedDataAddress, type Address, type Hex, type LocalAccount } from "viem";

export interface KeyClaim {
  taskId: bigint;
  node: bigint;
  /** ECVRF proof, 81-byte encoding, 0x-hex. */
  proof: Hex;
  /** The HPC's ephemeral X25519 public key for this task, 0x-hex (32 bytes). */
  ephemeralKey: Hex;
  /** The node's gateway signature over the four fields above. */
  signature: Hex;
}

export const TASKMARKET_DOMAIN_NAME = "TrustMesh TaskMarket";
export const TASKMARKET_DOMAIN_VERSION = "1";

export interface ClaimDomain {
  chainId: number;
  taskMarket: Address;
}

export const keyClaimTypes = {
  TaskKeyClaim: [
    { name: "taskId", type: "uint256" },
    { name: "node", type: "uint64" },
    { name: "proof", type: "bytes" },
    { name: "ephemeralKey", type: "bytes32" },
  ],
} as const;

function typed(d: ClaimDomain, c: Omit<KeyClaim, "signature">) {
  return {
    domain: { name: TASKMARKET_DOMAIN_NAME, version: TASKMARKET_DOMAIN_VERSION, chainId: BigInt(d.chainId), verifyingContract: d.taskMarket },
    types: keyClaimTypes,
    primaryType: "TaskKeyClaim" as const,
    message: { taskId: c.taskId, node: c.node, proof: c.proof, ephemeralKey: c.ephemeralKey },
  };
}

export async function signKeyClaim(account: LocalAccount, d: ClaimDomain, c: Omit<KeyClaim, "signature">): Promise<KeyClaim> {
  return { ...c, signature: await account.signTypedData(typed(d, c)) };
}

/** The gateway address that signed `c`, or null for a signature that does not recover. */
export async function keyClaimSigner(d: ClaimDomain, c: KeyClaim): Promise<Address | null> {
  try {
    return await recoverTypedDataAddress({ ...typed(d, c), signature: c.signature });
  } catch {
    return null;
  }
}

/** Shape check of a claim that arrived from elsewhere; null when fine, else why not. */
export function claimShapeProblem(c: KeyClaim): string | null {
  if (typeof c.taskId !== "bigint" || c.taskId <= 0n) return "taskId must be a positive integer";
  if (typeof c.node !== "bigint" || c.node <= 0n || c.node >= 1n << 64n) return "node must be a uint64 above 0";
  if (typeof c.proof !== "string" || !/^0x[0-9a-fA-F]{162}$/.test(c.proof)) return "proof must be 81 bytes of 0x-hex";
  if (typeof c.ephemeralKey !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(c.ephemeralKey)) return "ephemeralKey must be 32 bytes of 0x-hex";
  if (typeof c.signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(c.signature)) return "signature must be 65 bytes of 0x-hex";
  return null;
}
