/**
 * A test EIP-1193 wallet for the browser tests: the page's window.ethereum forwards each
 * request to Node through page.exposeFunction, where a viem local account signs typed
 * data and transactions; everything else goes to the chain's RPC. The account can be
 * switched between steps (like choosing another account in a wallet).
 */
import type { BrowserContext } from "playwright-core";
import { createWalletClient, http, type Chain, type Hex, type TypedData } from "viem";
import { privateKeyToAccount } from "viem/accounts";

interface Req {
  method: string;
  params?: unknown[];
}

type TypedJson = { domain: Record<string, unknown>; types: Record<string, { name: string; type: string }[]>; primaryType: string; message: Record<string, unknown> };

/** JSON typed data carries numbers as strings; give viem bigints for the integer fields. */
function reviveTyped(t: TypedJson): TypedJson {
  const { EIP712Domain: _omit, ...types } = t.types;
  const revive = (typeName: string, value: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const f of types[typeName] ?? []) {
      const v = value[f.name];
      if (/^u?int\d*$/.test(f.type)) out[f.name] = BigInt(v as string | number);
      else if (types[f.type]) out[f.name] = revive(f.type, v as Record<string, unknown>);
      else out[f.name] = v;
    }
    return out;
  };
  const domain = { ...t.domain, ...(t.domain.chainId !== undefined ? { chainId: Number(t.domain.chainId) } : {}) };
  return { domain, types, primaryType: t.primaryType, message: revive(t.primaryType, t.message) };
}

export class TestWallet {
  private key: Hex;
  readonly requests: string[] = [];

  constructor(
    private readonly rpcUrl: string,
    private readonly chain: Chain,
    key: Hex,
  ) {
    this.key = key;
  }

  useKey(key: Hex): void {
    this.key = key;
  }

  get address() {
    return privateKeyToAccount(this.key).address;
  }

  private async handle({ method, params = [] }: Req): Promise<unknown> {
    const account = privateKeyToAccount(this.key);
    this.requests.push(method);
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [account.address];
      case "eth_chainId":
        return `0x${this.chain.id.toString(16)}`;
      case "eth_signTypedData_v4": {
        const [from, json] = params as [string, string];
        if (from.toLowerCase() !== account.address.toLowerCase()) throw Object.assign(new Error("unknown account"), { code: 4100 });
        const t = reviveTyped(JSON.parse(json) as TypedJson);
        return account.signTypedData(t as unknown as Parameters<typeof account.signTypedData<TypedData, string>>[0]);
      }
      case "eth_sendTransaction": {
        const tx = params[0] as { to: Hex; data?: Hex; value?: Hex; gas?: Hex };
        const wallet = createWalletClient({ account, chain: this.chain, transport: http(this.rpcUrl) });
        return wallet.sendTransaction({ to: tx.to, data: tx.data, ...(tx.value ? { value: BigInt(tx.value) } : {}), ...(tx.gas ? { gas: BigInt(tx.gas) } : {}) });
      }
      default: {
        const r = await fetch(this.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
        const body = (await r.json()) as { result?: unknown; error?: { code: number; message: string } };
        if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code });
        return body.result;
      }
    }
  }

  /** Installs window.ethereum in every page of the context. */
  async install(context: BrowserContext): Promise<void> {
    await context.exposeFunction("__tmWallet", async (json: string) => {
      try {
        return JSON.stringify({ result: await this.handle(JSON.parse(json) as Req) });
      } catch (e) {
        const err = e as { code?: number; shortMessage?: string; message?: string };
        return JSON.stringify({ error: { code: err.code ?? -32603, message: err.shortMessage ?? err.message ?? String(e) } });
      }
    });
    // A string, not a function: tsx compiles functions with helpers (__name) that do not
    // exist in the page.
    await context.addInitScript(`
      window.ethereum = {
        isTestWallet: true,
        request: async (args) => {
          const out = JSON.parse(await window.__tmWallet(JSON.stringify(args)));
          if (out.error) throw Object.assign(new Error(out.error.message), { code: out.error.code });
          return out.result;
        },
        on: () => {},
      };
    `);
  }
}
