/**
 * Produces real TPM evidence on a running swtpm: AK creation, measured "boot" (PCR extends
 * mirrored into a crypto-agile event log) and quotes written as an evidence directory
 * (the layout `trustmesh policy check --evidence DIR` reads).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectedPcrs, writeEventLog, type WriterEvent } from "./eventlog-writer.js";
import type { Swtpm } from "./swtpm.js";

export const BANKS = [0x4, 0xb, 0xc]; // sha1, sha256, sha384
const NAMES: Record<number, string> = { 0x4: "sha1", 0xb: "sha256", 0xc: "sha384" };
export const EK_HANDLE = "0x81010001";

export type AkKind = "ecc" | "ecc384" | "rsa" | "rsapss";
const AK_ARGS: Record<AkKind, string[]> = {
  ecc: ["-G", "ecc256", "-g", "sha256", "-s", "ecdsa"],
  ecc384: ["-G", "ecc384", "-g", "sha384", "-s", "ecdsa"],
  rsa: ["-G", "rsa2048", "-g", "sha256", "-s", "rsassa"],
  rsapss: ["-G", "rsa2048", "-g", "sha256", "-s", "rsapss"],
};
export const AK_HASH: Record<AkKind, string> = { ecc: "sha256", ecc384: "sha384", rsa: "sha256", rsapss: "sha256" };
export const AK_SCHEME: Record<AkKind, string> = { ecc: "ecdsa", ecc384: "ecdsa", rsa: "rsassa", rsapss: "rsapss" };

export async function createEk(tpm: Swtpm, dir: string): Promise<void> {
  await tpm.tool("tpm2_createek", ["-c", EK_HANDLE, "-G", "rsa", "-u", join(dir, "ek.pub")]);
  await tpm.flush();
}

/** Creates an AK under the EK, makes it persistent at `handle`, writes ak.pub (TPM2B_PUBLIC) and ak.pem. */
export async function createAk(tpm: Swtpm, kind: AkKind, handle: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await tpm.tool("tpm2_createak", ["-C", EK_HANDLE, "-c", join(dir, "ak.ctx"), ...AK_ARGS[kind], "-u", join(dir, "ak.pub"), "-n", join(dir, "ak.name")]);
  await tpm.tool("tpm2_evictcontrol", ["-c", join(dir, "ak.ctx"), handle]);
  await tpm.flush();
  await tpm.tool("tpm2_readpublic", ["-c", handle, "-f", "pem", "-o", join(dir, "ak.pem")]);
}

export function digestsFor(data: Buffer): Map<number, Buffer> {
  return new Map(BANKS.map((a) => [a, createHash(NAMES[a]!).update(data).digest()]));
}

/** Extends each event's digests into the TPM, in order, in every bank. */
export async function measure(tpm: Swtpm, events: WriterEvent[]): Promise<void> {
  for (const e of events) {
    if (e.eventType === 3) continue;
    const d = e.digests ?? digestsFor(e.data);
    const spec = BANKS.map((a) => `${NAMES[a]}=${d.get(a)!.toString("hex")}`).join(",");
    await tpm.tool("tpm2_pcrextend", [`${e.pcrIndex}:${spec}`]);
  }
}

/** The demo boot chain: CRTM + separator (PCR 0), boot image (4), command line (8), container (9). */
export function bootEvents(bootImage: Buffer, cmdline: string, container: Buffer): WriterEvent[] {
  const sep = Buffer.alloc(4);
  return [
    { pcrIndex: 0, eventType: 0x8, data: Buffer.from("trustmesh test CRTM 1.0") },
    { pcrIndex: 0, eventType: 0x4, data: sep },
    { pcrIndex: 4, eventType: 0xd, data: Buffer.from("boot image"), digests: digestsFor(bootImage) },
    { pcrIndex: 4, eventType: 0x4, data: sep },
    { pcrIndex: 8, eventType: 0xd, data: Buffer.from(cmdline) },
    { pcrIndex: 9, eventType: 0xd, data: Buffer.from("container image"), digests: digestsFor(container) },
  ];
}

export interface QuoteOptions {
  handle: string;
  kind: AkKind;
  akDir: string;
  selection: string;
  nonce: Buffer;
  /** Written to nonce.hex instead of `nonce` (to make a wrong-nonce fixture). */
  claimedNonce?: Buffer;
  events: WriterEvent[];
}

/** Quotes and writes the evidence directory. Returns the quote bytes. */
export async function quoteTo(tpm: Swtpm, dir: string, o: QuoteOptions): Promise<Buffer> {
  mkdirSync(dir, { recursive: true });
  await tpm.tool("tpm2_quote", [
    "-c", o.handle, "-l", o.selection, "-q", o.nonce.toString("hex"), "-g", AK_HASH[o.kind], "--scheme", AK_SCHEME[o.kind],
    "-m", join(dir, "quote.attest"), "-s", join(dir, "quote.sig"),
    // tpm2_quote's own PCR dump: only tpm2_checkquote -f reads it (the bench compares against that tool).
    "-o", join(dir, "quote.pcrs"),
  ]);
  await tpm.flush();
  await readPcrsTo(tpm, dir, o.selection);
  for (const f of ["ak.pub", "ak.pem"]) writeFileSync(join(dir, f), readFileSync(join(o.akDir, f)));
  writeFileSync(join(dir, "nonce.hex"), `${(o.claimedNonce ?? o.nonce).toString("hex")}\n`);
  writeFileSync(join(dir, "selection.txt"), `${o.selection}\n`);
  writeFileSync(join(dir, "eventlog.bin"), writeEventLog(BANKS, o.events));
  return readFileSync(join(dir, "quote.attest"));
}

export async function readPcrsTo(tpm: Swtpm, dir: string, selection: string): Promise<void> {
  await tpm.tool("tpm2_pcrread", ["-o", join(dir, "pcrs.bin"), selection]);
}

/** Allocates sha1+sha256+sha384 banks (takes effect after the restart done here). */
export async function allocateBanks(tpm: Swtpm): Promise<void> {
  await tpm.tool("tpm2_pcrallocate", ["sha1:all+sha256:all+sha384:all"]);
  await tpm.restart();
}

export { expectedPcrs };
