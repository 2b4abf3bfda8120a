/**
 * The part of a gateway account the P2P layer uses; a viem LocalAccount fits, and so can a
 * TPM- or wallet-backed signer that implements these two calls.
 */
import { hashMessage, hashTypedData, hexToBytes, type Address, type Hex, type TypedDataDefinition } from "viem";
import { addressOfSecretKey, signHash } from "../core/crypto/index.js";
import type { peerBindingTypes } from "./binding.js";

export interface GatewaySigner {
  address: Address;
  signMessage(args: { message: { raw: Hex | Uint8Array } }): Promise<Hex>;
  signTypedData(args: TypedDataDefinition<typeof peerBindingTypes, "PeerBinding">): Promise<Hex>;
}

/**
 * A GatewaySigner over the raw secret key on offchain/core/crypto: the same signatures as
 * viem's privateKeyToAccount (RFC 6979, low s, r||s||v with v = 27/28), byte for byte, at
 * about a twentieth of the cost. Every envelope a gateway publishes is signed, so this is on
 * the latency path of every message.
 */
export function secretKeyGatewaySigner(secretKey: Hex): GatewaySigner {
  const sk = hexToBytes(secretKey);
  const address = addressOfSecretKey(sk);
  return {
    address,
    signMessage: async ({ message }) => signHash(sk, hexToBytes(hashMessage(message))),
    signTypedData: async (args) => signHash(sk, hexToBytes(hashTypedData(args))),
  };
}
