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
import type { GatewayChain } from "./chain-context.js";
import type { GatewayJournal } from "./journal.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { decodeRoundPayload, encodeRoundPayload, type AttestRequestPayload, type AttestResponsePayload } from "./round-messages.js";
import { gatewayNonceFor } from "./assess.js";
import { checkVerifierClaim, claimSigner, fastVerifyHelpers, hexBytes } from "./vrf-claims.js";

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

export class AttestationService {
  private unsubscribe: (() => void) | undefined;
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

    const requesterNode = await this.o.chain.node(requester);
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

    const gatewayRandom = await this.o.journal.freshNonce();
    const gatewayNonce = gatewayNonceFor(gatewayRandom, hexBytes(req.verifierNonce));
    let response: AttestResponsePayload;
    try {
      const agent = await this.o.agent();
      const reply = await agent.quote({ selection: req.selection, include: ["eventlog", "fingerprint", "scratch", "counters"], nonce: gatewayNonce });
      response = {
        kind: "response",
        target: this.o.nodeId.toString(),
        requester: requester.toString(),
        verifierNonce: req.verifierNonce,
        gatewayRandom: `0x${Buffer.from(gatewayRandom).toString("hex")}`,
        channelBinding: `0x${reply.channelBinding.toString("hex")}`,
        ekCertDigest: this.o.identity.ekCertDigest,
        akPublic: this.o.identity.akPublic,
        evidence: reply.evidence,
      };
    } catch (e) {
      metrics.inc("bridge_errors");
      log.error({ err: e, round: round.toString() }, "HPC agent did not produce evidence");
      await this.o.host.sendDirect(requester, {
        type: MessageType.AttestResponse,
        round,
        payload: encodeRoundPayload({
          kind: "refusal",
          target: this.o.nodeId.toString(),
          verifierNonce: req.verifierNonce,
          code: isTrustmeshError(e) ? e.code : "AGENT_FAILED",
          message: isTrustmeshError(e) ? e.shortMessage : "agent failed",
        }),
      });
      return;
    }
    await this.o.host.sendDirect(requester, { type: MessageType.AttestResponse, round, payload: encodeRoundPayload(response) });
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
      this.o.log.warn({ err: e, signer, round: round.toString() }, "VRF fraud dispute not accepted");
    }
  }
}
