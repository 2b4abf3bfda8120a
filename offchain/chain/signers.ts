/**
 * Where a signing key lives. Three sources, one `Signer` union:
 * - a Web3 Secret Storage v3 keystore file (password from a file, the environment or a prompt),
 * - a raw private key in an environment variable (TRUSTMESH_PRIVATE_KEY by default),
 * - a hardware or remote signer reached through an EIP-1193 JSON-RPC URL (Frame, a
 *   hardware-wallet bridge, Clef in eth_ mode, or a dev node's unlocked accounts): the key
 *   never leaves it; we send eth_accounts, eth_signTypedData_v4 and eth_sendTransaction.
 *
 * The key itself is kept inside viem's LocalAccount and never printed or logged.
 */
import { createWalletClient, custom, getAddress, http, isAddress, isHex, type Address, type Chain, type EIP1193RequestFn, type Hex, type LocalAccount, type TypedDataDefinition, type WalletClient, type Account, type Transport } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { TrustmeshError } from "../core/errors.js";
import { decryptKeystore, readKeystoreFile } from "./keystore.js";

export class SignerError extends TrustmeshError {
  override name = "SignerError";
}

export const DEFAULT_KEY_ENV = "TRUSTMESH_PRIVATE_KEY";

/** How the user asked us to find a key: exactly one of these. */
export type SignerSource =
  | { kind: "keystore"; path: string; password: string }
  | { kind: "env"; variable?: string; env?: NodeJS.ProcessEnv }
  | { kind: "remote"; url: string; address?: Address };

/** An EIP-1193 provider (the `request` half of window.ethereum). */
export interface Eip1193Provider {
  request: EIP1193RequestFn;
}

export type Signer =
  | { kind: "local"; source: "keystore" | "env"; address: Address; account: LocalAccount }
  | { kind: "remote"; url: string; address: Address; provider: Eip1193Provider };

interface JsonRpcResponse {
  jsonrpc: "2.0";
  id: number;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** An error shaped like EIP-1193's ProviderRpcError so viem maps the code to its RPC errors. */
class ProviderRpcError extends Error {
  override name = "ProviderRpcError";
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** A minimal EIP-1193 provider over JSON-RPC HTTP, so a remote signer is used like a wallet. */
export function jsonRpcProvider(url: string, fetchFn: typeof fetch = fetch): Eip1193Provider {
  let id = 0;
  const request = async ({ method, params }: { method: string; params?: unknown }): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetchFn(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
      });
    } catch (cause) {
      throw new SignerError("SIGNER_UNREACHABLE", `remote signer ${url} is unreachable`, { cause });
    }
    if (!res.ok) throw new SignerError("SIGNER_HTTP", `remote signer ${url} answered HTTP ${res.status}`);
    const body = (await res.json()) as JsonRpcResponse;
    if (body.error) throw new ProviderRpcError(body.error.code, body.error.message, body.error.data);
    return body.result;
  };
  return { request: request as EIP1193RequestFn };
}

function parsePrivateKey(raw: string, where: string): Hex {
  const key = (raw.trim().startsWith("0x") ? raw.trim() : `0x${raw.trim()}`) as Hex;
  if (!isHex(key) || key.length !== 66) {
    // Never echo the value: it may be a real key with a typo.
    throw new SignerError("SIGNER_BAD_KEY", `${where} does not hold a 32-byte hex private key`);
  }
  return key;
}

/** Resolves a SignerSource into a usable Signer (decrypts, or asks the remote signer for its account). */
export async function loadSigner(source: SignerSource): Promise<Signer> {
  switch (source.kind) {
    case "keystore": {
      const ks = await readKeystoreFile(source.path);
      const key = await decryptKeystore(ks, source.password);
      const account = privateKeyToAccount(key);
      return { kind: "local", source: "keystore", address: account.address, account };
    }
    case "env": {
      const variable = source.variable ?? DEFAULT_KEY_ENV;
      const raw = (source.env ?? process.env)[variable];
      if (!raw) throw new SignerError("SIGNER_NO_KEY", `environment variable ${variable} is not set`);
      const account = privateKeyToAccount(parsePrivateKey(raw, `environment variable ${variable}`));
      return { kind: "local", source: "env", address: account.address, account };
    }
    case "remote": {
      const provider = jsonRpcProvider(source.url);
      const accounts = (await provider.request({ method: "eth_accounts" })) as string[];
      if (!Array.isArray(accounts) || accounts.length === 0) {
        throw new SignerError("SIGNER_NO_ACCOUNTS", `remote signer ${source.url} exposes no accounts`, {
          metaMessages: ["Unlock the device or approve the connection, then retry."],
        });
      }
      const wanted = source.address;
      const match = wanted ? accounts.find((a) => a.toLowerCase() === wanted.toLowerCase()) : accounts[0];
      if (!match || !isAddress(match)) {
        throw new SignerError("SIGNER_ACCOUNT_MISSING", `remote signer ${source.url} does not hold ${wanted ?? "an account"}`, {
          metaMessages: [`It offers: ${accounts.join(", ")}`],
        });
      }
      return { kind: "remote", url: source.url, address: getAddress(match), provider };
    }
  }
}

/**
 * A wallet client that signs with `signer`. A local key signs here and broadcasts through
 * `rpcUrl`; a remote signer receives eth_sendTransaction / eth_signTypedData_v4 itself.
 */
export function signerWalletClient(signer: Signer, chain: Chain, rpcUrl: string): WalletClient<Transport, Chain, Account> {
  if (signer.kind === "local") {
    return createWalletClient({ account: signer.account, chain, transport: http(rpcUrl) });
  }
  return createWalletClient({ account: signer.address, chain, transport: custom(signer.provider) });
}

/** Signs EIP-712 typed data with either kind of signer. */
export async function signTypedDataWith(
  signer: Signer,
  chain: Chain,
  rpcUrl: string,
  typedData: TypedDataDefinition,
): Promise<Hex> {
  if (signer.kind === "local") return signer.account.signTypedData(typedData);
  return signerWalletClient(signer, chain, rpcUrl).signTypedData(typedData);
}

/** A one-line description safe to print: kind and address, never key material. */
export function describeSigner(signer: Signer): string {
  return signer.kind === "local" ? `${signer.address} (${signer.source})` : `${signer.address} (remote ${signer.url})`;
}
