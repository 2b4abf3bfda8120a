/**
 * The Measurer (CMC sense): extend a PCR and append the matching event-log record, and the
 * boot measurements the agent takes. Every digest is the bank's hash over the measured
 * content, so the sha256 event digest of a boot or container image IS the image's sha256
 * (the digest ImageRegistry lists): policies match it with `eventlog_includes` directly.
 *
 * PCR layout (TCG PC Client gives 8-15 to the OS; we follow the loader conventions that
 * tools such as tpm2_eventlog know, and keep per-boot values apart from stable ones so
 * `pcr_matches` can pin 8 and 9 across boots):
 *   PCR 8  kernel command line  EV_IPL, data "kernel_cmdline: <cmdline>\0", digest H(cmdline)
 *          (GRUB's format; tpm2_eventlog recomputes and checks this digest)
 *   PCR 9  boot image           EV_IPL, data "trustmesh:boot-image:<label>", digest H(image)
 *   PCR 10 container images     EV_EVENT_TAG, tag "tmct", data "<label>", digest H(image)
 *          (IMA's runtime-measurement PCR; one event per image, load order)
 *   PCR 11 per-boot nonce       EV_EVENT_TAG, tag "tmnc", data "<nonce hex>", digest H(nonce)
 * EV_EVENT_TAG data is a TCG_PCClientTaggedEvent: u32le taggedEventID, u32le size, data.
 */
import { createHash } from "node:crypto";
import { EV, EventLogWriter, encodeEvent2 } from "./eventlog-writer.js";
import { AgentError } from "./errors.js";
import type { BankName, PcrExtender } from "./drivers/types.js";

export const PCR = { cmdline: 8, bootImage: 9, containers: 10, bootNonce: 11 } as const;
export const MEASURED_PCRS: readonly number[] = [8, 9, 10, 11];

export type MeasurementKind = "cmdline" | "boot-image" | "container" | "boot-nonce";

/** taggedEventID values of our EV_EVENT_TAG records (ASCII, little-endian u32). */
export const TAG = { container: 0x74636d74, bootNonce: 0x636e6d74 } as const; // "tmct", "tmnc"

function taggedEvent(id: number, data: string): Buffer {
  const d = Buffer.from(data, "utf8");
  const h = Buffer.alloc(8);
  h.writeUInt32LE(id, 0);
  h.writeUInt32LE(d.length, 4);
  return Buffer.concat([h, d]);
}

/** Event type and event data for one measurement kind. */
export function eventFor(kind: MeasurementKind, label: string): { eventType: number; data: Buffer } {
  switch (kind) {
    case "cmdline":
      return { eventType: EV.IPL, data: Buffer.from(`kernel_cmdline: ${label}\0`, "utf8") };
    case "boot-image":
      return { eventType: EV.IPL, data: Buffer.from(`trustmesh:boot-image:${label}`, "utf8") };
    case "container":
      return { eventType: EV.EVENT_TAG, data: taggedEvent(TAG.container, label) };
    case "boot-nonce":
      return { eventType: EV.EVENT_TAG, data: taggedEvent(TAG.bootNonce, label) };
  }
}

export class Measurer {
  /** `onAppend` receives each encoded record after its extend (the agent journals it to disk). */
  constructor(
    private readonly extender: PcrExtender,
    readonly log: EventLogWriter,
    private readonly onAppend: (record: Buffer) => Promise<void> = async () => undefined,
  ) {}

  static async create(extender: PcrExtender, onAppend?: (record: Buffer) => Promise<void>): Promise<Measurer> {
    return new Measurer(extender, new EventLogWriter(await extender.banks()), onAppend);
  }

  /** Digest of `content` in every bank of the log. */
  digests(content: Uint8Array): Partial<Record<BankName, Buffer>> {
    const out: Partial<Record<BankName, Buffer>> = {};
    for (const b of this.log.banks) out[b] = createHash(b).update(content).digest();
    return out;
  }

  /**
   * Measure `content` into `pcr`. The record is encoded before the extend (so a record that
   * cannot be written never reaches the PCR) and appended after it succeeds.
   */
  async measure(pcr: number, kind: MeasurementKind, label: string, content: Uint8Array): Promise<void> {
    if (/[\0\n]/.test(label)) throw new AgentError("BAD_REQUEST", "measurement label must not contain NUL or newline");
    const record = { pcr, ...eventFor(kind, label), digests: this.digests(content) };
    encodeEvent2(this.log.banks, record);
    await this.extender.extend(pcr, record.digests);
    await this.onAppend(this.log.append(record));
  }
}

export interface BootInputs {
  /** The boot image the gateway served (bytes) and a label (file name). */
  bootImage: { label: string; content: Uint8Array };
  /** The per-boot nonce the gateway baked into the image. */
  bootNonce: Uint8Array;
  kernelCmdline: string;
  containers?: ReadonlyArray<{ label: string; content: Uint8Array }>;
}

/** The boot sequence's measurements, in the order a loader would take them. */
export async function measureBoot(m: Measurer, inputs: BootInputs): Promise<void> {
  await m.measure(PCR.bootImage, "boot-image", inputs.bootImage.label, inputs.bootImage.content);
  await m.measure(PCR.bootNonce, "boot-nonce", Buffer.from(inputs.bootNonce).toString("hex"), inputs.bootNonce);
  await m.measure(PCR.cmdline, "cmdline", inputs.kernelCmdline.replace(/[\0\n]/g, " "), Buffer.from(inputs.kernelCmdline, "utf8"));
  for (const c of inputs.containers ?? []) await m.measure(PCR.containers, "container", c.label, c.content);
}
