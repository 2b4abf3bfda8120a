/**
 * The target side of an attestation round (ARCHITECTURE steps 2-5). A verifier's request
 * arrives as a signed envelope; this gateway
 *  - drops it unless its VrfClaim is signed by the requester's registered gateway key;
 *  - checks the VRF proof, and files a VRF-fraud dispute when a validly signed claim
 *    carries an invalid proof or an output above the epoch threshold;
 *  - asks its own HPC over the attested bridge with a FRESH gateway nonce, never the
 *    verifier's: sha256(random || verifierNonce), so the quote still commits to it;
 *  - answers with the evidence, wrapped with the verifier's nonce, in an envelope signed
 *    by the gateway key.
 * One bad request never stops the service: every failure is logged and counted.
 */
import { randomBytes } from "node:crypto";
import type { Address, Hex } from "viem";
import { decodeRoundId, Role, sortitionAlpha } from "../core/protocol.js";
import { isTrustmeshError } from "../core/errors.js";
import type { AgentClient } from "../attest/bridge/client.js";
import type { ReceivedMessage, TrustmeshHost } from "../p2p/host.js";
import { MessageType } from "../p2p/topics.js";
import { NODE_RECORD_MAX_AGE_MS, type GatewayChain } from "./chain-context.js";
import type { GatewayJournal } from "./journal.js";
import type { Logger } from "./logger.js";
import { revertReason } from "./revert-reason.js";
import type { Metrics } from "./metrics.js";
import { decodeRoundPayload, encodeRoundPayload, MAX_BATCHED_NONCES, type AttestRequestPayload, type AttestResponsePayload } from "./round-messages.js";
import { gatewayNonceFor } from "./assess.js";
import { checkVerifierClaim, claimSigner, fastVerifyHelpers, hexBytes } from "./vrf-claims.js";
import { hexOf } from "../core/hex.js";

export interface AttestationServiceOptions {
  nodeId: bigint;
  host: TrustmeshHost;
  chain: GatewayChain;
  journal: GatewayJournal;
  /** The bridge to this gateway's HPC agent (reconnected by the caller when it drops). */
  agent: () => Promise<AgentClient>;
  /** What enrolment stored for this HPC. */
  identity: { akPublic: string; ekCertDigest: Hex };
  log: Logger;
  metrics: Metrics;
  /** File VRF-fraud disputes on chain (on by default). */
  fileDisputes?: boolean;
}

/** Batching of concurrent requests into one quote: a lull this long, at most this long in all. */
const GATHER_QUIET_MS = 15;
const GATHER_MAX_MS = 60;

interface PendingRequest {
  round: bigint;
  requester: bigint;
  req: AttestRequestPayload;
}

export class AttestationService {
  private unsubscribe: (() => void) | undefined;
  private readonly queue: PendingRequest[] = [];
  private busy = false;
  private gatherTimer: NodeJS.Timeout | undefined;
  private firstQueuedAt: number | undefined;
  private readonly disputed = new Set<string>();

  constructor(private readonly o: AttestationServiceOptions) {}

  start(): void {
    this.unsubscribe = this.o.host.subscribe("attestation", (m) => {
      if (m.envelope.type !== MessageType.AttestRequest) return;
      void this.onRequest(m).catch((e: unknown) => {
        this.o.metrics.inc("attestation_requests_rejected");
        this.o.log.warn({ err: e, from: m.envelope.sender.toString() }, "attestation request failed");
      });
    });
  }

  stop(): void {
    this.unsubscribe?.();
    clearTimeout(this.gatherTimer);
  }

  private async onRequest(m: ReceivedMessage): Promise<void> {
    const { metrics, log } = this.o;
    let req: AttestRequestPayload;
    try {
      const p = decodeRoundPayload(m.envelope.payload);
      if (p.kind !== "request") throw new TypeError(`expected a request, got ${p.kind}`);
      req = p;
    } catch (e) {
      metrics.inc("attestation_requests_rejected");
      this.o.host.admissions.penalise(m.from);
      log.debug({ err: e }, "malformed attestation request dropped");
      return;
    }
    if (BigInt(req.target) !== this.o.nodeId) return; // someone else's round
    metrics.inc("attestation_requests_received");
    const round = m.envelope.round;
    const requester = m.envelope.sender;
    const { node: roundTarget, epoch } = decodeRoundId(round);
    if (roundTarget !== this.o.nodeId || requester === this.o.nodeId) {
      metrics.inc("attestation_requests_rejected");
      return;
    }

    // Registry events evict the cached record (chain-context), so an older copy is safe here.
    const requesterNode = await this.o.chain.node(requester, NODE_RECORD_MAX_AGE_MS);
    const ctx = { chainId: this.o.chain.chainId, board: this.o.chain.addresses.board };
    const signer = await claimSigner(ctx, round, req.claim.proof, req.claim.signature);
    if (signer === null || signer.toLowerCase() !== requesterNode.gateway.toLowerCase()) {
      // A bad signature proves nothing against anyone: drop it, lower the peer's score.
      metrics.inc("attestation_requests_rejected");
      this.o.host.admissions.penalise(m.from);
      log.warn({ requester: requester.toString(), round: round.toString() }, "request with a bad claim signature dropped");
      return;
    }
    const epochInfo = await this.o.chain.epoch(epoch);
    const check = checkVerifierClaim(requesterNode.vrfPublicKey, epochInfo, round, req.claim.proof);
    if (!check.ok) {
      metrics.inc("vrf_fraud_detected");
      log.warn({ requester: requester.toString(), round: round.toString(), reason: check.reason }, "signed VRF claim is fraudulent");
      if (this.o.fileDisputes !== false) await this.disputeClaim(round, epochInfo.seed, requesterNode.vrfPublicKey, req, signer);
      return;
    }

    this.enqueue({ round, requester, req });
  }

  /**
   * Requests that arrive while the TPM is busy wait for the next quote and share it: the
   * gateway nonce commits to all their verifier nonces, so one quote answers a whole
   * committee instead of one quote per verifier.
   */
  private enqueue(item: PendingRequest): void {
    this.queue.push(item);
    if (this.busy) return;
    // The committee's requests arrive within a few ms of each other: wait for a short lull
    // (bounded) so that one quote answers all of them instead of one, then the rest.
    const now = Date.now();
    this.firstQueuedAt ??= now;
    clearTimeout(this.gatherTimer);
    const wait = Math.min(GATHER_QUIET_MS, Math.max(0, this.firstQueuedAt + GATHER_MAX_MS - now));
    this.gatherTimer = setTimeout(() => {
      this.gatherTimer = undefined;
      this.firstQueuedAt = undefined;
      if (!this.busy) void this.drain();
    }, wait);
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        const selectionKey = JSON.stringify(this.queue[0]?.req.selection);
        const batch: PendingRequest[] = [];
        for (let i = 0; i < this.queue.length && batch.length < MAX_BATCHED_NONCES; ) {
          const item = this.queue[i] as PendingRequest;
          if (JSON.stringify(item.req.selection) === selectionKey && !batch.some((b) => b.req.verifierNonce === item.req.verifierNonce)) {
            batch.push(item);
            this.queue.splice(i, 1);
          } else i++;
        }
        await this.answer(batch);
      }
    } finally {
      this.busy = false;
    }
  }

  private async answer(batch: PendingRequest[]): Promise<void> {
    const nonces = batch.map((b) => b.req.verifierNonce).sort();
    const gatewayRandom = await this.o.journal.freshNonce();
    const gatewayNonce = gatewayNonceFor(gatewayRandom, nonces.map(hexBytes));
    let reply: Awaited<ReturnType<AgentClient["quote"]>>;
    try {
      const agent = await this.o.agent();
      reply = await agent.quote({ selection: (batch[0] as PendingRequest).req.selection, include: ["eventlog", "fingerprint", "scratch", "tasks"], nonce: gatewayNonce });
    } catch (e) {
      this.o.metrics.inc("bridge_errors");
      this.o.log.error({ err: e, requests: batch.length }, "HPC agent did not produce evidence");
      await Promise.all(
        batch.map((b) =>
          this.o.host
            .sendDirect(b.requester, {
              type: MessageType.AttestResponse,
              round: b.round,
              payload: encodeRoundPayload({
                kind: "refusal",
                target: this.o.nodeId.toString(),
                verifierNonce: b.req.verifierNonce,
                code: isTrustmeshError(e) ? e.code : "AGENT_FAILED",
                message: isTrustmeshError(e) ? e.shortMessage : "agent failed",
              }),
            })
            .catch(() => undefined),
        ),
      );
      return;
    }
    await Promise.all(
      batch.map(async (b) => {
        const response: AttestResponsePayload = {
          kind: "response",
          target: this.o.nodeId.toString(),
          requester: b.requester.toString(),
          verifierNonce: b.req.verifierNonce,
          verifierNonces: nonces,
          gatewayRandom: hexOf(gatewayRandom),
          channelBinding: `0x${reply.channelBinding.toString("hex")}`,
          ekCertDigest: this.o.identity.ekCertDigest,
          akPublic: this.o.identity.akPublic,
          evidence: reply.evidence,
        };
        try {
          await this.o.host.sendDirect(b.requester, { type: MessageType.AttestResponse, round: b.round, payload: encodeRoundPayload(response) });
        } catch (e) {
          this.o.log.warn({ err: e, requester: b.requester.toString() }, "could not deliver evidence");
        }
      }),
    );
  }

  private async disputeClaim(round: bigint, seed: Uint8Array, key: readonly [bigint, bigint], req: AttestRequestPayload, signer: Address): Promise<void> {
    const id = `${signer}:${round}`;
    if (this.disputed.has(id)) return;
    this.disputed.add(id);
    const alpha = sortitionAlpha(seed, round, Role.Verifier);
    try {
      const tx = await this.o.chain.disputeVrfFraud(
        { round, role: Role.Verifier, proof: req.claim.proof },
        req.claim.signature,
        fastVerifyHelpers(key, req.claim.proof, alpha),
        { signers: [], vrfOutputs: [] },
      );
      this.o.metrics.inc("disputes_filed");
      this.o.log.info({ signer, round: round.toString(), tx }, "VRF fraud disputed on chain");
    } catch (e) {
      this.o.log.warn({ reason: revertReason(e), signer, round: round.toString() }, "VRF fraud dispute not accepted");
    }
  }
}
