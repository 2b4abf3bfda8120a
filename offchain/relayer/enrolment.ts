/**
 * The gateway enrols its own HPC before the node is registered: it is the only machine
 * that can reach the HPC, and it is trusted hardware itself. For a TPM-backed agent the
 * EK certificate chain is validated against the CA bundle and credential activation
 * proves the AK lives in that TPM; a software agent is enrolled at the lowest tier with a
 * zero EK digest, never silently.
 */
import type { X509Certificate } from "node:crypto";
import type { Hex } from "viem";
import type { AgentClient } from "../attest/bridge/client.js";
import { finishEnrolment, startEnrolment, akDigest } from "../attest/enrol/registrar.js";
import { parseTpm2bPublic } from "../attest/tpm/public.js";
import { TrustmeshError } from "../core/errors.js";

export const ZERO_DIGEST = `0x${"00".repeat(32)}` as Hex;

/**
 * Security tiers as registered on chain (NodeRegistry: 0..MAX_TIER 2; tier 2 needs an EK
 * certificate): 0 a software key, 1 a TPM emulator (swtpm), 2 a hardware TPM.
 */
export const Tier = { Software: 0, Emulator: 1, Hardware: 2 } as const;

/** The on-chain tier of an agent's reported tier (firmware/agent/drivers/types.ts). */
export function onChainTier(agentTier: string): number {
  return agentTier === "tpm-hardware" ? Tier.Hardware : agentTier === "tpm-emulator" ? Tier.Emulator : Tier.Software;
}

export interface HpcIdentity {
  tier: number;
  driver: string;
  akPublic: string;
  akDigest: Hex;
  ekCertDigest: Hex;
}

export class EnrolmentError extends TrustmeshError {
  override name = "EnrolmentError";
}

export async function enrolHpc(agent: AgentClient, caBundle: readonly X509Certificate[]): Promise<HpcIdentity> {
  const hello = await agent.hello();
  if (onChainTier(hello.tier) === Tier.Software) {
    const ak = parseTpm2bPublic(Buffer.from(hello.akPublic, "hex"));
    return { tier: Tier.Software, driver: hello.driver, akPublic: hello.akPublic, akDigest: akDigest(ak.name), ekCertDigest: ZERO_DIGEST };
  }
  const info = await agent.enrolmentInfo();
  if (!info.ekCertificate) {
    throw new EnrolmentError("NO_EK_CERTIFICATE", "the HPC's TPM has no EK certificate: it cannot be enrolled at the TPM tier");
  }
  const { challenge, pending } = startEnrolment({
    ekCertificate: Buffer.from(info.ekCertificate, "base64"),
    caBundle,
    akPublic: Buffer.from(info.akPublic, "hex"),
    ekPublic: Buffer.from(info.ekPublic, "hex"),
  });
  const secret = await agent.activateCredential(challenge);
  const record = finishEnrolment(pending, secret);
  return { tier: onChainTier(hello.tier), driver: hello.driver, akPublic: info.akPublic, akDigest: record.akDigest, ekCertDigest: record.ekCertDigest };
}
