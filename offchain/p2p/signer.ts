/**
 * The part of a gateway account the P2P layer uses; a viem LocalAccount fits, and so can a
 * TPM- or wallet-backed signer that implements these two calls.
 */
import type { Address, Hex, TypedDataDefinition } from "viem";
import type { peerBindingTypes } from "./binding.js";

export interface GatewaySigner {
  address: Address;
  signMessage(args: { message: { raw: Hex | Uint8Array } }): Promise<Hex>;
  signTypedData(args: TypedDataDefinition<typeof peerBindingTypes, "PeerBinding">): Promise<Hex>;
}
