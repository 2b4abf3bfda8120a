/** The custom-error name (and args) of a reverted contract call, for logs; else the short message. */
import { BaseError, ContractFunctionRevertedError } from "viem";

export function revertReason(e: unknown): string {
  if (e instanceof BaseError) {
    const revert = e.walk((x) => x instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) {
      const name = revert.data?.errorName ?? revert.reason ?? "reverted";
      const args = revert.data?.args?.map((a) => (typeof a === "bigint" ? a.toString() : String(a))).join(", ");
      return args ? `${name}(${args})` : name;
    }
    return e.shortMessage;
  }
  return e instanceof Error ? e.message : String(e);
}
