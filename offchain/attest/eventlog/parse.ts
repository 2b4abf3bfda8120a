/**
 * Strict parser and replayer of the TCG PC Client crypto-agile binary event log: one
 * TCG_PCClientPCREvent (SHA-1 format) carrying the "Spec ID Event03" header, then
 * TCG_PCR_EVENT2 records whose digest sizes come from that header. Little-endian throughout.
 *
 * Strict means: the header must be exactly the Spec ID event, every digest algorithm must
 * be declared in the header and appear at most once per event, every measured event must
 * carry every declared bank (a bank missing from one event makes replay of that bank
 * meaningless), and nothing may follow the last complete record.
 */
import { hash } from "node:crypto";
import { AttestError, type Finding } from "../errors.js";
import { HASH_ALGS, algName } from "../tpm/constants.js";
import type { PcrBanks } from "../tpm/pcrs.js";
import { TpmReader } from "../tpm/reader.js";
import {
  EV,
  SPEC_ID_SIGNATURE,
  STARTUP_LOCALITY_SIGNATURE,
  eventTypeName,
  type EventDigest,
  type EventLog,
  type PcrEvent,
  type SpecIdEvent,
} from "./types.js";

/** PC Client TPMs implement 24 PCRs. */
export const MAX_PCR = 23;
const MAX_ALGORITHMS = 16;

function readSpecId(r: TpmReader): SpecIdEvent {
  const pcrIndex = r.u32le("header.pcrIndex");
  const eventType = r.u32le("header.eventType");
  if (pcrIndex !== 0 || eventType !== EV.NO_ACTION) {
    r.fail(`first event must be EV_NO_ACTION on PCR 0 (got ${eventTypeName(eventType)} on PCR ${pcrIndex}); not a crypto-agile log`);
  }
  const sha1 = r.bytes(20, "header.digest");
  if (sha1.some((b) => b !== 0)) r.fail("header event digest must be zero");
  const size = r.u32le("header.eventSize");
  const body = r.bytes(size, "header.event");
  const b = new TpmReader(body, { code: "EVENTLOG_PARSE", what: "Spec ID event" });
  const sig = b.bytes(16, "signature");
  if (!sig.equals(SPEC_ID_SIGNATURE)) b.fail(`signature is not "Spec ID Event03" (SHA-1-only logs are not supported)`);
  const platformClass = b.u32le("platformClass");
  const specVersionMinor = b.u8("specVersionMinor");
  const specVersionMajor = b.u8("specVersionMajor");
  const specErrata = b.u8("specErrata");
  const uintnSize = b.u8("uintnSize");
  if (specVersionMajor !== 2) b.fail(`specVersionMajor ${specVersionMajor}, expected 2`);
  if (uintnSize !== 1 && uintnSize !== 2) b.fail(`uintnSize ${uintnSize} is neither 1 nor 2`);
  const n = b.u32le("numberOfAlgorithms");
  if (n === 0 || n > MAX_ALGORITHMS) b.fail(`numberOfAlgorithms ${n} out of range 1..${MAX_ALGORITHMS}`);
  const algorithms: SpecIdEvent["algorithms"] = [];
  for (let i = 0; i < n; i++) {
    const algorithmId = b.u16le("algorithmId");
    const digestSize = b.u16le("digestSize");
    if (algorithms.some((a) => a.algorithmId === algorithmId)) b.fail(`algorithm ${algName(algorithmId)} declared twice`);
    const known = HASH_ALGS.get(algorithmId);
    if (known && known.size !== digestSize) b.fail(`${known.name} declared with digest size ${digestSize}, expected ${known.size}`);
    if (digestSize === 0 || digestSize > 64) b.fail(`digest size ${digestSize} out of range`);
    algorithms.push({ algorithmId, digestSize });
  }
  const vendorInfoSize = b.u8("vendorInfoSize");
  const vendorInfo = b.bytes(vendorInfoSize, "vendorInfo");
  b.assertEnd();
  return { platformClass, specVersionMinor, specVersionMajor, specErrata, uintnSize, algorithms, vendorInfo };
}

function readEvent2(r: TpmReader, spec: SpecIdEvent, seq: number): PcrEvent {
  const start = r.offset;
  const pcrIndex = r.u32le("pcrIndex");
  const eventType = r.u32le("eventType");
  if (pcrIndex > MAX_PCR) r.fail(`event ${seq}: PCR index ${pcrIndex} > ${MAX_PCR}`);
  const count = r.u32le("digests.count");
  if (count > spec.algorithms.length) r.fail(`event ${seq}: ${count} digests, header declares ${spec.algorithms.length} banks`);
  const digests: EventDigest[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16le("hashAlg");
    const decl = spec.algorithms.find((a) => a.algorithmId === hashAlg);
    if (!decl) r.fail(`event ${seq}: digest algorithm ${algName(hashAlg)} not declared in the header`);
    if (digests.some((d) => d.hashAlg === hashAlg)) r.fail(`event ${seq}: ${algName(hashAlg)} digest appears twice`);
    // Constant field name: this runs per digest, and building a message eagerly costs more than the read.
    digests.push({ hashAlg, digest: r.bytes(decl.digestSize, "event digest") });
  }
  // EV_NO_ACTION is never extended; all other events must measure into every bank.
  if (eventType !== EV.NO_ACTION && count !== spec.algorithms.length) {
    throw new AttestError("EVENTLOG_PARSE", `event log: event ${seq} (${eventTypeName(eventType)}) has ${count} digests, header declares ${spec.algorithms.length} banks`, {
      metaMessages: [`record starts at byte offset ${start}`],
    });
  }
  const size = r.u32le("eventSize");
  const event = r.bytes(size, "event data");
  return { seq, pcrIndex, eventType, digests, event };
}

export function parseEventLog(buf: Uint8Array): EventLog {
  const r = new TpmReader(buf, { code: "EVENTLOG_PARSE", what: "event log" });
  const specId = readSpecId(r);
  const events: PcrEvent[] = [];
  while (r.remaining > 0) events.push(readEvent2(r, specId, events.length + 1));
  r.assertEnd();
  return { specId, events };
}

/** Locality from a StartupLocality EV_NO_ACTION event, if the log has one. */
export function startupLocality(log: EventLog): number | undefined {
  for (const e of log.events) {
    if (e.eventType === EV.NO_ACTION && e.pcrIndex === 0 && e.event.length === 17 && e.event.subarray(0, 16).equals(STARTUP_LOCALITY_SIGNATURE)) {
      return e.event[16];
    }
  }
  return undefined;
}

/**
 * Replays the log into the PCR values a TPM would hold: per bank, per PCR that has at
 * least one measured event, PCR = H(PCR || digest) starting from zero (PCR 0 starts at
 * the startup locality when the log records one). Banks of unknown hashes are skipped.
 */
export function replayEventLog(log: EventLog): PcrBanks {
  const banks: PcrBanks = new Map();
  const locality = startupLocality(log);
  for (const a of log.specId.algorithms) {
    const h = HASH_ALGS.get(a.algorithmId);
    if (!h) continue;
    const bank = new Map<number, Buffer>();
    for (const e of log.events) {
      if (e.eventType === EV.NO_ACTION) continue;
      const d = e.digests.find((x) => x.hashAlg === a.algorithmId)!;
      let cur = bank.get(e.pcrIndex);
      if (!cur) {
        cur = Buffer.alloc(h.size);
        if (e.pcrIndex === 0 && locality !== undefined) cur[h.size - 1] = locality;
      }
      bank.set(e.pcrIndex, hash(h.node, Buffer.concat([cur, d.digest]), "buffer"));
    }
    banks.set(a.algorithmId, bank);
  }
  return banks;
}

/** Ordered digests measured into one PCR of one bank (what `eventlog_equals` compares). */
export function measuredDigests(log: EventLog, hashAlg: number, pcrIndex: number): Buffer[] {
  const out: Buffer[] = [];
  for (const e of log.events) {
    if (e.eventType === EV.NO_ACTION || e.pcrIndex !== pcrIndex) continue;
    const d = e.digests.find((x) => x.hashAlg === hashAlg);
    if (d) out.push(d.digest);
  }
  return out;
}

/**
 * Compares the replayed log with PCR values that a verified quote vouches for. Every
 * quoted PCR must equal its replay (a PCR with no events must still be all zero); PCRs the
 * log measures but the quote does not cover are reported as info, since nothing vouches
 * for those events.
 */
export function compareEventLog(log: EventLog, quoted: PcrBanks, replayed: PcrBanks = replayEventLog(log)): Finding[] {
  const findings: Finding[] = [];
  for (const [alg, bank] of quoted) {
    const h = HASH_ALGS.get(alg);
    const name = h?.name ?? algName(alg);
    const rb = replayed.get(alg);
    if (!rb) {
      findings.push({ code: "EVENTLOG_BANK_MISSING", severity: "error", message: `event log has no ${name} bank, the quote covers it` });
      continue;
    }
    for (const [pcr, value] of bank) {
      const expect = rb.get(pcr) ?? Buffer.alloc(value.length);
      if (!expect.equals(value)) {
        findings.push({
          code: "EVENTLOG_REPLAY_MISMATCH",
          severity: "error",
          message: `${name} PCR ${pcr}: event log replays to a different value than the quoted one`,
          details: { bank: name, pcr, quoted: value.toString("hex"), replayed: expect.toString("hex") },
        });
      }
    }
    for (const pcr of rb.keys()) {
      if (!bank.has(pcr)) {
        findings.push({ code: "EVENTLOG_PCR_UNQUOTED", severity: "info", message: `${name} PCR ${pcr} has events but is not quoted; those events are unverified`, details: { bank: name, pcr } });
      }
    }
  }
  return findings;
}
