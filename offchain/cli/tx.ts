/**
 * Every state-changing command goes through `sendChecked`: simulate first (a revert
 * becomes a clear error and nothing is sent), then send through the signer, then wait
 * for the receipt with progress on stderr.
 */
import { BaseError, ContractFunctionRevertedError, type Abi, type Address, type Hex, type TransactionReceipt } from "viem";
import { TrustmeshError } from "../core/errors.js";
import type { ChainConnection } from "../chain/client.js";
import { signerWalletClient, type Signer } from "../chain/signers.js";
import type { Progress } from "./render.js";

export class TxError extends TrustmeshError {
  override name = "TxError";
}

export const TxErrorCode = {
  WouldRevert: "TX_WOULD_REVERT",
  InsufficientStake: "TX_INSUFFICIENT_STAKE",
  InsufficientAllowance: "TX_INSUFFICIENT_ALLOWANCE",
  InsufficientBalance: "TX_INSUFFICIENT_BALANCE",
  Reverted: "TX_REVERTED",
} as const;

function fmtArgs(args: readonly unknown[] | undefined): string {
  return (args ?? []).map((a) => (typeof a === "bigint" ? a.toString() : String(a))).join(", ");
}

/** Turns a simulation failure into a TrustmeshError naming the contract's custom error. */
export function revertError(e: unknown, label: string): TrustmeshError {
  if (e instanceof TrustmeshError) return e;
  if (e instanceof BaseError) {
    const reverted = e.walk((x) => x instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName ?? reverted.reason ?? "unknown reason";
      const args = reverted.data?.args as readonly unknown[] | undefined;
      const code =
        name === "NodeRegistryStakeBelowMinimum"
          ? TxErrorCode.InsufficientStake
          : name === "ERC20InsufficientAllowance"
            ? TxErrorCode.InsufficientAllowance
            : name === "ERC20InsufficientBalance"
              ? TxErrorCode.InsufficientBalance
              : TxErrorCode.WouldRevert;
      return new TxError(code, `${label} would fail: ${name}(${fmtArgs(args)})`, {
        metaMessages: ["Checked by simulation; nothing was sent."],
        cause: e,
      });
    }
    return new TxError(TxErrorCode.WouldRevert, `${label} would fail: ${e.shortMessage}`, {
      metaMessages: ["Checked by simulation; nothing was sent."],
      cause: e,
    });
  }
  return new TxError(TxErrorCode.WouldRevert, `${label} would fail: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

export interface SendCheckedParameters {
  conn: ChainConnection;
  signer: Signer;
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  label: string;
  progress: Progress;
}

export interface SendCheckedReturnType {
  hash: Hex;
  receipt: TransactionReceipt;
}

export async function sendChecked(p: SendCheckedParameters): Promise<SendCheckedReturnType> {
  const account = p.signer.kind === "local" ? p.signer.account : p.signer.address;
  p.progress.step(`simulating ${p.label}`);
  let request: Parameters<ReturnType<typeof signerWalletClient>["writeContract"]>[0];
  try {
    const sim = await p.conn.publicClient.simulateContract({ account, address: p.address, abi: p.abi, functionName: p.functionName, args: p.args });
    request = sim.request as typeof request;
  } catch (e) {
    p.progress.fail();
    throw revertError(e, p.label);
  }
  const wallet = signerWalletClient(p.signer, p.conn.chain, p.conn.rpcUrl);
  p.progress.step(`sending ${p.label}`);
  const hash = await wallet.writeContract(request);
  p.progress.step(`waiting for ${p.label} to be mined (${hash})`);
  const receipt = await p.conn.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") {
    p.progress.fail();
    throw new TxError(TxErrorCode.Reverted, `${p.label} reverted on chain in tx ${hash}`);
  }
  p.progress.done(`${p.label} mined in block ${receipt.blockNumber}`);
  return { hash, receipt };
}
