/**
 * Collects fingerprint items from a Linux machine (/proc, /sys). Anything unreadable
 * (not Linux, no permission, no such device) is absent, never an error: the gateway
 * compares against what was enrolled, and "absent" is a value too. Explicit items
 * override collected ones (for machines whose firmware hides serials, or for tests).
 * `root` lets tests point at a fake sysfs tree.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FingerprintItems } from "./items.js";

export interface CollectOptions {
  /** Filesystem root (default "/"). */
  root?: string;
  overrides?: FingerprintItems;
}

async function read(path: string): Promise<string | null> {
  try {
    const v = (await readFile(path, "utf8")).trim();
    return v === "" ? null : v;
  } catch {
    return null;
  }
}

async function list(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

const joinedOrNull = (xs: string[]): string | null => (xs.length ? xs.sort().join(",") : null);

async function cpu(root: string): Promise<{ model: string | null; cores: string | null }> {
  const info = await read(join(root, "proc/cpuinfo"));
  if (!info) return { model: null, cores: null };
  const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? null;
  const cores = info.split("\n").filter((l) => /^processor\s*:/.test(l)).length;
  return { model, cores: cores ? String(cores) : null };
}

async function memMib(root: string): Promise<string | null> {
  const info = await read(join(root, "proc/meminfo"));
  const kb = info ? /^MemTotal:\s*(\d+)\s*kB/m.exec(info)?.[1] : undefined;
  if (!kb) return null;
  const mib = Math.floor(Number(kb) / 1024);
  return String(mib - (mib % 256));
}

async function disks(root: string): Promise<string | null> {
  const base = join(root, "sys/block");
  const out: string[] = [];
  for (const dev of await list(base)) {
    if (/^(loop|ram|zram|dm-|md)/.test(dev)) continue;
    const serial = (await read(join(base, dev, "device/serial"))) ?? (await read(join(base, dev, "device/wwid"))) ?? (await read(join(base, dev, "serial")));
    if (serial) out.push(`${dev}=${serial}`);
  }
  return joinedOrNull(out);
}

async function macs(root: string): Promise<string | null> {
  const base = join(root, "sys/class/net");
  const out: string[] = [];
  for (const ifc of await list(base)) {
    if (!(await exists(join(base, ifc, "device")))) continue; // virtual interface
    const mac = await read(join(base, ifc, "address"));
    if (mac && mac !== "00:00:00:00:00:00") out.push(mac.toLowerCase());
  }
  return joinedOrNull(out);
}

async function pci(root: string): Promise<string | null> {
  const base = join(root, "sys/bus/pci/devices");
  const out: string[] = [];
  for (const addr of await list(base)) {
    const [v, d, c] = await Promise.all(["vendor", "device", "class"].map((f) => read(join(base, addr, f))));
    if (v && d && c) out.push(`${addr}=${v.replace(/^0x/, "")}:${d.replace(/^0x/, "")}:${c.replace(/^0x/, "")}`);
  }
  return joinedOrNull(out);
}

export async function collectFingerprint(opts: CollectOptions = {}): Promise<FingerprintItems> {
  const root = opts.root ?? "/";
  const dmi = (n: string): Promise<string | null> => read(join(root, "sys/class/dmi/id", n));
  const c = await cpu(root);
  const items: FingerprintItems = {
    "cpu.model": c.model,
    "cpu.cores": c.cores,
    "dmi.sys_vendor": await dmi("sys_vendor"),
    "dmi.product_name": await dmi("product_name"),
    "dmi.product_uuid": await dmi("product_uuid"),
    "dmi.product_serial": await dmi("product_serial"),
    "dmi.board_vendor": await dmi("board_vendor"),
    "dmi.board_name": await dmi("board_name"),
    "dmi.board_serial": await dmi("board_serial"),
    "disk.serials": await disks(root),
    "net.macs": await macs(root),
    "mem.total_mib": await memMib(root),
    "pci.devices": await pci(root),
  };
  return { ...items, ...(opts.overrides ?? {}) };
}
