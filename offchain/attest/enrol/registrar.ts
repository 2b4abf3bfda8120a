/**
 * The registrar's side of enrolment (Keylime style), in two pure steps around one round
 * trip to the node:
 *
 *   1. startEnrolment: validate the EK certificate chain, check the AK is a restricted
 *      signing key fixed to its TPM, and MakeCredential a random secret to (EK, AK name).
 *   2. The node runs ActivateCredential and returns the secret.
 *   3. finishEnrolment: compare in constant time; on success the record to store on chain.
 *
 * What goes on chain (NodeRegistry, bytes32 each):
 *   akDigest     = sha256(AK TPM name)   (name = nameAlg || H(TPMT_PUBLIC): it commits to
 *                                          the whole public area and is what the TPM itself
 *                                          binds in credential activation)
 *   ekCertDigest = sha256(EK certificate DER)
 */
import { createHash, randomBytes, timingSafeEqual, type X509Certificate } from "node:crypto";
import { parseTpm2bPublic, type TpmPublic } from "../tpm/public.js";
import { TPMA_OBJECT } from "../tpm/constants.js";
import { EnrolError } from "./errors.js";
import { validateEkCertificate } from "./ekcert.js";
import { makeCredential } from "./makecredential.js";

export interface StartEnrolmentParams {
  /** EK certificate, DER (as read from TPM NV) or PEM. */
  ekCertificate: Uint8Array | string;
  caBundle: readonly X509Certificate[];
  intermediates?: readonly X509Certificate[];
  /** AK public area (TPM2B_PUBLIC, as tpm2_createak -u writes it). */
  akPublic: Uint8Array;
  /** EK public area the node reports; when given it must be the certified key. */
  ekPublic?: Uint8Array;
  now?: Date;
}

export interface PendingEnrolment {
  secret: Buffer;
  akName: Buffer;
  akPublic: Buffer;
  ekCertDigest: `0x${string}`;
  ekSubject: string;
}

export interface EnrolmentRecord {
  akDigest: `0x${string}`;
  ekCertDigest: `0x${string}`;
  akName: `0x${string}`;
  /** TPM2B_PUBLIC, hex: what a verifier needs to check quotes. */
  akPublic: `0x${string}`;
}

const REQUIRED_AK = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.restricted | TPMA_OBJECT.sign;

/** AK policy: a restricted signing key that never leaves its TPM (cannot sign forged TPMS_ATTEST). */
export function checkAkAttributes(ak: TpmPublic): void {
  const a = ak.objectAttributes;
  const missing = Object.entries(TPMA_OBJECT)
    .filter(([, bit]) => (REQUIRED_AK & bit) !== 0 && (a & bit) === 0)
    .map(([k]) => k);
  if (missing.length > 0 || (a & TPMA_OBJECT.decrypt) !== 0) {
    throw new EnrolError("AK_ATTRIBUTES", "AK is not a restricted, TPM-resident signing key", {
      metaMessages: [missing.length ? `missing: ${missing.join(", ")}` : "decrypt must be clear"],
    });
  }
}

export function akDigest(akName: Uint8Array): `0x${string}` {
  return `0x${createHash("sha256").update(akName).digest("hex")}`;
}

export function startEnrolment(p: StartEnrolmentParams): { challenge: Buffer; pending: PendingEnrolment } {
  const { ek, ekCertDigest } = validateEkCertificate(p.ekCertificate, {
    caBundle: p.caBundle,
    intermediates: p.intermediates,
    now: p.now,
  });
  let ak: TpmPublic;
  try {
    ak = parseTpm2bPublic(p.akPublic);
  } catch (cause) {
    throw new EnrolError("INPUT_INVALID", "AK public area does not parse", { cause });
  }
  checkAkAttributes(ak);
  if (p.ekPublic) {
    let reported: TpmPublic;
    try {
      reported = parseTpm2bPublic(p.ekPublic);
    } catch (cause) {
      throw new EnrolError("INPUT_INVALID", "EK public area does not parse", { cause });
    }
    const a = reported.keyObject.export({ format: "der", type: "spki" });
    const b = ek.publicKey.export({ format: "der", type: "spki" });
    if (!a.equals(b)) throw new EnrolError("EK_KEY_UNSUPPORTED", "reported EK public key is not the certified key");
  }
  const secret = randomBytes(32);
  const challenge = makeCredential({ ekPublicKey: ek.publicKey, akName: ak.name, secret });
  return {
    challenge,
    pending: { secret, akName: ak.name, akPublic: Buffer.from(p.akPublic), ekCertDigest, ekSubject: ek.subject },
  };
}

export function finishEnrolment(pending: PendingEnrolment, recovered: Uint8Array): EnrolmentRecord {
  const got = Buffer.from(recovered);
  if (got.length !== pending.secret.length || !timingSafeEqual(got, pending.secret)) {
    throw new EnrolError("ACTIVATION_FAILED", "credential activation returned the wrong secret", {
      metaMessages: ["the AK is not resident in the TPM that owns the certified EK"],
    });
  }
  return {
    akDigest: akDigest(pending.akName),
    ekCertDigest: pending.ekCertDigest,
    akName: `0x${pending.akName.toString("hex")}`,
    akPublic: `0x${pending.akPublic.toString("hex")}`,
  };
}
