/**
 * Driver interfaces of the HPC agent, in the spirit of Fraunhofer CMC: a root of trust for
 * measurement (PCR extend) and one for reporting (quote/sign) behind small interfaces, so the
 * agent logic does not care whether a discrete TPM, swtpm or a software key answers.
 * The `tier` is part of every answer: a verifier must never mistake a software key for a TPM.
 */

/** PCR bank names the agent knows (TCG hash algorithm names). */
export type BankName = "sha1" | "sha256" | "sha384" | "sha512";

/**
 * How much a quote is worth. `tpm-hardware`: a discrete/firmware TPM (device TCTI).
 * `tpm-emulator`: swtpm or another simulator reached over a socket TCTI - real TPM code,
 * but its keys live in a process on the host. `software`: a software key, development only.
 */
export type SecurityTier = "tpm-hardware" | "tpm-emulator" | "software";

/** Higher is stronger; verifiers compare against a minimum. */
export const TIER_RANK: Readonly<Record<SecurityTier, number>> = { "tpm-hardware": 3, "tpm-emulator": 2, software: 1 };

/** A PCR selection: per bank, ascending PCR indexes. */
export type PcrSelection = ReadonlyArray<{ bank: BankName; pcrs: readonly number[] }>;

/** PCR values per bank and index, lowercase hex. */
export type PcrValues = Partial<Record<BankName, Record<number, string>>>;

export interface ClockInfo {
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
}

export interface QuoteResult {
  /** TPMS_ATTEST as tpm2_quote -m writes it. */
  attest: Buffer;
  /** TPMT_SIGNATURE as tpm2_quote -s writes it. */
  signature: Buffer;
  /** PCR values read under the same lock as the quote, in tpm2_pcrread -o layout. */
  pcrs: Buffer;
  /** The same values keyed by bank and index. */
  pcrValues: PcrValues;
}

/** Extends PCRs. Together with an event log this is the CMC "Measurer". */
export interface PcrExtender {
  /** Active PCR banks, in the order the event log lists them. */
  banks(): Promise<readonly BankName[]>;
  extend(pcr: number, digests: Partial<Record<BankName, Buffer>>): Promise<void>;
  readPcrs(selection: PcrSelection): Promise<{ raw: Buffer; values: PcrValues }>;
}

/** The root of trust for reporting: an attestation key that quotes PCRs. */
export interface Quoter {
  readonly tier: SecurityTier;
  readonly driver: string;
  /** AK public area as TPM2B_PUBLIC. */
  akPublic(): Promise<Buffer>;
  quote(selection: PcrSelection, nonce: Buffer): Promise<QuoteResult>;
  clock(): Promise<ClockInfo>;
}

/** Enrolment support: only a TPM can prove its AK lives beside its EK. */
export interface CredentialActivator {
  /** EK certificate (DER) from TPM NV, if the manufacturer provisioned one. */
  ekCertificate(): Promise<Buffer | undefined>;
  /** EK public area as TPM2B_PUBLIC. */
  ekPublic(): Promise<Buffer>;
  /** TPM2_ActivateCredential on a tpm2-tools credential blob; returns the recovered secret. */
  activateCredential(blob: Buffer): Promise<Buffer>;
}

/** A complete driver: what the agent needs. */
export interface AgentDriver extends PcrExtender, Quoter {
  init(): Promise<void>;
  /** Present only on TPM drivers. */
  readonly activator?: CredentialActivator;
  close(): Promise<void>;
}

export const BANK_SIZES: Readonly<Record<BankName, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };
export const BANK_ALG_IDS: Readonly<Record<BankName, number>> = { sha1: 0x0004, sha256: 0x000b, sha384: 0x000c, sha512: 0x000d };

/** tpm2-tools selection string, e.g. "sha256:8,9+sha1:0". */
export function selectionString(sel: PcrSelection): string {
  return sel.map((s) => `${s.bank}:${[...s.pcrs].sort((a, b) => a - b).join(",")}`).join("+");
}

/** Split tpm2_pcrread -o bytes (digests in selection order, indexes ascending) into values. */
export function splitPcrDump(sel: PcrSelection, raw: Buffer): PcrValues {
  const out: PcrValues = {};
  let off = 0;
  for (const s of sel) {
    const size = BANK_SIZES[s.bank];
    const bank: Record<number, string> = {};
    for (const i of [...s.pcrs].sort((a, b) => a - b)) {
      bank[i] = raw.subarray(off, off + size).toString("hex");
      off += size;
    }
    out[s.bank] = bank;
  }
  return out;
}
