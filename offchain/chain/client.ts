/**
 * viem clients for one RPC URL, with the chain id checked before anything is read or
 * signed: a vote or a transaction aimed at the wrong chain is refused here, not after
 * the wallet has signed it.
 */
import { createPublicClient, defineChain, http, type Chain, type PublicClient, type Transport } from "viem";
import { TrustmeshError } from "../core/errors.js";

/**
 * Gas for a call that runs an external call inside try/catch with a starvation guard
 * (Disputes' proof checks, TaskMarket's slash in settle). Its estimate is the least gas
 * with which it does not revert on the estimating node's state, and on the state of the
 * block it is mined in (other transactions landed meanwhile) that can starve the inner
 * call or run out: a quarter goes on top.
 */
export function withGasHeadroom(estimate: bigint): bigint {
  return (estimate * 5n) / 4n;
}

export class ChainClientError extends TrustmeshError {
  override name = "ChainClientError";
}

export const ChainClientErrorCode = {
  WrongChain: "CHAIN_WRONG_ID",
  Unreachable: "CHAIN_UNREACHABLE",
} as const;

export interface ConnectParameters {
  rpcUrl: string;
  /** The chain the caller means (from --chain-id or the deployment file); checked against eth_chainId. */
  expectedChainId?: number;
  /** Where expectedChainId came from, for the error message. */
  expectedFrom?: string;
  /** Polling interval for watchers (ms). */
  pollingInterval?: number;
}

export interface ChainConnection {
  rpcUrl: string;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
}

/** A viem Chain for an id we learned from the node (local and private chains have no registry entry). */
export function chainFor(id: number, rpcUrl: string): Chain {
  return defineChain({
    id,
    name: id === 31337 ? "Hardhat" : `chain-${id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** Connects to `rpcUrl`, reads eth_chainId and refuses a mismatch with the expected chain. */
export async function connect({ rpcUrl, expectedChainId, expectedFrom = "--chain-id", pollingInterval }: ConnectParameters): Promise<ChainConnection> {
  const probe = createPublicClient({ transport: http(rpcUrl, { retryCount: 1, timeout: 10_000 }) });
  let actual: number;
  try {
    actual = await probe.getChainId();
  } catch (cause) {
    throw new ChainClientError(ChainClientErrorCode.Unreachable, `cannot reach an Ethereum node at ${rpcUrl}`, {
      metaMessages: ["Check the RPC URL (--rpc, or the box in the dashboard; e.g. http://127.0.0.1:8545) and that the node is running."],
      cause,
    });
  }
  if (expectedChainId !== undefined && actual !== expectedChainId) {
    throw new ChainClientError(ChainClientErrorCode.WrongChain, `wrong chain: ${rpcUrl} is chain ${actual}, expected ${expectedChainId}`, {
      metaMessages: [`The expected id came from ${expectedFrom}. Nothing was signed or sent.`],
    });
  }
  const chain = chainFor(actual, rpcUrl);
  const publicClient = createPublicClient({ chain, transport: http(rpcUrl), pollingInterval: pollingInterval ?? 1_000 });
  return { rpcUrl, chain, publicClient };
}
