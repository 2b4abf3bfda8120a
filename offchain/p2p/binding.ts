/**
 * The proof-of-trust binding: a gateway's registered Ethereum key signs (EIP-712) the
 * libp2p PeerId it uses, so a connection can be tied to a NodeRegistry entry. The binding
 * names the chain and expires, so a leaked binding is void elsewhere and later.
 *
 * Wire form: UTF-8 JSON of `SignedPeerBinding` with bigints as decimal strings.
 */
import { getAddress, isAddress, isHex, recoverTypedDataAddress, type Address, type Hex } from "viem";
import { P2pError, P2pErrorCode } from "./errors.js";
import type { GatewaySigner } from "./signer.js";

export const BINDING_DOMAIN_NAME = "trustmesh peer binding";
export const BINDING_DOMAIN_VERSION = "1";
export const MAX_BINDING_BYTES = 4096;

export const peerBindingTypes = {
  PeerBinding: [
    { name: "peerId", type: "string" },
    { name: "nodeId", type: "uint64" },
    { name: "chainId", type: "uint256" },
    { name: "expiry", type: "uint64" },
  ],
} as const;

export interface PeerBinding {
  peerId: string;
  nodeId: bigint;
  chainId: bigint;
  /** Unix seconds. */
  expiry: bigint;
}

export interface SignedPeerBinding extends PeerBinding {
  gateway: Address;
  signature: Hex;
}

export function peerBindingDomain(chainId: bigint) {
  return { name: BINDING_DOMAIN_NAME, version: BINDING_DOMAIN_VERSION, chainId } as const;
}

export async function signPeerBinding(signer: GatewaySigner, binding: PeerBinding): Promise<SignedPeerBinding> {
  const signature = await signer.signTypedData({
    domain: peerBindingDomain(binding.chainId),
    types: peerBindingTypes,
    primaryType: "PeerBinding",
    message: binding,
  });
  return { ...binding, gateway: getAddress(signer.address), signature };
}

export function encodeBinding(b: SignedPeerBinding): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      peerId: b.peerId,
      nodeId: b.nodeId.toString(),
      chainId: b.chainId.toString(),
      expiry: b.expiry.toString(),
      gateway: b.gateway,
      signature: b.signature,
    }),
  );
}

function decimal(v: unknown, name: string): bigint {
  if (typeof v !== "string" || !/^[0-9]{1,78}$/.test(v)) {
    throw new P2pError(P2pErrorCode.BindingMalformed, `binding field ${name} is not a decimal string`);
  }
  return BigInt(v);
}

/** Parse a peer's binding bytes. Throws P2pError(BindingMalformed) on any shape problem. */
export function decodeBinding(bytes: Uint8Array): SignedPeerBinding {
  if (bytes.length > MAX_BINDING_BYTES) throw new P2pError(P2pErrorCode.BindingMalformed, `binding of ${bytes.length} bytes is too large`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new P2pError(P2pErrorCode.BindingMalformed, "binding is not UTF-8 JSON", { cause });
  }
  if (typeof json !== "object" || json === null) throw new P2pError(P2pErrorCode.BindingMalformed, "binding is not an object");
  const o = json as Record<string, unknown>;
  if (typeof o.peerId !== "string" || o.peerId.length === 0 || o.peerId.length > 128) {
    throw new P2pError(P2pErrorCode.BindingMalformed, "binding peerId missing");
  }
  if (typeof o.gateway !== "string" || !isAddress(o.gateway, { strict: false })) {
    throw new P2pError(P2pErrorCode.BindingMalformed, "binding gateway is not an address");
  }
  if (typeof o.signature !== "string" || !isHex(o.signature) || o.signature.length !== 132) {
    throw new P2pError(P2pErrorCode.BindingMalformed, "binding signature is not 65 bytes of hex");
  }
  return {
    peerId: o.peerId,
    nodeId: decimal(o.nodeId, "nodeId"),
    chainId: decimal(o.chainId, "chainId"),
    expiry: decimal(o.expiry, "expiry"),
    gateway: getAddress(o.gateway),
    signature: o.signature,
  };
}

export interface BindingCheck {
  /** The PeerId the connection authenticated (Noise), as a string. */
  remotePeer: string;
  chainId: bigint;
  /** Unix seconds. */
  now: bigint;
}

/**
 * Checks the binding's own claims: it names this connection's peer and this chain, has not
 * expired, and was signed by the gateway it names. Registry standing is checked by the
 * caller. Throws P2pError(BindingInvalid) with the reason.
 */
export async function verifyBinding(b: SignedPeerBinding, check: BindingCheck): Promise<void> {
  const fail = (msg: string): never => {
    throw new P2pError(P2pErrorCode.BindingInvalid, msg, { metaMessages: [`peer: ${check.remotePeer}`, `gateway: ${b.gateway}`] });
  };
  if (b.peerId !== check.remotePeer) fail(`binding names peer ${b.peerId}, connection is from ${check.remotePeer}`);
  if (b.chainId !== check.chainId) fail(`binding is for chain ${b.chainId}, not ${check.chainId}`);
  if (b.expiry <= check.now) fail(`binding expired at ${b.expiry}`);
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({
      domain: peerBindingDomain(b.chainId),
      types: peerBindingTypes,
      primaryType: "PeerBinding",
      message: { peerId: b.peerId, nodeId: b.nodeId, chainId: b.chainId, expiry: b.expiry },
      signature: b.signature,
    });
  } catch (cause) {
    throw new P2pError(P2pErrorCode.BindingInvalid, "binding signature does not recover", { cause });
  }
  if (getAddress(signer) !== b.gateway) fail(`binding signed by ${signer}, claims gateway ${b.gateway}`);
}
