/**
 * `trustmesh vote sign|submit`: a verifier's vote on one attestation round as EIP-712
 * typed data in the TrustBoard domain (offchain/chain/eip712.ts). `sign` only prints the
 * signature (for a relayer or a certificate); `submit` sends it (submitVote, relayed by
 * the tx signer) or casts it as the verifier itself (castVote).
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { bytesToHex, hexToBytes, isHex, recoverTypedDataAddress, type Address, type Hex } from "viem";
import { evaluate } from "../../core/vrf/index.js";
import { epochClockAbi, scoringPolicyAbi, trustBoardAbi } from "../../chain/artifacts.js";
import { trustBoardDomain, voteTypes, type Vote } from "../../chain/eip712.js";
import { signTypedDataWith } from "../../chain/signers.js";
import { cidText, verdictName } from "../../chain/reads.js";
import { decodeRoundId, encodeRoundId, Role, sortitionAlpha, Verdict } from "../../core/protocol.js";
import { bigintArg, CliInputError, resolveChain, resolveSigner, withChainOptions, withSignerOptions, type ChainContext, type ChainOpts, type SignerOpts } from "../chain-options.js";
import { parseBytes32, parseCid } from "../node-inputs.js";
import { printJson, Progress, renderFields } from "../render.js";
import { sendChecked, TxError, TxErrorCode } from "../tx.js";

interface VoteFlags {
  round?: bigint;
  epoch?: bigint;
  sequence?: bigint;
  node?: bigint;
  verdict?: string;
  score?: string;
  evidenceCid?: string;
  policyCid?: string;
}

function withVoteOptions(cmd: Command): Command {
  return cmd
    .option("--round <id>", "round id (uint256; or give --epoch and --sequence)", bigintArg("--round"))
    .option("--epoch <n>", "round epoch (default: the current epoch)", bigintArg("--epoch"))
    .option("--sequence <n>", "round sequence within (epoch, node)", bigintArg("--sequence"))
    .option("--node <id>", "target node id", bigintArg("--node"))
    .option("--verdict <v>", "trusted | untrusted")
    .option("--score <n>", "trust score 0-255 from the scoring function")
    .option("--evidence-cid <cid>", "CID of the pinned evidence bundle")
    .option("--policy-cid <cid>", "CID of the scoring policy (default: the one active in the round's epoch)");
}

/** Builds the Vote from flags, filling the epoch and the policy CID from the chain. */
async function buildVote(ctx: ChainContext, f: VoteFlags): Promise<Vote> {
  const { publicClient } = ctx.conn;
  const c = ctx.deployment.contracts;
  if (f.node === undefined && f.round === undefined) throw new CliInputError("CLI_MISSING", "--node (or --round) is required");
  let round: bigint;
  if (f.round !== undefined) {
    round = f.round;
    const parts = decodeRoundId(round);
    if (f.node !== undefined && parts.node !== f.node) throw new CliInputError("CLI_ROUND_NODE", `--round is for node ${parts.node}, not --node ${f.node}`);
  } else {
    if (f.sequence === undefined) throw new CliInputError("CLI_MISSING", "give --round, or --sequence (with --epoch or the current epoch)");
    let epoch = f.epoch;
    if (epoch === undefined) {
      if (!c.EpochClock) throw new CliInputError("CLI_MISSING", "--epoch is required: the deployment names no EpochClock");
      epoch = await publicClient.readContract({ address: c.EpochClock, abi: epochClockAbi, functionName: "currentEpoch" });
    }
    round = encodeRoundId({ epoch, node: f.node!, sequence: f.sequence });
  }
  const node = decodeRoundId(round).node;
  const verdict = f.verdict === "trusted" ? Verdict.Trusted : f.verdict === "untrusted" ? Verdict.Untrusted : undefined;
  if (verdict === undefined) throw new CliInputError("CLI_BAD_VERDICT", `--verdict must be trusted or untrusted, got "${f.verdict ?? ""}"`);
  const score = Number(f.score ?? "");
  if (!Number.isInteger(score) || score < 0 || score > 255) throw new CliInputError("CLI_BAD_SCORE", "--score must be an integer 0-255");
  if (!f.evidenceCid) throw new CliInputError("CLI_MISSING", "--evidence-cid is required");
  const policyCid = f.policyCid
    ? parseCid(f.policyCid, "--policy-cid")
    : await publicClient.readContract({ address: c.ScoringPolicy, abi: scoringPolicyAbi, functionName: "activeCid", args: [decodeRoundId(round).epoch] });
  return { round, node, verdict, score, evidenceCid: parseCid(f.evidenceCid, "--evidence-cid"), policyCid };
}

interface SignedVoteFile {
  vote: { round: string; node: string; verdict: number; score: number; evidenceCid: Hex; policyCid: Hex };
  signature: Hex;
  signer: Address;
}

async function readVoteFile(path: string): Promise<{ vote: Vote; signature: Hex; signer: Address }> {
  let o: SignedVoteFile;
  try {
    o = JSON.parse(await readFile(path, "utf8")) as SignedVoteFile;
  } catch (cause) {
    throw new CliInputError("CLI_VOTE_FILE", `cannot read vote file ${path}`, { cause });
  }
  if (!o?.vote || !isHex(o.signature)) throw new CliInputError("CLI_VOTE_FILE", `${path} is not the output of \`vote sign --json\``);
  const v = o.vote;
  return { vote: { round: BigInt(v.round), node: BigInt(v.node), verdict: v.verdict, score: v.score, evidenceCid: v.evidenceCid, policyCid: v.policyCid }, signature: o.signature, signer: o.signer };
}

function voteFields(vote: Vote): [string, string][] {
  const p = decodeRoundId(vote.round);
  return [
    ["round", `${vote.round} (epoch ${p.epoch}, node ${p.node}, seq ${p.sequence})`],
    ["verdict", verdictName(vote.verdict)],
    ["score", String(vote.score)],
    ["evidence CID", cidText(vote.evidenceCid)],
    ["policy CID", cidText(vote.policyCid)],
  ];
}

/**
 * The VRF output committed with a vote: given, or evaluated from the VRF secret key over
 * the sortition alpha (epoch seed || round || Verifier). An output at or above the epoch
 * threshold means "not selected": refused here, since a dispute would slash it.
 */
async function vrfOutputFor(ctx: ChainContext, round: bigint, opts: { vrfOutput?: string; vrfKeyEnv?: string }): Promise<Hex> {
  if (opts.vrfOutput) return parseBytes32(opts.vrfOutput, "--vrf-output");
  if (!opts.vrfKeyEnv) throw new CliInputError("CLI_MISSING", "give --vrf-output or --vrf-key-env");
  const raw = process.env[opts.vrfKeyEnv];
  if (!raw) throw new CliInputError("CLI_NO_KEY", `environment variable ${opts.vrfKeyEnv} is not set`);
  const clock = ctx.deployment.contracts.EpochClock;
  if (!clock) throw new CliInputError("CLI_MISSING", "the deployment names no EpochClock, so the epoch seed is unknown; give --vrf-output");
  const epoch = decodeRoundId(round).epoch;
  const [seed, threshold] = await Promise.all([
    ctx.conn.publicClient.readContract({ address: clock, abi: epochClockAbi, functionName: "epochSeed", args: [epoch] }),
    ctx.conn.publicClient.readContract({ address: clock, abi: epochClockAbi, functionName: "epochThreshold", args: [epoch] }),
  ]);
  const output = bytesToHex(evaluate(hexToBytes(parseBytes32(raw, opts.vrfKeyEnv)), sortitionAlpha(hexToBytes(seed), round, Role.Verifier)));
  if (BigInt(output) >= threshold) {
    throw new TxError(TxErrorCode.WouldRevert, `this VRF key is not selected as a verifier for round ${round}`, {
      metaMessages: ["Its output is above the epoch threshold. Nothing was signed or sent."],
    });
  }
  return output;
}

export function register(program: Command): void {
  const vote = program.command("vote").description("verifier: sign a vote on an attestation round (EIP-712) and submit it");

  withVoteOptions(withSignerOptions(withChainOptions(vote.command("sign").description("sign a Vote as EIP-712 typed data and print the signature")))).action(
    async (opts: ChainOpts & SignerOpts & VoteFlags) => {
      const ctx = await resolveChain(opts);
      const signer = await resolveSigner(opts);
      const v = await buildVote(ctx, opts);
      const domain = trustBoardDomain(ctx.conn.chain.id, ctx.deployment.contracts.TrustBoard);
      const signature = await signTypedDataWith(signer, ctx.conn.chain, ctx.conn.rpcUrl, { domain, types: voteTypes, primaryType: "Vote", message: { ...v } });
      const out: SignedVoteFile = {
        vote: { round: v.round.toString(), node: v.node.toString(), verdict: v.verdict, score: v.score, evidenceCid: v.evidenceCid, policyCid: v.policyCid },
        signature,
        signer: signer.address,
      };
      if (opts.json) return printJson({ ...out, chainId: ctx.conn.chain.id, trustBoard: ctx.deployment.contracts.TrustBoard });
      process.stdout.write(renderFields([...voteFields(v), ["signer", signer.address], ["signature", signature]]));
    },
  );

  withVoteOptions(
    withSignerOptions(
      withChainOptions(
        vote
          .command("submit")
          .description("submit a signed vote (relayed by the tx signer), or --cast it as the verifier itself")
          .option("--vote-file <file>", "output of `vote sign --json` (else the vote flags are signed now)")
          .option("--vrf-output <bytes32>", "the verifier's VRF output for (round, Verifier role)")
          .option("--vrf-key-env <var>", "environment variable with the VRF secret key: the output is computed (and checked against the epoch threshold)")
          .option("--cast", "castVote: the tx signer is the verifier (no separate signature)"),
      ),
    ),
  ).action(async (opts: ChainOpts & SignerOpts & VoteFlags & { voteFile?: string; vrfOutput?: string; vrfKeyEnv?: string; cast?: boolean }) => {
    const progress = new Progress(Boolean(opts.json));
    const ctx = await resolveChain(opts);
    const signer = await resolveSigner(opts);
    const board = ctx.deployment.contracts.TrustBoard;
    const domain = trustBoardDomain(ctx.conn.chain.id, board);
    let v: Vote;
    let signature: Hex | undefined;
    let voter: Address = signer.address;
    if (opts.voteFile) {
      ({ vote: v, signature, signer: voter } = await readVoteFile(opts.voteFile));
      const recovered = await recoverTypedDataAddress({ domain, types: voteTypes, primaryType: "Vote", message: v, signature });
      if (recovered.toLowerCase() !== voter.toLowerCase()) {
        throw new TxError(TxErrorCode.WouldRevert, `the vote file's signature is by ${recovered}, not ${voter}`, {
          metaMessages: ["Signed for another chain or TrustBoard? Nothing was sent."],
        });
      }
    } else {
      v = await buildVote(ctx, opts);
      if (!opts.cast) {
        progress.step("signing the vote (EIP-712)");
        signature = await signTypedDataWith(signer, ctx.conn.chain, ctx.conn.rpcUrl, { domain, types: voteTypes, primaryType: "Vote", message: { ...v } });
      }
    }
    const vrfOutput = await vrfOutputFor(ctx, v.round, opts);
    const rec = await ctx.conn.publicClient.readContract({ address: board, abi: trustBoardAbi, functionName: "verdict", args: [v.round] });
    if (rec.verdict !== 0) {
      throw new TxError(TxErrorCode.WouldRevert, `round ${v.round} is already recorded (${verdictName(rec.verdict)})`, { metaMessages: ["Nothing was sent."] });
    }
    const { hash, receipt } =
      opts.cast || signature === undefined
        ? await sendChecked({ conn: ctx.conn, signer, address: board, abi: trustBoardAbi, functionName: "castVote", args: [v, vrfOutput], label: "castVote", progress })
        : await sendChecked({ conn: ctx.conn, signer, address: board, abi: trustBoardAbi, functionName: "submitVote", args: [v, signature, vrfOutput], label: "submitVote", progress });
    const counted = await ctx.conn.publicClient.getContractEvents({ address: board, abi: trustBoardAbi, eventName: "VoteCounted", blockHash: receipt.blockHash, strict: true });
    const recorded = await ctx.conn.publicClient.getContractEvents({ address: board, abi: trustBoardAbi, eventName: "VerdictRecorded", blockHash: receipt.blockHash, strict: true });
    const mine = counted.find((l) => l.transactionHash === hash);
    const verdictRecorded = recorded.some((l) => l.transactionHash === hash);
    const result = { round: v.round.toString(), voter, votesCounted: mine ? Number(mine.args.count) : null, verdictRecorded, tx: hash };
    if (opts.json) return printJson(result);
    process.stdout.write(
      renderFields([
        ...voteFields(v),
        ["voter", voter],
        ["votes counted", result.votesCounted === null ? "-" : String(result.votesCounted)],
        ["verdict recorded", verdictRecorded ? "yes (quorum reached)" : "not yet (below quorum)"],
        ["tx", hash],
      ]),
    );
  });
}
