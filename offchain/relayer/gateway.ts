/**
 * The gateway daemon: one libp2p host, the chain client, the bridge to its own HPC agent,
 * the attestation service (target side), the verifier role, the monitoring schedule, the
 * failed-verdict actions, and the local status endpoint. Everything is started and stopped
 * here; the services themselves know nothing of each other.
 */
import { privateKeyToAccount } from "viem/accounts";
import type { Address, Hex, LocalAccount } from "viem";
import { AgentClient } from "../attest/bridge/client.js";
import type { StaticKeyPair } from "../attest/bridge/noise.js";
import { createTrustmeshHost, type TrustmeshHost } from "../p2p/host.js";
import { secretKeyGatewaySigner } from "../p2p/signer.js";
import { admissionScope } from "../p2p/registry-view.js";
import { GatewayRegistryView } from "./gateway-registry-view.js";
import { NodeStatus, Verdict } from "../core/protocol.js";
import { retryWorthwhile, roundSchedule } from "../core/schedule.js";
import type { ContentStore } from "../../ipfs/adapter/index.js";
import { epochClockAbi } from "../chain/artifacts.js";
import { AttestationService } from "./attestation-service.js";
import type { GatewayChain } from "./chain-context.js";
import type { FailedVerdictAction } from "./config.js";
import type { GatewayJournal } from "./journal.js";
import type { Logger } from "./logger.js";
import { Metrics } from "./metrics.js";
import { startStatusServer, type StatusServer } from "./status-server.js";
import { VerifierService, type VerifierOptions, type VerifierParams } from "./verifier.js";
import { resumePendingRounds } from "./round-resume.js";
import { TaskRoundService } from "./task-rounds.js";
import type { TaskRoundPhase } from "../core/protocol.js";
import type { HpcIdentity } from "./enrolment.js";

/** How often lost bootstrap peers are dialled again. */
const BOOTSTRAP_REDIAL_MS = 3_000;

/** Retry round ids: the scheduled sequence plus attempt * 2^32 (schedules stay far below 2^32 rounds). */
export const RETRY_SEQUENCE_STEP = 1n << 32n;
const MAX_RETRIES = 1;
/** Gas for EpochClock.openEpoch (a seed, a threshold from the eligible count, one slot). */
const OPEN_EPOCH_GAS = 300_000n;
/** Tickets are drawn this long before a round starts (VerifierService.prepare). */
const PREPARE_AHEAD_MS = 1_500;

export interface GatewayRuntime {
  name: string;
  nodeId: bigint;
  gatewaySecret: Hex;
  vrfSecret: Uint8Array;
  chain: GatewayChain;
  store: ContentStore;
  journal: GatewayJournal;
  log: Logger;
  metrics?: Metrics;
  agent: { host: string; port: number; publicKey: Uint8Array; staticKey: StaticKeyPair; rekeyIntervalMs: number };
  identity: HpcIdentity;
  verifier: VerifierParams & { meanIntervalMs: number };
  p2p: { listen: string[]; bootstrap: string[]; gossipSignaturePolicy?: "StrictSign" | "StrictNoSign" };
  statusPort?: number;
  onFailedVerdict: FailedVerdictAction;
  /** What "reboot" and "stop-task" do on this machine (PXE power cycle, task runner...). */
  actions?: {
    /** Power-cycles the HPC, booting it with this nonce (random when absent; a task's post-run boot passes core/boot-nonce.ts's). */
    reboot?: (bootNonce?: Uint8Array) => Promise<void>;
    stopTask?: () => Promise<void>;
  };
  byzantine?: "equivocate";
  sandbox?: VerifierOptions["sandbox"];
  onRoundTiming?: VerifierOptions["onTiming"];
  /** Do not attest until beginAttestation() (a devnet connects its gateways first). */
  deferAttestation?: boolean;
}

export class Gateway {
  readonly metrics: Metrics;
  readonly account: LocalAccount;
  private host!: TrustmeshHost;
  private agentClient: AgentClient | undefined;
  private attestation!: AttestationService;
  readonly verifier!: VerifierService;
  private registryView!: GatewayRegistryView;
  private status: StatusServer | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private scheduledEpoch = -1n;
  private epochTimer: NodeJS.Timeout | undefined;
  private running = false;
  private attesting = false;
  private readonly startedAt = Date.now();
  private readonly outcomes: { round: string; kind: string }[] = [];
  /** Why the last re-dial of each bootstrap address that is still not admitted failed (status). */
  private readonly redialFailures = new Map<string, string>();
  private unsubscribeChain: (() => void) | undefined;
  private unsubscribeAdmissions: (() => void) | undefined;
  private unsubscribeOwnScope: (() => void) | undefined;
  /** Orders concurrent own-scope reads: only the latest one's answer is applied. */
  private ownScopeReads = 0;
  private failedVerdicts = 0;
  private taskRounds: TaskRoundService | undefined;
  /** Outcomes of the rounds rejoined at start (settles; never rejects). */
  resumed: Promise<{ round: string; kind: string }[]> = Promise.resolve([]);

  constructor(readonly rt: GatewayRuntime) {
    this.metrics = rt.metrics ?? new Metrics();
    this.account = privateKeyToAccount(rt.gatewaySecret);
  }

  get peerAddresses(): string[] {
    return this.host.multiaddrs.map((m) => m.toString());
  }

  get statusUrl(): string | undefined {
    return this.status?.url;
  }

  get p2p(): TrustmeshHost {
    return this.host;
  }

  /** The bridge to the HPC agent; reconnected when the channel dropped. */
  private readonly agent = async (): Promise<AgentClient> => {
    if (this.agentClient && !this.agentClient.channel.isClosed) return this.agentClient;
    const a = this.rt.agent;
    this.agentClient = await AgentClient.connect({ host: a.host, port: a.port, staticKey: a.staticKey, agentKey: a.publicKey, rekeyIntervalMs: a.rekeyIntervalMs });
    return this.agentClient;
  };

  async start(): Promise<void> {
    const rt = this.rt;
    this.registryView = new GatewayRegistryView(rt.chain, rt.verifier.quorum);
    this.host = await createTrustmeshHost({
      // Native libsecp256k1 signing, same bytes as the viem account: every envelope is signed.
      signer: secretKeyGatewaySigner(rt.gatewaySecret),
      nodeId: rt.nodeId,
      chainId: rt.chain.chainId,
      registry: this.registryView,
      listen: rt.p2p.listen,
      heartbeatIntervalMs: 500,
      ...(rt.p2p.gossipSignaturePolicy ? { gossipSignaturePolicy: rt.p2p.gossipSignaturePolicy } : {}),
    });
    await this.host.start();
    // Before any role subscribes: the topics this node joins follow its own standing.
    await this.refreshOwnScope();
    this.unsubscribeOwnScope = this.registryView.onChange((c) => {
      // The gateway registry view names the node of every change (a rotation of this
      // node's key included).
      if (c.nodeId === rt.nodeId) void this.refreshOwnScope();
    });
    this.host.onRejected((r) => {
      this.metrics.inc("p2p_messages_rejected");
      rt.log.debug({ topic: r.topic, reason: r.reason, detail: r.detail }, "p2p message rejected");
    });
    // A refusal cuts a peer off for a while: the one p2p event an operator must see.
    this.unsubscribeAdmissions = this.host.admissions.onEvent((e) => {
      if (e.kind === "denied") {
        this.metrics.inc("p2p_peers_denied");
        rt.log.warn({ peer: e.peerId, reason: e.reason }, "peer refused");
      }
    });
    this.attestation = new AttestationService({
      nodeId: rt.nodeId,
      host: this.host,
      chain: rt.chain,
      journal: rt.journal,
      agent: this.agent,
      identity: { akPublic: rt.identity.akPublic, ekCertDigest: rt.identity.ekCertDigest },
      log: rt.log,
      metrics: this.metrics,
    });
    this.attestation.start();
    (this as { verifier: VerifierService }).verifier = new VerifierService({
      nodeId: rt.nodeId,
      account: this.account,
      gatewaySecret: rt.gatewaySecret,
      vrfSecret: rt.vrfSecret,
      host: this.host,
      chain: rt.chain,
      journal: rt.journal,
      store: rt.store,
      log: rt.log,
      metrics: this.metrics,
      params: rt.verifier,
      byzantine: rt.byzantine,
      sandbox: rt.sandbox,
      onTiming: rt.onRoundTiming,
    });
    this.verifier.start();
    this.taskRounds = new TaskRoundService({
      nodeId: rt.nodeId,
      host: this.host,
      chain: rt.chain,
      log: rt.log,
      metrics: this.metrics,
      run: (round, startMs, info) => {
        this.verifier.prepare(round, info);
        void this.runRound(round, startMs, info);
      },
      attesting: () => this.attesting,
    });
    this.taskRounds.start();
    this.unsubscribeChain = rt.chain.onEvent((e) => {
      if (e.eventName === "EpochOpened" && this.attesting) void this.scheduleEpoch();
      if (e.eventName === "EpochOpened") {
        // Keep only the votes of rounds the chain may still record; the window is read from
        // the chain each time (governance may change it). A failed read leaves the journal
        // as it is until the next epoch.
        const opened = e.args.epoch as bigint;
        rt.journal
          .compactForEpoch(opened, () => rt.chain.maxRoundAge())
          .then((c) => {
            if (c) rt.log.debug({ epoch: opened.toString(), floor: c.floorEpoch.toString(), votes: c.votes, rounds: c.rounds }, "journal compacted");
          })
          .catch((err: unknown) => rt.log.warn({ err, epoch: opened.toString() }, "journal compaction skipped"));
      }
      if (e.eventName === "VerdictRecorded" && (e.args.node as bigint) === rt.nodeId && Number(e.args.verdict) === Verdict.Untrusted) {
        void this.onFailedVerdict(e.args.round as bigint);
      }
    });
    rt.chain.follow();
    for (const addr of rt.p2p.bootstrap) {
      await this.host.dial(addr).catch((e: unknown) => rt.log.warn({ err: e, addr }, "bootstrap dial failed"));
    }
    this.armBootstrapRedial();
    if (rt.statusPort !== undefined) {
      this.status = await startStatusServer({ port: rt.statusPort, metrics: this.metrics, status: () => this.statusReport() });
    }
    this.running = true;
    // Rounds a crash interrupted: rejoined (or closed) from the journal, in the background.
    this.resumed = resumePendingRounds({
      journal: rt.journal,
      isRecorded: (round) => rt.chain.isRecorded(round),
      resume: (r) => this.verifier.resume(r),
      log: rt.log,
      roundTimeoutMs: rt.verifier.roundTimeoutMs,
    })
      .then((outcomes) => {
        for (const o of outcomes) this.outcomes.push({ round: o.round, kind: `resumed-${o.kind}` });
        return outcomes;
      })
      .catch((e: unknown) => {
        rt.log.error({ err: e }, "resuming interrupted rounds failed");
        return [];
      });
    if (!rt.deferAttestation) await this.beginAttestation();
    rt.log.info({ nodeId: rt.nodeId.toString(), peer: this.host.peerId.toString(), addrs: this.peerAddresses }, "gateway started");
  }

  async stop(): Promise<void> {
    this.running = false;
    this.attesting = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.epochTimer) clearTimeout(this.epochTimer);
    this.unsubscribeChain?.();
    this.unsubscribeAdmissions?.();
    this.unsubscribeOwnScope?.();
    this.rt.chain.stopFollowing();
    this.taskRounds?.stop();
    this.verifier?.stop();
    this.attestation?.stop();
    this.registryView?.close();
    this.agentClient?.close();
    await this.status?.close();
    await this.host?.stop();
    await this.rt.journal.close();
  }

  /**
   * Joins the topics of the scope this node's peers admit it with (see TrustmeshHost.
   * setOwnScope): a Registered node after bootstrap, or an Untrusted one, stays on the
   * attestation topic only, so its peers keep it connected and can attest it.
   */
  private async refreshOwnScope(): Promise<void> {
    const read = ++this.ownScopeReads;
    try {
      const scope = admissionScope(await this.registryView.getNodeByGateway(this.account.address));
      if (read !== this.ownScopeReads || !this.host || scope === this.host.scope) return;
      this.rt.log.info({ scope, previous: this.host.scope }, "own network scope changed");
      this.host.setOwnScope(scope);
    } catch (e) {
      // The old scope stays; the next registry change reads it again.
      this.rt.log.warn({ err: e }, "cannot read this node's own registry record");
    }
  }

  statusReport(): Record<string, unknown> {
    return {
      name: this.rt.name,
      nodeId: this.rt.nodeId.toString(),
      gateway: this.account.address,
      peerId: this.host?.peerId.toString(),
      peers: this.host?.admittedPeers().length ?? 0,
      scope: this.host?.scope,
      // Who this gateway admits and is connected to: what an operator (or a test) checks
      // first when a peer says it is not admitted.
      admitted: this.host?.admittedPeers().map((p) => ({ nodeId: p.nodeId.toString(), scope: p.scope })) ?? [],
      connections: this.host?.libp2p.getConnections().map((c) => c.remotePeer.toString()) ?? [],
      bootstrapRedials: this.metrics.get("bootstrap_redials"),
      bootstrapFailures: Object.fromEntries(this.redialFailures),
      // Peers this gateway refuses at its own gate, and why: a re-dial "blocked by gater"
      // above is explained here.
      denied: this.host?.admissions.denied() ?? [],
      uptimeMs: Date.now() - this.startedAt,
      scheduledEpoch: this.scheduledEpoch.toString(),
      pendingRounds: this.rt.journal.pendingRounds().length,
      failedVerdicts: this.failedVerdicts,
      recentRounds: this.outcomes.slice(-20),
    };
  }

  /**
   * Starts the monitoring schedule and the epoch opener (start() does it, unless the
   * runtime defers it: a devnet first connects its gateways to each other).
   */
  async beginAttestation(): Promise<void> {
    if (this.attesting || !this.running) return;
    this.attesting = true;
    await this.scheduleEpoch();
    this.armEpochOpener();
  }

  /**
   * Monitoring: every node is attested at times drawn from the epoch seed (exponential
   * gaps of the configured mean), so the schedule is constant, frequent and unpredictable
   * before the epoch opens, and every gateway derives the same one.
   */
  private async scheduleEpoch(): Promise<void> {
    const { chain, log } = this.rt;
    let epoch: bigint;
    try {
      epoch = await chain.currentEpoch();
    } catch (e) {
      log.warn({ err: e }, "cannot read the current epoch; retrying on the next event");
      return;
    }
    if (epoch <= this.scheduledEpoch || !this.running) return;
    this.scheduledEpoch = epoch;
    // Read side by side: the first rounds of the epoch may be due within moments.
    const [info, durationRaw, count, head] = await Promise.all([
      chain.epoch(epoch),
      chain.publicClient.readContract({ address: chain.addresses.epochs, abi: epochClockAbi, functionName: "epochDuration" }),
      chain.nodeCount(),
      chain.publicClient.getBlock({ blockTag: "latest" }),
    ]);
    const duration = BigInt(durationRaw);
    const nodes = await Promise.all(Array.from({ length: Number(count) }, (_, i) => chain.node(BigInt(i + 1), 0)));
    const now = Date.now();
    // Schedules are in chain time; a chain whose clock runs ahead of ours (many blocks per
    // second on a dev chain) shifts every start by the same amount.
    const chainAheadMs = Math.max(0, Number(head.timestamp) * 1000 - now);
    let scheduled = 0;
    for (const n of nodes) {
      const node = n.nodeId;
      if (node === this.rt.nodeId) continue;
      if (n.status !== NodeStatus.Registered && n.status !== NodeStatus.Trusted && n.status !== NodeStatus.Untrusted) continue;
      const rounds = roundSchedule({
        seed: info.seed,
        epoch,
        node,
        epochStartMs: Number(info.start) * 1000,
        epochLengthMs: Number(duration) * 1000,
        meanIntervalMs: this.rt.verifier.meanIntervalMs,
      });
      for (const [k, r] of rounds.entries()) {
        const localStart = r.startMs - chainAheadMs;
        const next = rounds[k + 1];
        // A round whose start passed (a restart, an epoch learnt late) is not run, nor
        // retried: its committee has gone, and the node's next round comes soon enough.
        if (localStart < now - this.rt.verifier.revealWindowMs / 2) continue;
        this.at(localStart - PREPARE_AHEAD_MS, () => this.verifier.prepare(r.round, info));
        this.at(localStart, () => void this.runRound(r.round, localStart, info));
        this.armRetry(r.round, localStart, next === undefined ? undefined : next.startMs - chainAheadMs, info, 1);
        scheduled++;
      }
    }
    log.info({ epoch: epoch.toString(), rounds: scheduled }, "epoch scheduled");
  }

  /** Runs `fn` at wall-clock time `atMs` (now if past), unless the gateway stops first. */
  private at(atMs: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) fn();
    }, Math.max(0, atMs - Date.now()));
    this.timers.add(t);
  }

  /**
   * A round that is not on chain `retryDelayMs` after its start (no committee, an agent
   * that did not answer, a PBFT instance that did not decide) is run again, under the id
   * `round + attempt * RETRY_SEQUENCE_STEP`: every gateway reads the same chain and derives
   * the same id and start, so the retry gets a committee of its own, and its sortition is
   * a fresh VRF draw. Without it a node whose rounds fail could go unattested for epochs.
   * A round whose node has another round scheduled before the retry would start is not
   * retried (retryWorthwhile): that round attests the node anyway.
   */
  private armRetry(round: bigint, startMs: number, nextScheduledStartMs: number | undefined, info: Awaited<ReturnType<GatewayChain["epoch"]>>, attempt: number): void {
    if (attempt > MAX_RETRIES) return;
    const retryStart = startMs + this.retryDelayMs;
    if (!retryWorthwhile(nextScheduledStartMs, retryStart)) return;
    // Only a retry whose reveal window is still open can gather a committee.
    if (retryStart + this.rt.verifier.revealWindowMs <= Date.now()) {
      this.armRetry(round, retryStart, nextScheduledStartMs, info, attempt + 1);
      return;
    }
    // Every earlier id of this round (the scheduled one, the retries): one record is enough.
    const earlier = Array.from({ length: attempt }, (_, k) => round + BigInt(k) * RETRY_SEQUENCE_STEP);
    this.at(retryStart, () => {
      void Promise.all(earlier.map((id) => this.rt.chain.isRecorded(id))).then(
        (recorded) => {
          if (recorded.some(Boolean) || !this.running) return;
          const retry = round + BigInt(attempt) * RETRY_SEQUENCE_STEP;
          this.rt.log.info({ round: round.toString(), retry: retry.toString(), attempt }, "round not recorded: retrying");
          void this.runRound(retry, retryStart, info);
          this.armRetry(round, retryStart, nextScheduledStartMs, info, attempt + 1);
        },
        (e: unknown) => this.rt.log.warn({ err: e, round: round.toString() }, "cannot read the round's record; no retry"),
      );
    });
  }

  private get retryDelayMs(): number {
    return this.rt.verifier.retryDelayMs ?? this.rt.verifier.roundTimeoutMs;
  }

  private async runRound(round: bigint, startMs: number, info: Awaited<ReturnType<GatewayChain["epoch"]>>): Promise<void> {
    try {
      const outcome = await this.verifier.runRound(round, startMs, info);
      if (outcome.kind !== "not-selected") {
        this.outcomes.push({ round: round.toString(), kind: outcome.kind });
        if (this.outcomes.length > 100) this.outcomes.shift();
      }
    } catch (e) {
      this.rt.log.error({ err: e, round: round.toString() }, "round failed");
    }
  }

  /**
   * Bootstrap peers that are not (or no longer) admitted are dialled again every few
   * seconds: a first dial refused while the peer was busy or restarting, or a connection
   * that dropped, must not leave this gateway outside the mesh and without rounds.
   */
  private armBootstrapRedial(): void {
    const { rt } = this;
    if (rt.p2p.bootstrap.length === 0) return;
    const tick = async (): Promise<void> => {
      if (!this.running) return;
      const admitted = new Set(this.host.admittedPeers().map((p) => p.peerId));
      const lost = rt.p2p.bootstrap.filter((addr) => {
        const peer = /\/p2p\/([^/]+)$/.exec(addr)?.[1];
        // Without a peer id in the address only an empty mesh says it is unreachable.
        return peer === undefined ? admitted.size === 0 : !admitted.has(peer);
      });
      for (const addr of [...this.redialFailures.keys()]) if (!lost.includes(addr)) this.redialFailures.delete(addr);
      await Promise.all(
        lost.map((addr) =>
          this.host.dial(addr).then(
            () => this.redialFailures.set(addr, "dialled; not admitted yet"),
            (e: unknown) => {
              this.redialFailures.set(addr, e instanceof Error ? e.message.slice(0, 300) : String(e));
              rt.log.debug({ err: e, addr }, "bootstrap re-dial failed");
            },
          ),
        ),
      );
      if (lost.length > 0) this.metrics.inc("bootstrap_redials", lost.length);
      this.at(Date.now() + BOOTSTRAP_REDIAL_MS, () => void tick());
    };
    this.at(Date.now() + BOOTSTRAP_REDIAL_MS, () => void tick());
  }

  /**
   * Asks for a task attestation round now: of this node (pre-run before claiming a task's
   * key, post-run after rebooting its HPC), or a post-run round of another executor (anyone
   * may once its reboot grace has passed, so a silent executor cannot dodge it); returns the
   * round id. See task-rounds.ts.
   */
  async requestTaskRound(taskId: bigint, phase: TaskRoundPhase, attempt = 0, node = this.rt.nodeId): Promise<bigint> {
    if (!this.taskRounds) throw new Error("gateway not started");
    return this.taskRounds.request(taskId, phase, attempt, node);
  }

  /** Anyone may open the next epoch once it is due; gateways do, staggered by node id. */
  private armEpochOpener(): void {
    const tick = async (): Promise<void> => {
      if (!this.running) return;
      const { chain } = this.rt;
      try {
        const due = BigInt(await chain.publicClient.readContract({ address: chain.addresses.epochs, abi: epochClockAbi, functionName: "nextEpochAt" }));
        const block = await chain.publicClient.getBlock({ blockTag: "latest" });
        const wallNow = BigInt(Math.floor(Date.now() / 1000));
        const now = block.timestamp > wallNow ? block.timestamp : wallNow;
        if (now >= due + this.rt.nodeId - 1n) {
          // The stagger keeps gateways from racing each other for it.
          await chain.openEpoch(OPEN_EPOCH_GAS);
        }
      } catch {
        // Someone else opened it first, or the RPC hiccuped: the next tick tries again.
      }
      if (this.running) this.epochTimer = setTimeout(() => void tick(), 1000);
    };
    this.epochTimer = setTimeout(() => void tick(), 1000);
  }

  private async onFailedVerdict(round: bigint): Promise<void> {
    this.failedVerdicts++;
    this.metrics.inc("failed_verdict_actions");
    const action = this.rt.onFailedVerdict;
    this.rt.log.error({ round: round.toString(), action }, "this gateway's HPC was found Untrusted");
    try {
      if (action === "reboot") await this.rt.actions?.reboot?.();
      else if (action === "stop-task") await this.rt.actions?.stopTask?.();
    } catch (e) {
      this.rt.log.error({ err: e, action }, "failed-verdict action failed");
    }
  }
}
