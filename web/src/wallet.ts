/**
 * The injected wallet (window.ethereum, EIP-1193). Every failure becomes a sentence a
 * person can act on: no wallet, request refused, wrong network, and so on.
 */
import { createWalletClient, custom, getAddress, type Address, type Chain, type EIP1193RequestFn, type WalletClient, type Transport, type Account } from "viem";

export interface InjectedProvider {
  request: EIP1193RequestFn;
  on?: (event: string, listener: (...args: unknown[]) => void) => void;
}

declare global {
  interface Window {
    ethereum?: InjectedProvider;
  }
}

export class WalletUiError extends Error {
  override name = "WalletUiError";
}

export function injectedProvider(): InjectedProvider {
  const eth = window.ethereum;
  if (!eth || typeof eth.request !== "function") {
    throw new WalletUiError("No browser wallet found. Install or enable an Ethereum wallet extension (EIP-1193), then reload.");
  }
  return eth;
}

/** Asks the wallet for accounts and checks it is on the dashboard's chain. */
export async function connectWallet(chain: Chain): Promise<{ address: Address; wallet: WalletClient<Transport, Chain, Account> }> {
  const eth = injectedProvider();
  let accounts: string[];
  try {
    accounts = (await eth.request({ method: "eth_requestAccounts" })) as string[];
  } catch (e) {
    throw new WalletUiError(`The wallet refused to connect: ${describeError(e)}`);
  }
  const first = accounts[0];
  if (!first) throw new WalletUiError("The wallet returned no account. Unlock it and try again.");
  const chainIdHex = (await eth.request({ method: "eth_chainId" })) as string;
  if (Number(chainIdHex) !== chain.id) {
    throw new WalletUiError(`The wallet is on chain ${Number(chainIdHex)} but this dashboard reads chain ${chain.id}. Switch networks in the wallet.`);
  }
  const address = getAddress(first);
  const wallet = createWalletClient({ account: address, chain, transport: custom(eth) });
  return { address, wallet };
}

/** One readable sentence from any error (viem errors carry shortMessage). */
export function describeError(e: unknown): string {
  if (typeof e === "object" && e !== null) {
    const o = e as { shortMessage?: string; message?: string; code?: number; metaMessages?: string[] };
    if (o.code === 4001) return "you rejected the request in the wallet";
    const base = o.shortMessage ?? o.message ?? String(e);
    const extra = (o.metaMessages ?? []).filter((l) => l.trim()).slice(0, 3).join(" ");
    return extra ? `${/[.!?]$/.test(base) ? base : `${base}.`} ${extra}` : base;
  }
  return String(e);
}
