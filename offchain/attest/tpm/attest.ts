/**
 * TPMS_ATTEST (Part 2, 10.12.12) as `tpm2_quote -m` writes it: the exact bytes the AK
 * signed. Only the quote variant (TPM_ST_ATTEST_QUOTE) is accepted; anything else the TPM
 * can certify is a different statement and must not pass as a quote.
 */
import { AttestError } from "../errors.js";
import { TPM_ST_ATTEST_QUOTE, hex16 } from "./constants.js";
import { readPcrSelection, type PcrSelection } from "./pcrs.js";
import { TpmReader } from "./reader.js";

export interface ClockInfo {
  /** Milliseconds the TPM has been powered (persists across resets, advances while on). */
  clock: bigint;
  /** TPM resets (power cycles, reboots) since the TPM was cleared. */
  resetCount: number;
  /** Hibernate/suspend resumes since the last reset. */
  restartCount: number;
  /** False when the clock might have gone backwards (not saved before a power loss). */
  safe: boolean;
}

export interface TpmsAttestQuote {
  magic: number;
  type: number;
  /** TPM name of the signing key (as the TPM saw it; a claim, not proof of residency). */
  qualifiedSigner: Buffer;
  /** The qualifying data (nonce) the caller passed to TPM2_Quote. */
  extraData: Buffer;
  clockInfo: ClockInfo;
  firmwareVersion: bigint;
  pcrSelect: PcrSelection[];
  pcrDigest: Buffer;
}

/** sizeof(TPMU_NAME): a TPMT_HA with the largest digest. */
const MAX_NAME = 2 + 64;

export function parseTpmsAttest(buf: Uint8Array): TpmsAttestQuote {
  const r = new TpmReader(buf, { what: "TPMS_ATTEST" });
  const magic = r.u32("magic");
  const type = r.u16("type");
  const qualifiedSigner = r.tpm2b("qualifiedSigner", MAX_NAME);
  const extraData = r.tpm2b("extraData", MAX_NAME);
  const clock = r.u64("clockInfo.clock");
  const resetCount = r.u32("clockInfo.resetCount");
  const restartCount = r.u32("clockInfo.restartCount");
  const safeByte = r.u8("clockInfo.safe");
  if (safeByte > 1) r.fail(`clockInfo.safe is ${safeByte}, not a TPMI_YES_NO`);
  const firmwareVersion = r.u64("firmwareVersion");
  if (type !== TPM_ST_ATTEST_QUOTE) {
    throw new AttestError("TPM_UNSUPPORTED", `TPMS_ATTEST type 0x${hex16(type)} is not a quote (0x8018)`);
  }
  const pcrSelect = readPcrSelection(r);
  const pcrDigest = r.tpm2b("pcrDigest", 64);
  r.assertEnd();
  return {
    magic,
    type,
    qualifiedSigner,
    extraData,
    clockInfo: { clock, resetCount, restartCount, safe: safeByte === 1 },
    firmwareVersion,
    pcrSelect,
    pcrDigest,
  };
}
