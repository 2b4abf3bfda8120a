/**
 * Enrolment driven by the gateway over the bridge: ask the agent for its EK certificate,
 * EK and AK public areas, challenge it with a credential (registrar logic in ../enrol),
 * and return the record NodeRegistry stores.
 */
import type { X509Certificate } from "node:crypto";
import { EnrolError } from "../enrol/errors.js";
import { finishEnrolment, startEnrolment, type EnrolmentRecord } from "../enrol/registrar.js";
import type { AgentClient } from "./client.js";

export interface EnrolOverBridgeParams {
  caBundle: readonly X509Certificate[];
  intermediates?: readonly X509Certificate[];
  now?: Date;
}

export async function enrolOverBridge(client: AgentClient, p: EnrolOverBridgeParams): Promise<EnrolmentRecord> {
  const info = await client.enrolmentInfo();
  if (!info.ekCertificate) throw new EnrolError("EK_CHAIN_UNTRUSTED", "agent's TPM has no EK certificate in NV");
  const { challenge, pending } = startEnrolment({
    ekCertificate: Buffer.from(info.ekCertificate, "base64"),
    caBundle: p.caBundle,
    intermediates: p.intermediates,
    akPublic: Buffer.from(info.akPublic, "hex"),
    ekPublic: Buffer.from(info.ekPublic, "hex"),
    now: p.now,
  });
  let secret: Buffer;
  try {
    secret = await client.activateCredential(challenge);
  } catch (cause) {
    throw new EnrolError("ACTIVATION_FAILED", "agent could not activate the credential", { cause });
  }
  return finishEnrolment(pending, secret);
}
