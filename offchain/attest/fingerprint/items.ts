/**
 * Hardware fingerprint items: a fixed, ordered list of keys and their canonical string
 * values. The ORDER IS PART OF THE FORMAT (leaf i is item i); a new key may only be appended.
 *
 * Canonical values (all UTF-8, no surrounding whitespace):
 *   cpu.model       /proc/cpuinfo "model name" of the first CPU
 *   cpu.cores       logical CPU count, decimal
 *   dmi.*           /sys/class/dmi/id/<name>, trimmed (product_uuid/serials need root)
 *   disk.serials    "<dev>=<serial>" for each block device with a serial/wwid, sorted, joined by ","
 *   net.macs        MAC addresses of physical NICs (those with a device link), lowercase, sorted, ","
 *   mem.total_mib   MemTotal rounded down to a multiple of 256 MiB (kernels reserve different
 *                   amounts; the rounding keeps the value stable across kernel updates)
 *   pci.devices     "<addr>=<vendor>:<device>:<class>" for each PCI function, sorted, ","
 * An item the machine does not expose is absent (null), which is not the same as "".
 */
import { TrustmeshError } from "../../core/errors.js";

export const FINGERPRINT_KEYS = [
  "cpu.model",
  "cpu.cores",
  "dmi.sys_vendor",
  "dmi.product_name",
  "dmi.product_uuid",
  "dmi.product_serial",
  "dmi.board_vendor",
  "dmi.board_name",
  "dmi.board_serial",
  "disk.serials",
  "net.macs",
  "mem.total_mib",
  "pci.devices",
] as const;

export type FingerprintKey = (typeof FINGERPRINT_KEYS)[number];

/** Values by key; null or missing = absent. */
export type FingerprintItems = Partial<Record<FingerprintKey, string | null>>;

export class FingerprintError extends TrustmeshError {
  override name = "FingerprintError";
}

const MAX_VALUE = 64 * 1024;

export function isFingerprintKey(k: string): k is FingerprintKey {
  return (FINGERPRINT_KEYS as readonly string[]).includes(k);
}

/** Validates externally supplied items (JSON) into FingerprintItems. */
export function parseItems(x: unknown): FingerprintItems {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new FingerprintError("FINGERPRINT_INVALID", "fingerprint items must be an object");
  const out: FingerprintItems = {};
  for (const [k, v] of Object.entries(x)) {
    if (!isFingerprintKey(k)) throw new FingerprintError("FINGERPRINT_INVALID", `unknown fingerprint item "${k}"`);
    if (v !== null && (typeof v !== "string" || v.length > MAX_VALUE)) {
      throw new FingerprintError("FINGERPRINT_INVALID", `item ${k} must be a string (<= 64 KiB) or null`);
    }
    out[k] = v === null ? null : v.trim();
  }
  return out;
}
