/**
 * Writer of the TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware
 * Profile, 10.2): one SHA1-format TCG_PCR_EVENT carrying the TCG_EfiSpecIdEvent
 * ("Spec ID Event03") that lists the banks, then one TCG_PCR_EVENT2 per measurement with a
 * digest for every listed bank. All integers little-endian, as firmware writes them, so
 * `tpm2_eventlog` and our verifier's parser read it like a firmware log.
 */
import { AgentError } from "./errors.js";
import { BANK_ALG_IDS, BANK_SIZES, type BankName } from "./drivers/types.js";

/** Event types we emit (TCG PFP, Table 9). */
export const EV = {
  NO_ACTION: 0x00000003,
  SEPARATOR: 0x00000004,
  EVENT_TAG: 0x00000006,
  IPL: 0x0000000d,
} as const;

const MAX_EVENT_SIZE = 1 << 20;

export interface EventRecord {
  pcr: number;
  eventType: number;
  digests: Partial<Record<BankName, Buffer>>;
  data: Buffer;
}

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function le16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

/** The first record: EV_NO_ACTION at PCR 0 with the Spec ID event describing the banks. */
export function specIdHeader(banks: readonly BankName[]): Buffer {
  const event = Buffer.concat([
    Buffer.from("Spec ID Event03\0", "latin1"),
    le32(0), // platformClass: client
    Buffer.from([0, 2, 0, 2]), // specVersionMinor 0, specVersionMajor 2, specErrata 0, uintnSize 2 (UINT64)
    le32(banks.length),
    ...banks.map((b) => Buffer.concat([le16(BANK_ALG_IDS[b]), le16(BANK_SIZES[b])])),
    Buffer.from([0]), // vendorInfoSize
  ]);
  return Buffer.concat([le32(0), le32(EV.NO_ACTION), Buffer.alloc(20), le32(event.length), event]);
}

/** One TCG_PCR_EVENT2 with digests for `banks`, in that order. */
export function encodeEvent2(banks: readonly BankName[], e: EventRecord): Buffer {
  if (e.data.length > MAX_EVENT_SIZE) throw new AgentError("EVENTLOG_WRITE", `event data of ${e.data.length} bytes is too large`);
  if (!Number.isInteger(e.pcr) || e.pcr < 0 || e.pcr > 23) throw new AgentError("EVENTLOG_WRITE", `PCR index ${e.pcr} out of range`);
  const parts: Buffer[] = [le32(e.pcr), le32(e.eventType), le32(banks.length)];
  for (const b of banks) {
    const d = e.digests[b];
    if (!d || d.length !== BANK_SIZES[b]) throw new AgentError("EVENTLOG_WRITE", `event lacks a ${b} digest of ${BANK_SIZES[b]} bytes`);
    parts.push(le16(BANK_ALG_IDS[b]), d);
  }
  parts.push(le32(e.data.length), e.data);
  return Buffer.concat(parts);
}

/** An append-only log in memory; `bytes()` is the binary log as firmware would expose it. */
export class EventLogWriter {
  private readonly chunks: Buffer[];
  private readonly records: EventRecord[] = [];

  constructor(readonly banks: readonly BankName[]) {
    if (banks.length === 0) throw new AgentError("EVENTLOG_WRITE", "an event log needs at least one bank");
    this.chunks = [specIdHeader(banks)];
  }

  /**
   * Continues a log written earlier in the same TPM boot (agent restart without reboot).
   * Only the header is checked here; the verifier replays the whole log anyway.
   */
  static restore(banks: readonly BankName[], bytes: Buffer): EventLogWriter {
    const w = new EventLogWriter(banks);
    const header = w.chunks[0] as Buffer;
    if (!bytes.subarray(0, header.length).equals(header)) {
      throw new AgentError("EVENTLOG_WRITE", "stored event log has a different header (banks changed?)");
    }
    w.chunks.push(bytes.subarray(header.length));
    return w;
  }

  /** Encodes and appends; returns the encoded record (for an on-disk journal). */
  append(e: EventRecord): Buffer {
    const enc = encodeEvent2(this.banks, e);
    this.chunks.push(enc);
    this.records.push(e);
    return enc;
  }

  get events(): readonly EventRecord[] {
    return this.records;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
