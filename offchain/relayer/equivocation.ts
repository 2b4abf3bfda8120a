/**
 * Watches every signed vote this gateway sees (certificates it helped decide, votes made
 * public on the attestation topic) and proves equivocation on chain when one signer signed
 * two different votes for one round. Disputing is permissionless; the first proof wins and
 * later ones are refused by the contract, so each gateway checks before it pays gas.
 */
import type { Address, Hex } from "viem";
import { voteSignerOf } from "./auth-cache.js";
import { trustBoardDomain, type Vote } from "../chain/eip712.js";
import { voteTypedHash } from "../chain/typed-hash.js";
import type { GatewayChain } from "./chain-context.js";
import type { Logger } from "./logger.js";
import { revertReason } from "./revert-reason.js";
import type { Metrics } from "./metrics.js";
import { rememberBounded } from "../core/bounded-map.js";
import { decodeRoundId } from "../core/protocol.js";

interface SeenVote {
  vote: Vote;
  signature: Hex;
  hash: Hex;
}

export class EquivocationWatch {
  /** round -> signer -> first signed vote seen. */
  private readonly seen = new Map<bigint, Map<Address, SeenVote>>();
  /** `${signer}:${round}` of the disputes filed. */
  private readonly disputed = new Set<string>();
  /** Certificate openings (signers, outputs) per round, to void a verdict in its window. */
  private readonly openings = new Map<bigint, { signers: Address[]; vrfOutputs: Hex[] }>();
  private prunedBelow = 0n;

  /**
   * `floor` is the oldest epoch whose rounds TrustBoard still records (the journal's signing
   * floor). Rounds below it are forgotten: no certificate can be recorded for them any more,
   * so a second vote there misleads nobody. Without that, every round's votes and opening
   * stayed for `maxRounds` rounds (7 minutes at 10 rounds/s; openings without any bound).
   */
  constructor(
    private readonly chain: GatewayChain,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly floor: () => bigint = () => 0n,
    private readonly maxRounds = 4096,
  ) {}

  /** Rounds whose votes or opening are remembered (dashboards, tests). */
  get roundsRemembered(): number {
    return new Set([...this.seen.keys(), ...this.openings.keys()]).size;
  }

  private domain() {
    return trustBoardDomain(this.chain.chainId, this.chain.addresses.board);
  }

  voteHash(vote: Vote): Hex {
    return voteTypedHash(this.domain(), vote);
  }

  recordOpening(round: bigint, opening: { signers: Address[]; vrfOutputs: Hex[] }): void {
    if (this.belowFloor(round)) return;
    rememberBounded(this.openings, round, opening, this.maxRounds);
  }

  /** A vote whose signer is known (e.g. from a certificate the contract will check). */
  async observe(vote: Vote, signature: Hex, claimedSigner?: Address): Promise<void> {
    if (this.belowFloor(vote.round)) return;
    const signer = voteSignerOf(this.domain(), vote, signature);
    if (signer === null) return;
    if (claimedSigner && claimedSigner.toLowerCase() !== signer.toLowerCase()) return;
    const hash = this.voteHash(vote);
    let byRound = this.seen.get(vote.round);
    if (!byRound) {
      byRound = rememberBounded(this.seen, vote.round, new Map(), this.maxRounds);
    }
    const first = byRound.get(signer);
    if (!first) {
      byRound.set(signer, { vote, signature, hash });
      return;
    }
    if (first.hash === hash) return;
    await this.dispute(signer, first, { vote, signature, hash });
  }

  /** Whether `round` is below the floor; forgets the rounds below it when the floor rose. */
  private belowFloor(round: bigint): boolean {
    const floor = this.floor();
    if (floor > this.prunedBelow) {
      this.prunedBelow = floor;
      const old = (r: bigint): boolean => decodeRoundId(r).epoch < floor;
      for (const r of this.seen.keys()) if (old(r)) this.seen.delete(r);
      for (const r of this.openings.keys()) if (old(r)) this.openings.delete(r);
      for (const key of this.disputed) if (old(BigInt(key.slice(key.indexOf(":") + 1)))) this.disputed.delete(key);
    }
    return decodeRoundId(round).epoch < floor;
  }

  private async dispute(signer: Address, a: SeenVote, b: SeenVote): Promise<void> {
    const key = `${signer}:${a.vote.round}`;
    if (this.disputed.has(key)) return;
    this.disputed.add(key);
    this.metrics.inc("disputes_filed");
    this.log.warn({ signer, round: a.vote.round.toString() }, "equivocation seen: two different signed votes for one round");
    // Spread honest gateways out a little so they do not all pay for the same proof.
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
    try {
      const tx = await this.chain.disputeEquivocation(a.vote, a.signature, b.vote, b.signature, this.openings.get(a.vote.round) ?? { signers: [], vrfOutputs: [] });
      this.log.info({ signer, round: a.vote.round.toString(), tx }, "equivocation disputed on chain");
    } catch (e) {
      this.log.info({ signer, round: a.vote.round.toString(), reason: revertReason(e) }, "equivocation dispute not filed (already punished?)");
    }
  }
}
