/**
 * The operator view: register a node and bond its stake with the injected wallet. The
 * wallet signs an EIP-2612 permit (eth_signTypedData_v4), then sends registerWithPermit;
 * the call is simulated first so a revert is explained before the wallet is asked to send.
 */
import type { Address } from "viem";
import { nodeRegistryAbi, trustTokenAbi } from "../../offchain/chain/artifacts.js";
import { permitTypedData, permitVrs } from "../../offchain/chain/permit.js";
import { buildRegistration, parseTokenAmount } from "../../offchain/cli/node-inputs.js";
import { say, formatTokens } from "./dom.js";
import { state } from "./state.js";
import { describeError } from "./wallet.js";

function field(form: HTMLFormElement, name: string): string | undefined {
  const v = (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null)?.value.trim();
  return v ? v : undefined;
}

export async function registerFromForm(form: HTMLFormElement): Promise<void> {
  const msg = "op-msg";
  const conn = state.conn;
  const dep = state.deployment;
  const w = state.wallet;
  if (!conn || !dep) return say(msg, "error", "Not connected to a chain with a TrustMesh deployment. Set the RPC URL above first.");
  if (!w) return say(msg, "error", "Connect a wallet first: the operator signs the stake permit and the registration.");
  try {
    const registry = dep.contracts.NodeRegistry;
    const pc = conn.publicClient;
    const [min, token] = await Promise.all([
      pc.readContract({ address: registry, abi: nodeRegistryAbi, functionName: "minStake" }),
      pc.readContract({ address: registry, abi: nodeRegistryAbi, functionName: "token" }),
    ]);
    const stakeText = field(form, "stake");
    const stake = stakeText ? parseTokenAmount(stakeText, "stake") : min;
    if (stake < min) return say(msg, "error", `Insufficient stake: ${formatTokens(stake)} is below the minimum of ${formatTokens(min)} tokens. Nothing was signed.`);
    const tier = Number(field(form, "tier") ?? "0");
    const reg = buildRegistration(
      {
        ...(field(form, "gateway") ? { gateway: field(form, "gateway") } : {}),
        ...(field(form, "vrfPublicKey") ? { vrfPublicKey: field(form, "vrfPublicKey") } : {}),
        ...(field(form, "akDigest") ? { akDigest: field(form, "akDigest") } : {}),
        ...(field(form, "ekCertDigest") ? { ekCertDigest: field(form, "ekCertDigest") } : {}),
        ...(field(form, "fingerprintRoot") ? { fingerprintRoot: field(form, "fingerprintRoot") } : {}),
        ...(field(form, "metadataCid") ? { metadataCid: field(form, "metadataCid") } : {}),
        tier,
      },
      stake,
      w.address,
    );
    const balance = await pc.readContract({ address: token, abi: trustTokenAbi, functionName: "balanceOf", args: [w.address] });
    if (balance < stake) return say(msg, "error", `Insufficient token balance: your wallet holds ${formatTokens(balance)}, the stake needs ${formatTokens(stake)}. Nothing was signed.`);
    const holder = await pc.readContract({ address: registry, abi: nodeRegistryAbi, functionName: "nodeOfGateway", args: [reg.gateway] });
    if (holder !== 0n) return say(msg, "error", `Gateway ${reg.gateway} already belongs to node ${holder}. Nothing was signed.`);

    say(msg, "info", "Sign the stake permit in your wallet (EIP-2612)…");
    const [domain, nonce, block] = await Promise.all([
      pc.readContract({ address: token, abi: trustTokenAbi, functionName: "eip712Domain" }),
      pc.readContract({ address: token, abi: trustTokenAbi, functionName: "nonces", args: [w.address] }),
      pc.getBlock(),
    ]);
    const deadline = block.timestamp + 3600n;
    const signature = await w.client.signTypedData({ account: w.address, ...permitTypedData({ domain, owner: w.address, spender: registry as Address, value: stake, nonce, deadline }) });
    const { v, r, s } = permitVrs(signature);
    say(msg, "info", "Checking the registration by simulation…");
    const { request } = await pc.simulateContract({ account: w.address, address: registry, abi: nodeRegistryAbi, functionName: "registerWithPermit", args: [reg, deadline, v, r, s] });
    say(msg, "info", "Confirm the registration transaction in your wallet…");
    const hash = await w.client.writeContract(request);
    say(msg, "info", `Waiting for ${hash} to be mined…`);
    const receipt = await pc.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") return say(msg, "error", `The registration reverted on chain (tx ${hash}).`);
    const logs = await pc.getContractEvents({ address: registry, abi: nodeRegistryAbi, eventName: "NodeRegistered", blockHash: receipt.blockHash, strict: true });
    const mine = logs.find((l) => l.transactionHash === hash);
    say(msg, "ok", `Registered node ${mine?.args.nodeId ?? "?"} with ${formatTokens(stake)} tokens staked (tx ${hash}).`);
  } catch (e) {
    say(msg, "error", `Registration failed: ${describeError(e)}`);
  }
}
