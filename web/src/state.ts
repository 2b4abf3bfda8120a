/** What the page knows: where it reads from, and the connected wallet (if any). */
import type { Account, Address, Chain, Transport, WalletClient } from "viem";
import type { ChainConnection } from "../../offchain/chain/client.js";
import type { DeploymentFile } from "../../offchain/chain/deployment-file.js";
import type { AuditTarget } from "../../offchain/chain/reads.js";

export interface AppState {
  rpc: string;
  deployment: DeploymentFile | null;
  conn: ChainConnection | null;
  target: AuditTarget | null;
  selectedNode: bigint | null;
  wallet: { address: Address; client: WalletClient<Transport, Chain, Account> } | null;
}

export const state: AppState = {
  rpc: "http://127.0.0.1:8545",
  deployment: null,
  conn: null,
  target: null,
  selectedNode: null,
  wallet: null,
};
