/**
 * EIP-2612 permit typed data for the stake token, built from the token's own ERC-5267
 * `eip712Domain()` answer so name/version/chain are never guessed. Pure; shared by the
 * CLI and the web page.
 */
import { parseSignature, type Address, type Hex } from "viem";

/** The tuple returned by ERC-5267 `eip712Domain()`. */
export type Eip712DomainTuple = readonly [Hex, string, string, bigint, Address, Hex, readonly bigint[]];

export const permitTypes = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export interface PermitParameters {
  domain: Eip712DomainTuple;
  owner: Address;
  spender: Address;
  value: bigint;
  nonce: bigint;
  deadline: bigint;
}

export function permitTypedData({ domain, owner, spender, value, nonce, deadline }: PermitParameters) {
  return {
    domain: { name: domain[1], version: domain[2], chainId: domain[3], verifyingContract: domain[4] },
    types: permitTypes,
    primaryType: "Permit" as const,
    message: { owner, spender, value, nonce, deadline },
  };
}

/** (v, r, s) as `permit` and `registerWithPermit` take them. */
export function permitVrs(signature: Hex): { v: number; r: Hex; s: Hex } {
  const { r, s, v, yParity } = parseSignature(signature);
  return { v: v !== undefined ? Number(v) : yParity + 27, r, s };
}
