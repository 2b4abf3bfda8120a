/**
 * The verifier role (ARCHITECTURE steps 1-8 from a verifier's seat). For a round in which
 * this gateway's VRF output falls under the epoch threshold it
 *   1. asks the target's gateway for evidence with a fresh nonce and its signed VRF claim;
 *   2. assesses the evidence and scores it with the scoring function the chain names for
 *      the round's epoch, in the deterministic sandbox;
 *   3. pins the signed evidence bundle in IPFS (its CID goes into the vote);
 *   4. reveals its selection; after the reveal window the revealed verifiers form the
 *      round's committee (ordered by VRF output) and agree by PBFT on one vote, whose
 *      commits carry the EIP-712 signatures that make the TrustBoard certificate;
 *   5. the primary of the deciding view submits the certificate; the others step in if it
 *      does not show up on chain.
 * Signing goes through the journal: one vote per round, ever, even across crashes.
 */
import type { Address, Hex, LocalAccount } from "viem";
import { hexToBytes } from "@noble/hashes/utils.js";
import { addressOfPublicKey } from "../core/crypto/index.js";
import { isTrustmeshError } from "../core/errors.js";
import { decodeRoundId, NodeStatus, parseTaskRoundSequence, Role, sortitionAlpha, Verdict } from "../core/protocol.js";
import { drawTicket, MAX_UINT256 } from "../core/sortition.js";
import { busyCore, formCommittee, joinChoice, revealWaitOver, type VerifiedReveal } from "../core/committee.js";
import { bytesToHex, proofToHash, prove } from "../core/vrf/index.js";
import { createReplica, decodeMessages, publicKeyOf, secretKeyVoteSigner, type Certificate, type Decision } from "../core/pbft/index.js";
import { cachedSecp256k1Authenticator, cachedVoteVerifier, voteSignerOf } from "./auth-cache.js";
import { trustBoardDomain, type Vote } from "../chain/eip712.js";
import { voteTypedHash } from "../chain/typed-hash.js";
import type { SelectionJson } from "../attest/bridge/messages.js";
import { checkClock, type ClockState } from "../attest/quote.js";
import type { Finding } from "../attest/errors.js";
import type { ReceivedMessage, TrustmeshHost } from "../p2p/host.js";
import { PbftTransport } from "../p2p/pbft-transport.js";
import { MessageType } from "../p2p/topics.js";
import { hexToCid, cidToHex, type ContentStore } from "../../ipfs/adapter/index.js";
import { runScoring, type SandboxResult, type SandboxRunParameters } from "../sandbox/index.js";
import { NODE_RECORD_MAX_AGE_MS, type EpochInfo, type GatewayChain } from "./chain-context.js";
import type { GatewayJournal } from "./journal.js";
import type { Logger } from "./logger.js";
import { revertReason } from "./revert-reason.js";
import type { Metrics } from "./metrics.js";
import { assessResponse, scoreInputOf } from "./assess.js";
import { EquivocationWatch } from "./equivocation.js";
import { decodeRoundPayload, encodeRoundPayload, type AttestResponsePayload, type RevealPayload } from "./round-messages.js";
import { checkVerifierClaim, claimSigner, signVrfClaim } from "./vrf-claims.js";
import { resumeData, voteToJson, type ResumableRound } from "./round-resume.js";
import { rememberBounded } from "../core/bounded-map.js";
import { hexOf } from "../core/hex.js";

export interface VerifierParams {
  revealWindowMs: number;
  roundTimeoutMs: number;
  selection: SelectionJson;
  /** The TrustBoard quorum (signatures a certificate needs). */
  quorum: number;
  /**
   * A scheduled round not recorded on chain this long after its start is run again under
   * a derived round id (gateway.ts); default roundTimeoutMs.
   */
  retryDelayMs?: number;
  /**
   * Rounds this verifier works on at once, from its reveal to its PBFT decision; a round
   * that starts while that many are under way is not joined (DEFAULT_MAX_ACTIVE_ROUNDS).
   */
  maxActiveRounds?: number;
}

/**
 * Shedding load when rounds come faster than this machine can verify them. Every round
 * joined takes CPU from the others (evidence checks, scoring, PBFT), so past the machine's
 * capacity each round gets slower, misses its reveal deadline or the round timeout, and the
 * work spent on it is lost: at 10 rounds/s offered to the 7-gateway devnet on 2 cores,
 * rounds took 20 s and fewer were recorded than at 2.3/s. A verifier already busy with
 * this many rounds declines new ones before it reveals, which costs it nothing; the round
 * goes on with the members that joined (a certificate needs the on-chain quorum, not all),
 * or fails early and cheaply. At 2.3 rounds/s a devnet gateway has 1-2 rounds under way.
 * Every verifier sits in nearly every round of a small network, so the cap also bounds
 * throughput (about cap / round time): at 10 rounds/s offered to the devnet on an idle
 * 2-core machine, 30 s windows recorded 91 and 124 verdicts with 4, 132 with 5, 143, 133 and
 * 156 with 6, 128 with 8 (p50 1.2-1.6 s for 4 to 6, 2.1 s for 8). A busy verifier that
 * the round's draw picks to carry it (busyCore) joins anyway, up to a harder cap
 * (joinChoice in core/committee.ts), so shedding does not leave rounds half-joined.
 */
export const DEFAULT_MAX_ACTIVE_ROUNDS = 6;

/** A moment of a round as this verifier saw it (benchmarks, dashboards). */
export interface RoundTiming {
  round: bigint;
  /** "requested": this verifier sent its evidence request; "recorded": its certificate was mined. */
  event: "requested" | "recorded";
  at: number;
}

export interface VerifierOptions {
  nodeId: bigint;
  account: LocalAccount;
  /** Hex secret of the gateway key: authenticates PBFT messages (secp256k1). */
  gatewaySecret: Hex;
  vrfSecret: Uint8Array;
  host: TrustmeshHost;
  chain: GatewayChain;
  journal: GatewayJournal;
  store: ContentStore;
  log: Logger;
  metrics: Metrics;
  params: VerifierParams;
  /** Development only: sign a second, conflicting vote after each decision. */
  byzantine?: "equivocate";
  /** Where scoring functions run (a SandboxPool's run); one fresh sandbox per call by default. */
  sandbox?: (params: SandboxRunParameters) => Promise<SandboxResult<unknown>>;
  /** Told when this verifier sends its evidence request and when its certificate is mined (latency measurements). */
  onTiming?: (t: RoundTiming) => void;
}

interface PreparedTicket {
  proof: Hex;
  output: Hex;
  claimSignature: Hex;
}

/**
 * This gateway's sortition ticket for a verifier seat, or null when not selected. With a
 * saturated threshold (every eligible node sits on every committee) the output is taken
 * from the proof itself, which saves the separate evaluation.
 */
function sortitionTicket(vrfSecret: Uint8Array, epoch: EpochInfo, round: bigint): { proof: Hex; output: Hex } | null {
  if (epoch.threshold === MAX_UINT256) {
    const proof = prove(vrfSecret, sortitionAlpha(epoch.seed, round, Role.Verifier));
    const output = proofToHash(proof);
    // An output of exactly 2^256-1 is not under the threshold (selection is output < threshold).
    if (BigInt(bytesToHex(output)) >= epoch.threshold) return null;
    return { proof: bytesToHex(proof) as Hex, output: bytesToHex(output) as Hex };
  }
  const ticket = drawTicket(vrfSecret, { seed: epoch.seed, round, role: Role.Verifier }, epoch.threshold);
  if (!ticket.selected || !ticket.proof) return null;
  return { proof: bytesToHex(ticket.proof) as Hex, output: bytesToHex(ticket.output) as Hex };
}

interface RevealRecord extends VerifiedReveal {
  publicKey: Hex;
  proof: Hex;
  /** When the member revealed: its signed envelope timestamp (ms), or our clock for our own. */
  at: number;
}

/**
 * Committee agreement. A member counts the reveals whose signed envelope timestamp is no
 * later than the round's deadline (start + reveal window, the same for every member since
 * the start comes from the epoch seed), and stops listening at deadline + this grace. Two
 * honest members form the same committee when every reveal stamped in time reaches both
 * within the grace: gossip on loopback takes ~2 ms (p99 ~10 ms, TOOLCHAIN.md), plus the
 * claim checks and event-loop lag of a loaded machine, which we measured in the hundreds
 * of ms at worst; hence 500 ms. A member whose clock or loop is so late that it misses the
 * grace forms a different replica set; its PBFT messages then do not count at the others
 * and the round is decided without it, or, failing that, retried (gateway.ts).
 * Waiting ends earlier when every node that could reveal has (see awaitReveals).
 */
const REVEAL_GRACE_MS = 500;

interface CommitEndorsement {
  signature: Hex;
  vrfOutput: Hex;
  digest: Hex;
}

/**
 * The commits of one round seen on the wire, by replica, with a wake-up for whoever waits
 * for the next one: a certificate short of the on-chain quorum is completed the moment the
 * missing commit lands (it was a 100 ms poll, most of a verdict's time after the decision).
 */
class CommitCollector {
  readonly byReplica = new Map<number, CommitEndorsement>();
  /** Set when the round's verdict is seen on chain: a short certificate is then moot. */
  recorded = false;
  private wake: (() => void) | undefined;

  markRecorded(): void {
    this.recorded = true;
    this.wake?.();
  }

  add(replica: number, c: CommitEndorsement): void {
    this.byReplica.set(replica, c);
    this.wake?.();
  }

  /** Resolves when a commit arrives, or after `timeoutMs`. */
  next(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), Math.max(0, timeoutMs));
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}

/** Rounds whose traffic (reveals, declines) is remembered, whatever their age. */
const ROUNDS_REMEMBERED = 1024;

/**
 * How long the traffic of a round (reveals, declines) is kept from its first message, at
 * least: far past its reveal deadline and grace. Messages arrive for rounds this gateway never
 * runs (and so never clears); at 10 rounds/s the count bound alone kept 100 s of them.
 */
const ROUND_TRAFFIC_KEPT_MS = 30_000;

interface Waiter {
  resolve: (r: { payload: AttestResponsePayload; data: Uint8Array }) => void;
  reject: (e: Error) => void;
}

export type RoundOutcome =
  | { kind: "not-selected" }
  | { kind: "abstained"; reason: string }
  | { kind: "decided"; vote: Vote; certificate: Certificate | null; submitted: boolean };

export class VerifierError extends Error {
  override name = "VerifierError";
}

export class VerifierService {
  readonly equivocation: EquivocationWatch;
  private readonly waiters = new Map<string, Waiter>();
  private readonly reveals = new Map<bigint, Map<bigint, RevealRecord>>();
  private readonly revealListeners = new Map<bigint, () => void>();
  /** Verifiers that said they will not join a round (too busy), by round. */
  private readonly declines = new Map<bigint, Set<bigint>>();
  /**
   * When the first reveal or decline of each round arrived, oldest first. Every round in
   * `reveals` and `declines` is here, so forgetting a round here bounds both maps.
   */
  private readonly trafficSince = new Map<bigint, number>();
  /** How long a round's traffic is kept (ROUND_TRAFFIC_KEPT_MS, or more for a long reveal window). */
  private readonly trafficKeptMs: number;
  /** TPM clocks seen per target, with when their evidence arrived (see previousClock). */
  private readonly clocks = new Map<bigint, { clock: ClockState; receivedAt: number }[]>();
  private readonly tickets = new Map<bigint, Promise<PreparedTicket | null>>();
  private unsubscribe: (() => void)[] = [];
  /** Rounds between their reveal and their decision (or abstention); see maxActiveRounds. */
  private activeRounds = 0;
  private readonly publicKey: Hex;
  /** EIP-712 votes signed with the gateway key (parsed once, not per round). */
  private readonly voteSigner: ReturnType<typeof secretKeyVoteSigner>;
  /** Development only (demo, tests): behave as a Byzantine verifier from now on. */
  byzantine: "equivocate" | undefined;

  constructor(private readonly o: VerifierOptions) {
    this.byzantine = o.byzantine;
    this.trafficKeptMs = Math.max(ROUND_TRAFFIC_KEPT_MS, 10 * (o.params.revealWindowMs + REVEAL_GRACE_MS));
    this.equivocation = new EquivocationWatch(o.chain, o.log, o.metrics, () => o.journal.signingFloor());
    this.publicKey = publicKeyOf(o.gatewaySecret);
    this.voteSigner = secretKeyVoteSigner(o.gatewaySecret, trustBoardDomain(o.chain.chainId, o.chain.addresses.board));
  }

  start(): void {
    this.unsubscribe.push(
      this.o.host.subscribe("attestation", (m) => {
        try {
          this.onAttestationMessage(m);
        } catch (e) {
          this.o.metrics.inc("p2p_messages_rejected");
          this.o.log.debug({ err: e }, "attestation message dropped");
        }
      }),
    );
    this.unsubscribe.push(
      this.o.chain.onEvent((e) => {
        // Scoring reads history from the chain at a fixed block (GatewayChain.scoringContext).
        if (e.eventName === "VerdictRecorded") this.o.metrics.inc("verdicts_observed");
      }),
    );
  }

  stop(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    for (const w of this.waiters.values()) w.reject(new VerifierError("verifier stopped"));
    this.waiters.clear();
  }

  private onAttestationMessage(m: ReceivedMessage): void {
    const type = m.envelope.type;
    if (type !== MessageType.AttestResponse && type !== MessageType.Reveal && type !== MessageType.VoteAnnounce) return;
    const payload = decodeRoundPayload(m.envelope.payload);
    if (payload.kind === "response" || payload.kind === "refusal") {
      const w = this.waiters.get(`${m.envelope.round}:${payload.verifierNonce}`);
      if (!w || BigInt(payload.target) !== m.envelope.sender) return;
      if (payload.kind === "refusal") w.reject(new VerifierError(`target refused: ${payload.code}: ${payload.message}`));
      else w.resolve({ payload, data: m.data });
    } else if (payload.kind === "decline" || payload.kind === "reveal") {
      const roundTarget = decodeRoundId(m.envelope.round).node;
      // A target other than the round's is malformed; and this gateway never sits on a round
      // about its own node, so that round's traffic is not for it.
      if (BigInt(payload.target) !== roundTarget || roundTarget === this.o.nodeId) return;
      if (payload.kind === "decline") this.addDecline(m.envelope.round, m.envelope.sender);
      else void this.onReveal(m.envelope.round, m.envelope.sender, payload, Number(m.envelope.timestamp)).catch((e: unknown) => this.o.log.debug({ err: e }, "reveal rejected"));
    } else if (payload.kind === "vote") {
      const v = payload.vote;
      const vote: Vote = { round: BigInt(v.round), node: BigInt(v.node), verdict: v.verdict, score: v.score, evidenceCid: v.evidenceCid, policyCid: v.policyCid };
      void this.o.chain.node(m.envelope.sender, NODE_RECORD_MAX_AGE_MS).then((n) => this.equivocation.observe(vote, payload.signature, n.gateway));
    }
  }

  /** A reveal of a round about another node than this one, its target checked (onAttestationMessage). */
  private async onReveal(round: bigint, sender: bigint, r: RevealPayload, at: number): Promise<void> {
    // Registry events evict the cached record (chain-context), so an older copy is safe here.
    const node = await this.o.chain.node(sender, NODE_RECORD_MAX_AGE_MS);
    const ctx = { chainId: this.o.chain.chainId, board: this.o.chain.addresses.board };
    const signer = await claimSigner(ctx, round, r.proof, r.claimSignature);
    if (signer === null || signer.toLowerCase() !== node.gateway.toLowerCase()) return;
    if (!publicKeyMatches(r.publicKey, node.gateway)) return;
    // A node whose signature the contract would not count cannot sit on the committee.
    if (!(await this.o.chain.canSign(node, this.o.params.quorum))) return;
    const epoch = await this.o.chain.epoch(decodeRoundId(round).epoch);
    const check = checkVerifierClaim(node.vrfPublicKey, epoch, round, r.proof);
    if (!check.ok) {
      // The target's gateway disputes false claims it receives with requests; a false reveal is ignored here.
      this.o.metrics.inc("vrf_fraud_detected");
      return;
    }
    this.addReveal(round, { node: sender, gateway: node.gateway.toLowerCase(), output: check.outputInt, publicKey: r.publicKey, proof: r.proof, at });
  }

  private addReveal(round: bigint, rec: RevealRecord): void {
    this.roundEntry(this.reveals, round, () => new Map<bigint, RevealRecord>()).set(rec.node, rec);
    this.revealListeners.get(round)?.();
  }

  private addDecline(round: bigint, sender: bigint): void {
    this.roundEntry(this.declines, round, () => new Set<bigint>()).add(sender);
    this.revealListeners.get(round)?.();
  }

  /**
   * The entry of `round` in a map of round traffic, made when missing. A round new to this
   * gateway first makes room: the oldest rounds' traffic goes while it is older than
   * trafficKeptMs or ROUNDS_REMEMBERED rounds are kept.
   */
  private roundEntry<V>(map: Map<bigint, V>, round: bigint, create: () => V): V {
    let entry = map.get(round);
    if (entry === undefined) {
      if (!this.trafficSince.has(round)) {
        const now = Date.now();
        for (const [old, since] of this.trafficSince) {
          if (now - since < this.trafficKeptMs && this.trafficSince.size < ROUNDS_REMEMBERED) break;
          this.trafficSince.delete(old);
          this.reveals.delete(old);
          this.declines.delete(old);
        }
        this.trafficSince.set(round, now);
      }
      entry = create();
      map.set(round, entry);
    }
    return entry;
  }

  private requestEvidence(target: bigint, round: bigint, payload: Uint8Array, nonceHex: Hex): Promise<{ payload: AttestResponsePayload; data: Uint8Array }> {
    const key = `${round}:${nonceHex}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new VerifierError(`no evidence from node ${target} for round ${round} within ${this.o.params.roundTimeoutMs} ms`));
      }, this.o.params.roundTimeoutMs);
      this.waiters.set(key, {
        resolve: (r) => {
          clearTimeout(timer);
          this.waiters.delete(key);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          this.waiters.delete(key);
          reject(e);
        },
      });
      this.o.host.sendDirect(target, { type: MessageType.AttestRequest, round, payload }).catch((e: unknown) => {
        clearTimeout(timer);
        this.waiters.delete(key);
        reject(e instanceof Error ? e : new VerifierError(String(e)));
      });
    });
  }

  /**
   * Draws this gateway's ticket for a round ahead of its start, and signs the claim: the
   * VRF proof is the costliest step of a round, and rounds of several gateways start at the
   * same instant. Nothing leaves the gateway before the round starts.
   */
  prepare(round: bigint, epoch: EpochInfo): void {
    void this.prepared(round, epoch).catch(() => undefined);
  }

  private prepared(round: bigint, epoch: EpochInfo): Promise<PreparedTicket | null> {
    const hit = this.tickets.get(round);
    if (hit) return hit;
    const o = this.o;
    const p = (async () => {
      const t = sortitionTicket(o.vrfSecret, epoch, round);
      if (!t) return null;
      const claimSignature = signVrfClaim(o.gatewaySecret, { chainId: o.chain.chainId, board: o.chain.addresses.board }, round, t.proof);
      return { ...t, claimSignature };
    })();
    rememberBounded(this.tickets, round, p, 4096);
    p.catch(() => this.tickets.delete(round));
    return p;
  }

  /**
   * Runs one round from this gateway's seat. `startMs` is the round's scheduled start
   * (wall clock); the reveal deadline is counted from it so every member uses the same one.
   */
  async runRound(round: bigint, startMs: number, epoch: EpochInfo): Promise<RoundOutcome> {
    const o = this.o;
    const { node: target } = decodeRoundId(round);
    if (target === o.nodeId) return { kind: "not-selected" };
    // Too late to reveal: the reveal would be stamped after the deadline and count for nobody.
    if (Date.now() >= startMs + o.params.revealWindowMs) {
      o.log.info({ round: round.toString(), lateByMs: Date.now() - startMs }, "round started after its reveal deadline: abstaining");
      return { kind: "abstained", reason: "late" };
    }
    const ticket = await this.prepared(round, epoch);
    // Used once: a round runs once per gateway (a resumed one draws the same ticket again).
    this.tickets.delete(round);
    if (!ticket) return { kind: "not-selected" };
    // Registry events evict the cached record (chain-context): a fresh read per round would
    // only add a call to the chain at the busiest moment of the round.
    if (!(await o.chain.canSign(await o.chain.node(o.nodeId, NODE_RECORD_MAX_AGE_MS), o.params.quorum))) return { kind: "not-selected" };
    // A banned node is out of the network until its ban ends; verdicts on it would only
    // rebuild the reputation its ban took away.
    if ((await o.chain.node(target, NODE_RECORD_MAX_AGE_MS)).status === NodeStatus.Banned) return { kind: "not-selected" };
    const maxActive = o.params.maxActiveRounds ?? DEFAULT_MAX_ACTIVE_ROUNDS;
    const choice = await joinChoice(this.activeRounds, maxActive, async () => busyCore(round, await this.candidates(target), o.params.quorum).has(o.nodeId));
    if (choice === "carry") o.metrics.inc("rounds_carried_busy");
    if (choice === "decline") {
      o.metrics.inc("rounds_shed");
      o.log.debug({ round: round.toString(), active: this.activeRounds }, "busy: not joining the round");
      o.host
        .publish({ type: MessageType.Reveal, round, payload: encodeRoundPayload({ kind: "decline", target: target.toString() }) })
        .catch((e: unknown) => o.log.debug({ err: e }, "decline not published"));
      return { kind: "abstained", reason: "busy" };
    }
    this.activeRounds++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.activeRounds--;
    };
    // PBFT traffic of this round is kept from now on: a member that forms its committee
    // a little later than the primary must not lose the pre-prepare. Subscribed only while
    // selected: a node outside the full scope must not sit on the pbft topic.
    const backlog: ReceivedMessage[] = [];
    const unsubscribeBacklog = o.host.subscribe("pbft", (m) => {
      if (m.envelope.type === MessageType.Pbft && m.envelope.round === round && backlog.length < 512) backlog.push(m);
    });
    try {
      return await this.runSelected(round, startMs, epoch, ticket, backlog, release);
    } finally {
      release();
      unsubscribeBacklog();
      this.reveals.delete(round);
      this.declines.delete(round);
      this.revealListeners.delete(round);
    }
  }

  /**
   * A selected verifier reveals at once and asks for evidence at the same time: the reveal
   * window then runs while the target quotes, and the committee is known by the time the
   * evidence is in. The reveal promises nothing about the vote (PBFT tolerates members that
   * never vote); it only fixes who may sign the round's certificate.
   */
  private async runSelected(round: bigint, startMs: number, epoch: EpochInfo, ticket: PreparedTicket, backlog: ReceivedMessage[], release: () => void): Promise<RoundOutcome> {
    const { proof, output, claimSignature } = ticket;
    const o = this.o;
    const { node: target } = decodeRoundId(round);
    o.metrics.inc("rounds_selected");
    const log = o.log.child({ round: round.toString(), target: target.toString() });
    const revealDeadline = startMs + o.params.revealWindowMs;

    // 1. Journal first: the nonce and the round survive a crash.
    const nonce = await o.journal.freshNonce();
    const nonceHex = hexOf(nonce);
    await o.journal.putRound({ round: round.toString(), target: target.toString(), phase: "requested", nonce: nonceHex, updatedAt: Date.now() });

    // 2. Reveal, and request evidence in parallel. The host stamps the envelope with its
    // clock in the same synchronous step as `at` is read (publish signs asynchronously, but
    // reads the clock at once), so the stamp the others judge is `at` or at most a
    // millisecond later: with that margin this member counts itself in exactly when the
    // others count it in.
    const revealPayload = encodeRoundPayload({ kind: "reveal", target: target.toString(), proof, output, claimSignature, publicKey: this.publicKey });
    const at = Date.now();
    if (at >= revealDeadline - 1) {
      log.info({ lateByMs: at - revealDeadline }, "reveal would miss its deadline: abstaining");
      await o.journal.putRound({ round: round.toString(), target: target.toString(), phase: "abandoned", updatedAt: Date.now() });
      return { kind: "abstained", reason: "late" };
    }
    this.addReveal(round, { node: o.nodeId, gateway: o.account.address.toLowerCase(), output: BigInt(output), publicKey: this.publicKey, proof, at });
    const revealed = o.host.publish({ type: MessageType.Reveal, round, payload: revealPayload });
    revealed.catch((e: unknown) => log.warn({ err: e }, "reveal not published"));
    o.metrics.inc("attestation_requests_sent");
    const requestedAt = Date.now();
    const evidence = this.requestEvidence(
      target,
      round,
      encodeRoundPayload({ kind: "request", target: target.toString(), verifierNonce: nonceHex, selection: o.params.selection, claim: { proof, signature: claimSignature } }),
      nonceHex,
    ).then(
      (r) => ({ ok: true as const, r, at: Date.now() }),
      (e: unknown) => ({ ok: false as const, reason: e instanceof Error ? e.message : String(e) }),
    );
    this.o.onTiming?.({ round, event: "requested", at: requestedAt });

    // 3. The committee: every reveal stamped by the deadline.
    const possible = (await this.candidates(target)).length;
    const reveals = await this.awaitReveals(round, revealDeadline, possible);
    let committee;
    try {
      committee = formCommittee(reveals, epoch.threshold, o.params.quorum);
    } catch (e) {
      log.warn(
        { err: e, revealed: reveals.map((r) => r.node.toString()), possible, pastDeadlineMs: Date.now() - revealDeadline, startedMs: requestedAt - startMs },
        "no committee: abstaining",
      );
      await o.journal.putRound({ round: round.toString(), target: target.toString(), phase: "abandoned", updatedAt: Date.now() });
      return { kind: "abstained", reason: isTrustmeshError(e) ? e.code : "committee" };
    }
    const members = committee.members as RevealRecord[];
    const myIndex = members.findIndex((m) => m.node === o.nodeId);
    if (myIndex < 0) return { kind: "abstained", reason: "not in committee" };
    const formedAt = Date.now();

    // 4. Assess and score the evidence with the policy of the round's epoch.
    const got = await evidence;
    if (!got.ok) {
      log.warn({ reason: got.reason }, "no evidence: abstaining");
      await o.journal.putRound({ round: round.toString(), target: target.toString(), phase: "abandoned", updatedAt: Date.now() });
      return { kind: "abstained", reason: got.reason };
    }
    const response = got.r;
    const task = parseTaskRoundSequence(decodeRoundId(round).sequence);
    const [targetNode, scoringContext, approvedImages, policyCid, postRunBootNonce] = await Promise.all([
      o.chain.node(target, NODE_RECORD_MAX_AGE_MS),
      o.chain.scoringContext(target, epoch.epoch),
      o.chain.approvedImages(),
      o.chain.policyCid(epoch.epoch),
      task?.phase === "post-run" ? o.chain.postRunBootNonce(task.taskId, target) : undefined,
    ]);
    if (postRunBootNonce === null) {
      // The task no longer awaits this node's post-run verdict (settled, refunded, replaced):
      // there is no cleanup left to judge, and no boot nonce to judge it by.
      log.info({ taskId: task?.taskId.toString() }, "post-run round of a task no longer awaiting it: abstaining");
      await o.journal.putRound({ round: round.toString(), target: target.toString(), phase: "abandoned", updatedAt: Date.now() });
      return { kind: "abstained", reason: "task not awaiting a post-run verdict" };
    }
    const assessment = await assessResponse({
      response: response.payload,
      verifierNonce: nonce,
      selection: o.params.selection,
      identityDigest: targetNode.identityDigest,
      tier: targetNode.tier,
      approvedImages,
      ...(postRunBootNonce ? { postRun: { bootNonce: postRunBootNonce } } : {}),
      // No previous clock here: what each verifier remembers of the target's TPM clock
      // differs (who saw which earlier quote), and the score must be computed from inputs
      // every committee member shares. The clock is checked below as a local veto instead.
    });
    const clockFindings = this.localClockFindings(target, assessment.clock, requestedAt);
    if (assessment.ok && assessment.clock) this.recordClock(target, assessment.clock, got.at);
    o.metrics.inc(assessment.ok ? "evidence_verified" : "evidence_rejected");
    const rollback = clockFindings.filter((f) => f.severity === "error" || f.severity === "fatal");
    if (rollback.length > 0) {
      // A TPM clock this verifier saw go backwards is evidence of a replayed or reset TPM;
      // it will not endorse any vote on this evidence (its peers decide without it).
      o.metrics.inc("clock_rollback_vetoes");
      log.warn({ findings: rollback.map((f) => ({ code: f.code, details: f.details })) }, "TPM clock rollback seen: refusing to vote");
      await o.journal.putRound({ round: round.toString(), target: target.toString(), phase: "abandoned", updatedAt: Date.now() });
      return { kind: "abstained", reason: `clock veto: ${rollback.map((f) => f.code).join(",")}` };
    }
    const assessedAt = Date.now();
    const scored = await runScoring(
      hexToCid(policyCid),
      scoreInputOf(assessment, { reputation: scoringContext.reputation, tier: targetNode.tier, history: scoringContext.history }),
      o.store,
      o.sandbox ? { runner: o.sandbox } : {},
    );
    if (!scored.ok) {
      log.warn({ code: scored.code, message: scored.message }, "scoring function failed: abstaining");
      await o.journal.putRound({ round: round.toString(), target: target.toString(), phase: "abandoned", updatedAt: Date.now() });
      return { kind: "abstained", reason: `scoring failed: ${scored.code}` };
    }

    // 5. Pin the signed evidence bundle; its CID goes into the vote.
    const evidenceCid = await o.store.put(response.data);
    const myVote: Vote = {
      round,
      node: target,
      verdict: scored.value.verdict === "trusted" ? Verdict.Trusted : Verdict.Untrusted,
      score: scored.value.score,
      evidenceCid: cidToHex(evidenceCid),
      policyCid,
    };
    log.info(
      {
        ms: { start: requestedAt - startMs, committee: formedAt - requestedAt, evidence: got.at - requestedAt, assess: assessedAt - Math.max(got.at, formedAt), score: Date.now() - assessedAt },
        members: members.length,
        verdict: scored.value.verdict,
        score: scored.value.score,
        reasons: scored.value.reasons,
        findings: assessment.findings.filter((f) => f.severity !== "info").map((f) => f.code),
        clock: clockFindings.map((f) => f.code),
      },
      "evidence assessed",
    );
    await o.journal.putRound({
      round: round.toString(),
      target: target.toString(),
      phase: "signed",
      nonce: nonceHex,
      // Enough to rejoin this committee after a crash (round-resume.ts).
      data: resumeData(members, myIndex, output, myVote),
      updatedAt: Date.now(),
    });

    // 6. PBFT on the vote; commits carry the EIP-712 signatures.
    return this.agree(round, myVote, members, myIndex, output, log, backlog, release);
  }

  /**
   * The clock the target's TPM showed last before this request was sent. Rounds of one
   * target overlap (a retry, a short mean interval), and their evidence may be assessed out
   * of order; only a quote received before this request went out was certainly made before
   * the quote that answers it, so only those may prove a clock rollback.
   */
  private previousClock(target: bigint, requestedAt: number): ClockState | undefined {
    let best: { clock: ClockState; receivedAt: number } | undefined;
    for (const c of this.clocks.get(target) ?? []) if (c.receivedAt < requestedAt && (!best || c.receivedAt > best.receivedAt)) best = c;
    return best?.clock;
  }

  /**
   * The clock findings against what this verifier itself saw of the target before the
   * request went out (reboots and resumes are reported, rollbacks veto the vote).
   */
  private localClockFindings(target: bigint, current: ClockState | undefined, requestedAt: number): Finding[] {
    const previous = this.previousClock(target, requestedAt);
    if (!previous || !current) return [];
    return checkClock(previous, { clock: current.clock, resetCount: current.resetCount, restartCount: current.restartCount, safe: current.safe ?? true }, current.firmwareVersion ?? 0n);
  }

  private recordClock(target: bigint, clock: ClockState, receivedAt: number): void {
    const list = this.clocks.get(target) ?? [];
    list.push({ clock, receivedAt });
    if (list.length > 8) list.shift();
    this.clocks.set(target, list);
  }

  /**
   * The nodes that could reveal for a round on `target`: every node but the target whose
   * signature TrustBoard would count. The others never reveal nor decline (runRound stops
   * them before either), so counting them made every round with an Untrusted or a late
   * Registered node in the network wait out its whole reveal window. Their number lets the
   * reveal wait end early (revealWaitOver).
   */
  private async candidates(target: bigint): Promise<bigint[]> {
    const count = await this.o.chain.nodeCount(10_000);
    const out: bigint[] = [];
    for (let id = 1n; id <= count; id++) {
      if (id === target) continue;
      if (await this.o.chain.canSign(await this.o.chain.node(id, NODE_RECORD_MAX_AGE_MS), this.o.params.quorum)) out.push(id);
    }
    return out;
  }

  /**
   * The reveals that count for the committee: those stamped no later than the deadline.
   * Waits until revealWaitOver says so. A node that declines and then reveals anyway may be
   * counted by some members and not others; like a reveal at the deadline's edge, that
   * only splits replica sets, which PBFT tolerates (see REVEAL_GRACE_MS).
   */
  private async awaitReveals(round: bigint, deadline: number, possible: number): Promise<RevealRecord[]> {
    const inTime = (): RevealRecord[] => [...(this.reveals.get(round)?.values() ?? [])].filter((r) => r.at <= deadline);
    for (;;) {
      const now = Date.now();
      const current = inTime();
      if (revealWaitOver({ now, deadline, graceMs: REVEAL_GRACE_MS, revealed: current.map((r) => r.node), declined: this.declines.get(round) ?? [], possible })) return current;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, deadline + REVEAL_GRACE_MS - now);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.revealListeners.set(round, done);
      });
      this.revealListeners.delete(round);
    }
  }

  /** `onDecided` is told when the decision is in (or the round given up): what follows is waiting, not work. */
  private async agree(round: bigint, myVote: Vote, members: RevealRecord[], myIndex: number, output: Hex, log: Logger, backlog: ReceivedMessage[], onDecided: () => void = () => undefined): Promise<RoundOutcome> {
    const o = this.o;
    const agreeStartedAt = Date.now();
    const domain = trustBoardDomain(o.chain.chainId, o.chain.addresses.board);
    const replica = createReplica({
      id: myIndex,
      members: members.map((m) => m.gateway as Address),
      auth: cachedSecp256k1Authenticator(o.gatewaySecret, members.map((m) => m.publicKey)),
      voteSigner: {
        signVote: (vote: Vote) =>
          o.journal.signOnce(
            vote.round,
            voteTypedHash(domain, vote),
            async () => this.voteSigner.signVote(vote),
            { vote: voteToJson(vote), role: vote.evidenceCid === myVote.evidenceCid ? "primary" : "backup" },
          ) as Promise<Hex>,
        vrfOutput: () => output,
      },
      voteVerifier: cachedVoteVerifier(domain),
      maxBatch: 1,
      batchTimeoutMs: 0,
      requestTimeoutMs: 1500,
      viewChangeTimeoutMs: 1500,
      validateRequest: (v) =>
        v.round === myVote.round &&
        v.node === myVote.node &&
        v.verdict === myVote.verdict &&
        v.score === myVote.score &&
        v.policyCid.toLowerCase() === myVote.policyCid.toLowerCase() &&
        v.evidenceCid.length > 2,
    });
    // PBFT decides with 2f+1 commits; the TrustBoard may want more signatures than that
    // (its quorum is a governance parameter). Every commit on the wire carries its signer's
    // vote signature, so the commits that arrive after the decision are collected too.
    const commits = new CommitCollector();
    const unsubscribeCommits = o.host.subscribe("pbft", (m) => {
      if (m.envelope.type !== MessageType.Pbft || m.envelope.round !== round) return;
      try {
        for (const msg of decodeMessages(m.envelope.payload)) {
          const e = msg.type === "commit" ? msg.endorsements[0] : null;
          const member = members[msg.type === "commit" ? msg.replica : -1];
          if (msg.type === "commit" && e && member && member.node === m.envelope.sender) {
            commits.add(msg.replica, { signature: e.signature, vrfOutput: e.vrfOutput, digest: msg.digest });
          }
        }
      } catch {
        // Malformed PBFT traffic is the transport's business (it penalises the sender).
      }
    });
    const unsubscribeRecorded = o.chain.onEvent((e) => {
      if (e.eventName === "VerdictRecorded" && (e.args.round as bigint) === round) commits.markRecorded();
    });
    let decidedHere = false;
    const decided = new Promise<Decision>((resolve) => {
      const transport = new PbftTransport({
        host: o.host,
        replica,
        committee: members.map((m) => m.node),
        round,
        // Taken in the same tick as the transport subscribes: nothing is lost or doubled.
        backlog: backlog.splice(0),
        onDecide: (d) => {
          if (!d.batch.some((v) => v.round === round)) return;
          decidedHere = true;
          resolve(d);
        },
        onError: (e) => log.debug({ err: e }, "pbft transport"),
      });
      void transport.start().then(() => {
        // The primary of view 0 proposes; the others propose their own vote only if nothing
        // is decided by then. A request for a vote the others have executed reads to them as
        // a laggard's retransmission, and each answers with the whole decided log (13
        // direct messages each in a committee of 7): measured at 223 direct messages per
        // verdict when backups submitted regardless, most of a loaded devnet's traffic.
        if (myIndex === 0) transport.submit(myVote);
        else setTimeout(() => decidedHere || transport.submit(myVote), 2_000 + 250 * myIndex).unref();
      });
      setTimeout(() => void transport.stop(), o.params.roundTimeoutMs + 5_000).unref();
    });
    let decision: Decision | null;
    let vote: Vote;
    let certificate: Certificate | null;
    let decidedAt: number;
    try {
      decision = await Promise.race([decided, new Promise<null>((r) => setTimeout(() => r(null), o.params.roundTimeoutMs).unref())]);
      onDecided();
      if (!decision) {
        log.warn("no PBFT decision before the round timeout");
        return { kind: "abstained", reason: "no decision" };
      }
      o.metrics.inc("rounds_decided");
      decidedAt = Date.now();
      vote = decision.batch[decision.batch.findIndex((v) => v.round === round)] as Vote;
      certificate = await this.completeCertificate(vote, decision, members, myIndex, commits, domain, output);
    } finally {
      unsubscribeCommits();
    }
    try {
      return await this.finish(round, vote, decision, certificate, members, myIndex, commits, log, { agree: decidedAt - agreeStartedAt, complete: Date.now() - decidedAt });
    } finally {
      unsubscribeRecorded();
    }
  }

  /**
   * After the decision: a certificate is checked for equivocation and submitted, by the
   * primary at once and by the others in turn if it does not show up on chain. `commits`
   * still hears of the verdict being recorded while a backup waits for its turn.
   */
  private async finish(round: bigint, vote: Vote, decision: Decision, certificate: Certificate | null, members: RevealRecord[], myIndex: number, commits: CommitCollector, log: Logger, ms: { agree: number; complete: number }): Promise<RoundOutcome> {
    const o = this.o;
    if (!certificate && commits.recorded) {
      log.info("decided; another member's certificate was recorded first");
      return { kind: "decided", vote, certificate: null, submitted: false };
    }
    if (!certificate) {
      log.warn({ quorum: o.params.quorum }, "decided, but not enough vote signatures for the on-chain quorum");
      return { kind: "decided", vote, certificate: null, submitted: false };
    }
    this.equivocation.recordOpening(round, { signers: certificate.signers, vrfOutputs: certificate.vrfOutputs });
    for (let k = 0; k < certificate.signers.length; k++) {
      await this.equivocation.observe(certificate.vote, certificate.signatures[k] as Hex, certificate.signers[k]);
    }
    if (this.byzantine === "equivocate") await this.equivocate(vote);

    const primary = decision.view % members.length;
    const submitted = await this.submit(certificate, primary === myIndex ? 0 : 1500 + 500 * ((myIndex - primary + members.length) % members.length), commits, log.child({ ms }));
    return { kind: "decided", vote, certificate, submitted };
  }

  /**
   * After a restart: rejoins the PBFT instance of a round whose committee this gateway had
   * formed, asking for `r.vote` (the decision it signed or was about to sign). The members
   * that decided answer the laggard; the journal returns the signature made before, if any.
   */
  resume(r: ResumableRound): Promise<RoundOutcome> {
    const log = this.o.log.child({ round: r.round.toString(), target: r.vote.node.toString(), resumed: true });
    const members: RevealRecord[] = r.members.map((m) => ({ ...m }));
    return this.agree(r.round, r.vote, members, r.myIndex, r.output, log, []);
  }

  /**
   * The decision's certificate, topped up with the signatures of commits that arrived
   * after it, until the on-chain quorum is met (or a short wait runs out). Each added
   * signature is checked against its member's registered address first.
   */
  private async completeCertificate(
    vote: Vote,
    decision: Decision,
    members: RevealRecord[],
    myIndex: number,
    commits: CommitCollector,
    domain: ReturnType<typeof trustBoardDomain>,
    output: Hex,
  ): Promise<Certificate | null> {
    const o = this.o;
    const i = decision.batch.indexOf(vote);
    const base = decision.certificates[i];
    const bySigner = new Map<string, { signature: Hex; vrfOutput: Hex }>();
    if (base) base.signers.forEach((s, k) => bySigner.set(s.toLowerCase(), { signature: base.signatures[k] as Hex, vrfOutput: base.vrfOutputs[k] as Hex }));
    const mine = o.journal.signedVote(vote.round);
    if (mine) bySigner.set(o.account.address.toLowerCase(), { signature: mine.signature as Hex, vrfOutput: output });
    // Members' commits trail the decision by up to a few seconds on a loaded machine, and a
    // member that crashed endorses only once it has restarted and rejoined (round-resume.ts):
    // a short certificate keeps waiting for as long as the round may live.
    const deadline = Date.now() + o.params.roundTimeoutMs;
    for (;;) {
      for (const [replica, c] of commits.byReplica) {
        const member = members[replica];
        if (!member || replica === myIndex || bySigner.has(member.gateway) || c.digest !== decision.digest) continue;
        const ok = voteSignerOf(domain, vote, c.signature)?.toLowerCase() === member.gateway.toLowerCase();
        if (ok) bySigner.set(member.gateway, c);
      }
      if (bySigner.size >= o.params.quorum || commits.recorded || Date.now() > deadline) break;
      await commits.next(deadline - Date.now());
    }
    if (bySigner.size < o.params.quorum) return null;
    const signers = [...bySigner.keys()];
    return {
      vote,
      signers: signers as Address[],
      signatures: signers.map((s) => (bySigner.get(s) as { signature: Hex }).signature),
      vrfOutputs: signers.map((s) => (bySigner.get(s) as { vrfOutput: Hex }).vrfOutput),
    };
  }

  private async submit(cert: Certificate, delayMs: number, commits: CommitCollector, log: Logger): Promise<boolean> {
    if (delayMs > 0) {
      await new Promise((r) => setTimeout(r, delayMs));
      // The event usually arrived during the wait; the read covers a follower behind the chain.
      if (commits.recorded || (await this.o.chain.isRecorded(cert.vote.round))) return false;
    }
    // The contract wants signers ascending: sort the three arrays together.
    const order = cert.signers.map((s, i) => ({ s: s.toLowerCase(), i })).sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
    const submittingAt = Date.now();
    try {
      const tx = await this.o.chain.submitCertificate(
        cert.vote,
        order.map(({ i }) => cert.signatures[i] as Hex),
        order.map(({ i }) => cert.vrfOutputs[i] as Hex),
        () => commits.recorded,
      );
      if (tx === null) {
        this.o.metrics.inc("certificates_superseded");
        log.info({ queuedMs: Date.now() - submittingAt }, "certificate not submitted: the round was recorded while this write waited its turn");
        return false;
      }
      this.o.metrics.inc("certificates_submitted");
      this.o.onTiming?.({ round: cert.vote.round, event: "recorded", at: Date.now() });
      log.info({ tx, signers: cert.signers.length, submitMs: Date.now() - submittingAt }, "certificate submitted");
      return true;
    } catch (e) {
      log.info({ reason: revertReason(e) }, "certificate not submitted (already recorded?)");
      return false;
    }
  }

  /** Byzantine behaviour for the demo and tests: a second, conflicting signed vote, made public. */
  private async equivocate(vote: Vote): Promise<void> {
    const o = this.o;
    const flipped: Vote = { ...vote, verdict: vote.verdict === Verdict.Trusted ? Verdict.Untrusted : Verdict.Trusted, score: 100 - vote.score };
    const signature = await this.voteSigner.signVote(flipped);
    o.log.warn({ round: vote.round.toString() }, "BYZANTINE: publishing a conflicting signed vote");
    await o.host.publish({
      type: MessageType.VoteAnnounce,
      round: vote.round,
      payload: encodeRoundPayload({
        kind: "vote",
        vote: { round: flipped.round.toString(), node: flipped.node.toString(), verdict: flipped.verdict, score: flipped.score, evidenceCid: flipped.evidenceCid, policyCid: flipped.policyCid },
        signature,
      }),
    });
  }
}

/** True when a compressed secp256k1 key hashes to the gateway address. */
function publicKeyMatches(compressed: Hex, gateway: Address): boolean {
  try {
    return addressOfPublicKey(hexToBytes(compressed.slice(2))).toLowerCase() === gateway.toLowerCase();
  } catch {
    return false;
  }
}

