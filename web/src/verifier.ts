/**
 * The verifier view: build a Vote, have the injected wallet sign it as EIP-712 typed data
 * (eth_signTypedData_v4, TrustBoard domain), and submit it with submitVote. Simulated
 * before the wallet is asked to send, so a refusal is explained in words.
 */
import { isHex, type Hex } from "viem";
import { epochClockAbi, scoringPolicyAbi, trustBoardAbi } from "../../offchain/chain/artifacts.js";
import { trustBoardDomain, voteTypes, type Vote } from "../../offchain/chain/eip712.js";
import { parseCid } from "../../offchain/cli/node-inputs.js";
import { encodeRoundId } from "../../offchain/core/protocol.js";
import { $, say } from "./dom.js";
import { state } from "./state.js";
import { describeError } from "./wallet.js";

class FormError extends Error {}

function val(form: HTMLFormElement, name: string): string {
  return ((form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null)?.value ?? "").trim();
}

function uint(form: HTMLFormElement, name: string, label: string): bigint {
  const v = val(form, name);
  if (!/^\d+$/.test(v)) throw new FormError(`${label} must be a whole number.`);
  return BigInt(v);
}

async function voteFromForm(form: HTMLFormElement): Promise<Vote> {
  const conn = state.conn!;
  const c = state.deployment!.contracts;
  const node = uint(form, "node", "Node id");
  const sequence = uint(form, "sequence", "Sequence");
  const epoch = val(form, "epoch")
    ? uint(form, "epoch", "Epoch")
    : c.EpochClock
      ? await conn.publicClient.readContract({ address: c.EpochClock, abi: epochClockAbi, functionName: "currentEpoch" })
      : (() => {
          throw new FormError("Epoch is required (the deployment names no EpochClock).");
        })();
  const score = Number(val(form, "score"));
  if (!Number.isInteger(score) || score < 0 || score > 255) throw new FormError("Score must be a whole number from 0 to 255.");
  const verdict = Number(val(form, "verdict"));
  if (!val(form, "evidenceCid")) throw new FormError("Evidence CID is required: the CID of the pinned evidence bundle.");
  const policyCid: Hex = val(form, "policyCid")
    ? parseCid(val(form, "policyCid"), "Policy CID")
    : await conn.publicClient.readContract({ address: c.ScoringPolicy, abi: scoringPolicyAbi, functionName: "activeCid", args: [epoch] });
  return { round: encodeRoundId({ epoch, node, sequence }), node, verdict, score, evidenceCid: parseCid(val(form, "evidenceCid"), "Evidence CID"), policyCid };
}

async function sign(vote: Vote): Promise<Hex> {
  const w = state.wallet!;
  const domain = trustBoardDomain(state.conn!.chain.id, state.deployment!.contracts.TrustBoard);
  return w.client.signTypedData({ account: w.address, domain, types: voteTypes, primaryType: "Vote", message: { ...vote } });
}

function ready(): boolean {
  if (!state.conn || !state.deployment) {
    say("vf-msg", "error", "Not connected to a chain with a TrustMesh deployment. Set the RPC URL above first.");
    return false;
  }
  if (!state.wallet) {
    say("vf-msg", "error", "Connect a wallet first: the verifier's gateway key signs the vote.");
    return false;
  }
  return true;
}

export async function signOnly(form: HTMLFormElement): Promise<void> {
  if (!ready()) return;
  try {
    const vote = await voteFromForm(form);
    say("vf-msg", "info", "Sign the vote in your wallet (EIP-712)…");
    const sig = await sign(vote);
    $("vote-signature").textContent = `round ${vote.round}\nsignature ${sig}`;
    say("vf-msg", "ok", "Vote signed. Anyone can relay it with the signature above, or press “Sign and submit”.");
  } catch (e) {
    say("vf-msg", "error", e instanceof FormError ? e.message : `Signing failed: ${describeError(e)}`);
  }
}

export async function signAndSubmit(form: HTMLFormElement): Promise<void> {
  if (!ready()) return;
  const pc = state.conn!.publicClient;
  const board = state.deployment!.contracts.TrustBoard;
  const w = state.wallet!;
  try {
    const vrfOutput = val(form, "vrfOutput") as Hex;
    if (!isHex(vrfOutput) || vrfOutput.length !== 66) throw new FormError("VRF output must be 32 bytes of hex (your VRF output for this round).");
    const vote = await voteFromForm(form);
    const rec = await pc.readContract({ address: board, abi: trustBoardAbi, functionName: "verdict", args: [vote.round] });
    if (rec.verdict !== 0) throw new FormError(`Round ${vote.round} already has a recorded verdict; a late vote would be refused. Nothing was signed.`);
    say("vf-msg", "info", "Sign the vote in your wallet (EIP-712)…");
    const sig = await sign(vote);
    $("vote-signature").textContent = `round ${vote.round}\nsignature ${sig}`;
    say("vf-msg", "info", "Checking the vote by simulation…");
    const { request } = await pc.simulateContract({ account: w.address, address: board, abi: trustBoardAbi, functionName: "submitVote", args: [vote, sig, vrfOutput] });
    say("vf-msg", "info", "Confirm the transaction in your wallet…");
    const hash = await w.client.writeContract(request);
    const receipt = await pc.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new FormError(`The vote reverted on chain (tx ${hash}).`);
    const recorded = await pc.getContractEvents({ address: board, abi: trustBoardAbi, eventName: "VerdictRecorded", blockHash: receipt.blockHash, strict: true });
    const counted = await pc.getContractEvents({ address: board, abi: trustBoardAbi, eventName: "VoteCounted", blockHash: receipt.blockHash, strict: true });
    const n = counted.find((l) => l.transactionHash === hash)?.args.count;
    say(
      "vf-msg",
      "ok",
      recorded.some((l) => l.transactionHash === hash)
        ? `Vote counted (${n} votes): quorum reached, the verdict is recorded (tx ${hash}).`
        : `Vote counted (${n ?? "?"} so far); the verdict is recorded when quorum is reached (tx ${hash}).`,
    );
  } catch (e) {
    say("vf-msg", "error", e instanceof FormError ? e.message : `Submitting the vote failed: ${describeError(e)}`);
  }
}
