/**
 * Payloads of the attestation round's messages. They travel inside the P2P layer's signed
 * envelopes (which carry type, round, sender node and the gateway signature), so these
 * are only the round-specific fields, JSON-encoded and validated field by field: a bad
 * payload is a typed error, never an exception from deep inside.
 */
import { TrustmeshError } from "../core/errors.js";
import type { Evidence } from "../attest/bridge/client.js";
import type { SelectionJson } from "../attest/bridge/messages.js";

export class RoundMessageError extends TrustmeshError {
  override name = "RoundMessageError";
}

const HEX = /^0x(?:[0-9a-f]{2})*$/;

/** A selected verifier asks the target's gateway for evidence (ARCHITECTURE step 2). */
export interface AttestRequestPayload {
  kind: "request";
  target: string;
  /** 32 bytes, hex: the verifier's freshness nonce. */
  verifierNonce: `0x${string}`;
  selection: SelectionJson;
  /** The signed sortition claim: the VRF proof (81 bytes) and the EIP-712 VrfClaim signature. */
  claim: { proof: `0x${string}`; signature: `0x${string}` };
}

/** The target's gateway answers with its HPC's evidence (step 5); the envelope signs it. */
export interface AttestResponsePayload {
  kind: "response";
  target: string;
  requester: string;
  verifierNonce: `0x${string}`;
  /**
   * Every verifier nonce this quote answers (ascending). Requests that arrive while the
   * TPM is busy share the next quote, so one quote serves a whole committee.
   */
  verifierNonces: `0x${string}`[];
  /** The gateway nonce sent to the HPC is sha256(gatewayRandom || verifierNonces...). */
  gatewayRandom: `0x${string}`;
  /** Handshake hash of the gateway<->agent channel the quote is bound to. */
  channelBinding: `0x${string}`;
  /** Digest of the EK certificate enrolled for this HPC (bytes32, zero for a software TPM). */
  ekCertDigest: `0x${string}`;
  /** The agent's public AK (TPM2B_PUBLIC hex) as reported at enrolment. */
  akPublic: string;
  evidence: Evidence;
}

/** A selected verifier announces itself once its own assessment is done. */
export interface RevealPayload {
  kind: "reveal";
  target: string;
  proof: `0x${string}`;
  output: `0x${string}`;
  /** EIP-712 VrfClaim signature: makes a false reveal disputable on chain. */
  claimSignature: `0x${string}`;
  /** The gateway's compressed secp256k1 public key (authenticates its PBFT messages). */
  publicKey: `0x${string}`;
}

/**
 * A verifier too busy to join a round says so at once (on the reveal topic), so that the
 * members who did join need not wait out the reveal window for its reveal. It proves
 * nothing and binds nothing: it only lets the wait end early.
 */
export interface DeclinePayload {
  kind: "decline";
  target: string;
}

/** A signed vote made public (single-vote path, or a certificate member's endorsement). */
export interface VoteAnnouncePayload {
  kind: "vote";
  vote: { round: string; node: string; verdict: number; score: number; evidenceCid: `0x${string}`; policyCid: `0x${string}` };
  signature: `0x${string}`;
}

/** The target's gateway could not produce evidence (agent unreachable, bad request...). */
export interface AttestRefusalPayload {
  kind: "refusal";
  target: string;
  verifierNonce: `0x${string}`;
  code: string;
  message: string;
}

/**
 * An executor's gateway asks for a task attestation round of its own node now (the
 * envelope's round id says which task and phase, its timestamp is the round's start).
 */
export interface TaskRoundRequestPayload {
  kind: "task-round";
  target: string;
}

export type RoundPayload = AttestRequestPayload | AttestResponsePayload | RevealPayload | DeclinePayload | AttestRefusalPayload | VoteAnnouncePayload | TaskRoundRequestPayload;

function fail(msg: string): never {
  throw new RoundMessageError("ROUND_PAYLOAD_INVALID", msg);
}

function hexField(o: Record<string, unknown>, k: string, bytes?: number): `0x${string}` {
  const v = o[k];
  if (typeof v !== "string" || !HEX.test(v)) fail(`${k} must be lower-case 0x hex`);
  if (bytes !== undefined && v.length !== 2 + bytes * 2) fail(`${k} must be ${bytes} bytes`);
  return v as `0x${string}`;
}

function decimal(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== "string" || !/^[0-9]{1,20}$/.test(v)) fail(`${k} must be a decimal node id`);
  return v;
}

/** Largest number of verifier nonces one quote may answer. */
export const MAX_BATCHED_NONCES = 64;

function nonceList(v: unknown): `0x${string}`[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_BATCHED_NONCES) fail(`verifierNonces must list 1..${MAX_BATCHED_NONCES} nonces`);
  const list = v.map((x, i) => hexField({ n: x }, "n", 32) ?? fail(`verifierNonces[${i}]`));
  for (let i = 1; i < list.length; i++) if ((list[i - 1] as string) >= (list[i] as string)) fail("verifierNonces must be strictly ascending");
  return list;
}

export function encodeRoundPayload(p: RoundPayload): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(p));
}

export function decodeRoundPayload(bytes: Uint8Array): RoundPayload {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    fail("payload is not UTF-8 JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("payload is not an object");
  const o = json as Record<string, unknown>;
  switch (o.kind) {
    case "request": {
      const claim = o.claim as Record<string, unknown> | undefined;
      if (typeof claim !== "object" || claim === null) fail("claim missing");
      if (!Array.isArray(o.selection)) fail("selection must be an array");
      return {
        kind: "request",
        target: decimal(o, "target"),
        verifierNonce: hexField(o, "verifierNonce", 32),
        selection: o.selection as SelectionJson,
        claim: { proof: hexField(claim, "proof", 81), signature: hexField(claim, "signature", 65) },
      };
    }
    case "response": {
      const ev = o.evidence as Record<string, unknown> | undefined;
      if (typeof ev !== "object" || ev === null || ev.type !== "evidence") fail("evidence missing");
      if (typeof o.akPublic !== "string" || !/^(?:[0-9a-f]{2})+$/.test(o.akPublic)) fail("akPublic must be hex");
      for (const k of ["quote", "signature", "pcrs"]) {
        if (typeof ev[k] !== "string") fail(`evidence.${k} must be a string`);
      }
      return {
        kind: "response",
        target: decimal(o, "target"),
        requester: decimal(o, "requester"),
        verifierNonce: hexField(o, "verifierNonce", 32),
        verifierNonces: nonceList(o.verifierNonces),
        gatewayRandom: hexField(o, "gatewayRandom", 32),
        channelBinding: hexField(o, "channelBinding"),
        ekCertDigest: hexField(o, "ekCertDigest", 32),
        akPublic: o.akPublic,
        evidence: ev as unknown as Evidence,
      };
    }
    case "reveal":
      return {
        kind: "reveal",
        target: decimal(o, "target"),
        proof: hexField(o, "proof", 81),
        output: hexField(o, "output", 32),
        claimSignature: hexField(o, "claimSignature", 65),
        publicKey: hexField(o, "publicKey", 33),
      };
    case "vote": {
      const v = o.vote as Record<string, unknown> | undefined;
      if (typeof v !== "object" || v === null) fail("vote missing");
      const small = (k: string, max: number) => {
        const x = v[k];
        if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > max) fail(`vote.${k} out of range`);
        return x;
      };
      if (typeof v.round !== "string" || !/^[0-9]{1,78}$/.test(v.round)) fail("vote.round must be a decimal uint256");
      return {
        kind: "vote",
        vote: {
          round: v.round,
          node: decimal(v, "node"),
          verdict: small("verdict", 2),
          score: small("score", 100),
          evidenceCid: hexField(v, "evidenceCid"),
          policyCid: hexField(v, "policyCid"),
        },
        signature: hexField(o, "signature", 65),
      };
    }
    case "refusal":
      if (typeof o.code !== "string" || typeof o.message !== "string") fail("refusal needs code and message");
      return {
        kind: "refusal",
        target: decimal(o, "target"),
        verifierNonce: hexField(o, "verifierNonce", 32),
        code: o.code.slice(0, 64),
        message: o.message.slice(0, 500),
      };
    case "task-round":
      return { kind: "task-round", target: decimal(o, "target") };
    case "decline":
      return { kind: "decline", target: decimal(o, "target") };
    default:
      fail(`unknown payload kind ${JSON.stringify(o.kind)}`);
  }
}
