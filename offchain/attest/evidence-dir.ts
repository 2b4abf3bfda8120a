/**
 * Reads an evidence directory (what an agent returned, in tpm2-tools formats):
 *
 *   quote.attest   TPMS_ATTEST          (tpm2_quote -m)
 *   quote.sig      TPMT_SIGNATURE       (tpm2_quote -s)
 *   ak.pub | ak.pem  the AK: TPM2B_PUBLIC (tpm2_createak -u) preferred, else PEM
 *   nonce.hex      the nonce the verifier sent, hex
 *   pcrs.bin       optional: tpm2_pcrread -o over the quote's selection
 *   eventlog.bin   optional: TCG crypto-agile binary log (binary_bios_measurements)
 *   previous-clock.json  optional: {clock, resetCount, restartCount, firmwareVersion} of the last accepted quote
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RawEvidence } from "./appraise.js";
import { AttestError } from "./errors.js";
import type { ClockState } from "./quote.js";

export interface EvidenceDir {
  evidence: RawEvidence;
  akPublic: Buffer;
  nonce: Buffer;
  previousClock?: ClockState;
}

export function readFileOrFail(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new AttestError("INPUT_INVALID", `cannot read ${what} (${path})`, { cause, metaMessages: [cause instanceof Error ? cause.message : String(cause)] });
  }
}

/** Parses a hex nonce (optional 0x, whitespace ignored); TPM qualifying data is at most 64 bytes. */
export function parseNonceHex(text: string): Buffer {
  const t = text.trim().replace(/^0x/i, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(t)) throw new AttestError("INPUT_INVALID", "nonce is not an even-length hex string");
  if (t.length > 128) throw new AttestError("INPUT_INVALID", `nonce is ${t.length / 2} bytes, a TPM accepts at most 64`);
  return Buffer.from(t, "hex");
}

export function parseClockJson(text: string): ClockState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new AttestError("INPUT_INVALID", "previous clock is not JSON", { cause });
  }
  const o = v as Record<string, unknown>;
  const int = (k: string): number => {
    if (typeof o[k] !== "number" || !Number.isSafeInteger(o[k]) || (o[k] as number) < 0) throw new AttestError("INPUT_INVALID", `previous clock: ${k} must be a non-negative integer`);
    return o[k] as number;
  };
  const big = (k: string): bigint => {
    const x = o[k];
    if ((typeof x !== "string" && typeof x !== "number") || !/^\d+$/.test(String(x))) throw new AttestError("INPUT_INVALID", `previous clock: ${k} must be a decimal integer`);
    return BigInt(x);
  };
  return { clock: big("clock"), resetCount: int("resetCount"), restartCount: int("restartCount"), ...(o.firmwareVersion !== undefined ? { firmwareVersion: big("firmwareVersion") } : {}) };
}

export function clockToJson(c: ClockState): Record<string, unknown> {
  return { clock: c.clock.toString(), resetCount: c.resetCount, restartCount: c.restartCount, ...(c.firmwareVersion !== undefined ? { firmwareVersion: c.firmwareVersion.toString() } : {}) };
}

export function readEvidenceDir(dir: string): EvidenceDir {
  const f = (n: string) => join(dir, n);
  const akPath = existsSync(f("ak.pub")) ? f("ak.pub") : f("ak.pem");
  return {
    evidence: {
      quote: readFileOrFail(f("quote.attest"), "quote"),
      signature: readFileOrFail(f("quote.sig"), "signature"),
      ...(existsSync(f("pcrs.bin")) ? { pcrs: readFileOrFail(f("pcrs.bin"), "PCR values") } : {}),
      ...(existsSync(f("eventlog.bin")) ? { eventLog: readFileOrFail(f("eventlog.bin"), "event log") } : {}),
    },
    akPublic: readFileOrFail(akPath, "attestation key"),
    nonce: parseNonceHex(readFileOrFail(f("nonce.hex"), "nonce").toString("utf8")),
    ...(existsSync(f("previous-clock.json")) ? { previousClock: parseClockJson(readFileOrFail(f("previous-clock.json"), "previous clock").toString("utf8")) } : {}),
  };
}
