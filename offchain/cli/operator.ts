/**
 * Operator operations with their pre-flight checks. Each check reads the chain and fails
 * with a typed error BEFORE anything is signed or sent: stake below the minimum,
 * token balance too low, allowance missing, gateway already taken.
 */
import type { Address, Hex } from "viem";
import { permitTypedData, permitVrs } from "../chain/permit.js";
import type { ChainConnection } from "../chain/client.js";
import type { DeploymentFile } from "../chain/deployment-file.js";
import { signTypedDataWith, type Signer } from "../chain/signers.js";
import { nodeRegistryAbi, trustTokenAbi } from "../chain/artifacts.js";
import type { Progress } from "./render.js";
import { formatUnits18 } from "./render.js";
import { sendChecked, TxError, TxErrorCode } from "./tx.js";
import type { Registration } from "./node-inputs.js";

export interface OperatorContext {
  conn: ChainConnection;
  deployment: DeploymentFile;
  signer: Signer;
  progress: Progress;
}


async function tokenAddress(ctx: OperatorContext): Promise<Address> {
  return ctx.conn.publicClient.readContract({ address: ctx.deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "token" });
}

export async function minStake(ctx: Pick<OperatorContext, "conn" | "deployment">): Promise<bigint> {
  return ctx.conn.publicClient.readContract({ address: ctx.deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName: "minStake" });
}

async function checkBalance(ctx: OperatorContext, token: Address, amount: bigint): Promise<void> {
  const bal = await ctx.conn.publicClient.readContract({ address: token, abi: trustTokenAbi, functionName: "balanceOf", args: [ctx.signer.address] });
  if (bal < amount) {
    throw new TxError(TxErrorCode.InsufficientBalance, `insufficient token balance: ${ctx.signer.address} holds ${formatUnits18(bal)}, needs ${formatUnits18(amount)}`, {
      metaMessages: ["Nothing was signed or sent."],
    });
  }
}

/** registerWithPermit: the stake's EIP-2612 permit and the registration in one transaction. */
export async function registerWithPermit(ctx: OperatorContext, reg: Registration, deadlineSeconds = 3600): Promise<{ nodeId: bigint; hash: Hex }> {
  const { publicClient } = ctx.conn;
  const registry = ctx.deployment.contracts.NodeRegistry;
  ctx.progress.step("checking stake, balance and gateway");
  const [min, token, holder] = await Promise.all([
    minStake(ctx),
    tokenAddress(ctx),
    publicClient.readContract({ address: registry, abi: nodeRegistryAbi, functionName: "nodeOfGateway", args: [reg.gateway] }),
  ]);
  if (reg.stake < min) {
    ctx.progress.fail();
    throw new TxError(TxErrorCode.InsufficientStake, `insufficient stake: ${formatUnits18(reg.stake)} is below the minimum ${formatUnits18(min)}`, {
      metaMessages: ["Raise --stake. Nothing was signed or sent."],
    });
  }
  if (holder !== 0n) {
    ctx.progress.fail();
    throw new TxError(TxErrorCode.WouldRevert, `gateway ${reg.gateway} already belongs to node ${holder}`, { metaMessages: ["Nothing was signed or sent."] });
  }
  await checkBalance(ctx, token, reg.stake);

  ctx.progress.step("signing the stake permit (EIP-2612)");
  const [domain, nonce, block] = await Promise.all([
    publicClient.readContract({ address: token, abi: trustTokenAbi, functionName: "eip712Domain" }),
    publicClient.readContract({ address: token, abi: trustTokenAbi, functionName: "nonces", args: [ctx.signer.address] }),
    publicClient.getBlock(),
  ]);
  const deadline = block.timestamp + BigInt(deadlineSeconds);
  const signature = await signTypedDataWith(
    ctx.signer,
    ctx.conn.chain,
    ctx.conn.rpcUrl,
    permitTypedData({ domain, owner: ctx.signer.address, spender: registry, value: reg.stake, nonce, deadline }),
  );
  const { v: vNum, r, s } = permitVrs(signature);
  const { hash, receipt } = await sendChecked({
    conn: ctx.conn,
    signer: ctx.signer,
    address: registry,
    abi: nodeRegistryAbi,
    functionName: "registerWithPermit",
    args: [reg, deadline, vNum, r, s],
    label: "registerWithPermit",
    progress: ctx.progress,
  });
  const logs = await publicClient.getContractEvents({ address: registry, abi: nodeRegistryAbi, eventName: "NodeRegistered", blockHash: receipt.blockHash, strict: true });
  const mine = logs.find((l) => l.transactionHash === hash);
  if (!mine) throw new TxError(TxErrorCode.Reverted, `registration mined in ${hash} but no NodeRegistered event was found`);
  return { nodeId: mine.args.nodeId, hash };
}

/** Adds stake from an existing allowance; with `approve`, first sends the approval itself. */
export async function topUp(ctx: OperatorContext, nodeId: bigint, amount: bigint, approve: boolean): Promise<Hex> {
  const { publicClient } = ctx.conn;
  const registry = ctx.deployment.contracts.NodeRegistry;
  ctx.progress.step("checking balance and allowance");
  const token = await tokenAddress(ctx);
  await checkBalance(ctx, token, amount);
  const allowance = await publicClient.readContract({ address: token, abi: trustTokenAbi, functionName: "allowance", args: [ctx.signer.address, registry] });
  if (allowance < amount) {
    if (!approve) {
      ctx.progress.fail();
      throw new TxError(TxErrorCode.InsufficientAllowance, `insufficient allowance: the registry may spend ${formatUnits18(allowance)} of your tokens, the top-up needs ${formatUnits18(amount)}`, {
        metaMessages: ["Re-run with --approve to send the approval first. Nothing was signed or sent."],
      });
    }
    await sendChecked({ conn: ctx.conn, signer: ctx.signer, address: token, abi: trustTokenAbi, functionName: "approve", args: [registry, amount], label: "approve", progress: ctx.progress });
  }
  const { hash } = await sendChecked({ conn: ctx.conn, signer: ctx.signer, address: registry, abi: nodeRegistryAbi, functionName: "topUp", args: [nodeId, amount], label: "topUp", progress: ctx.progress });
  return hash;
}

export async function simpleNodeTx(ctx: OperatorContext, functionName: "requestExit" | "withdraw", nodeId: bigint): Promise<Hex> {
  const { hash } = await sendChecked({ conn: ctx.conn, signer: ctx.signer, address: ctx.deployment.contracts.NodeRegistry, abi: nodeRegistryAbi, functionName, args: [nodeId], label: functionName, progress: ctx.progress });
  return hash;
}

export async function rotateKeys(ctx: OperatorContext, nodeId: bigint, gateway: Address | undefined, vrfKey: readonly [bigint, bigint] | undefined): Promise<Hex> {
  const zeroAddr = "0x0000000000000000000000000000000000000000" as Address;
  const { hash } = await sendChecked({
    conn: ctx.conn,
    signer: ctx.signer,
    address: ctx.deployment.contracts.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "rotateKeys",
    args: [nodeId, gateway ?? zeroAddr, vrfKey ?? [0n, 0n]],
    label: "rotateKeys",
    progress: ctx.progress,
  });
  return hash;
}
