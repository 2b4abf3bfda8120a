/**
 * Scratch-disk state: a digest over the directory tree so the gateway can tell "empty",
 * "unchanged" and "changed", and a wipe that reports the state before and after.
 *   digest = sha256 over, for every regular file in byte-wise sorted relative-path order,
 *            "f" || u32 len(path) || path || sha256(content); for every directory "d" || u32 len || path
 * The empty directory therefore has digest sha256("") - a fixed, recognisable value.
 * This is evidence of what the agent saw, not a cryptographic proof of erasure (a
 * malicious OS could lie); the boot image and its PCRs are what make the agent honest.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import type { ScratchState } from "../../offchain/attest/bridge/messages.js";

export const EMPTY_SCRATCH_DIGEST = createHash("sha256").digest("hex");

async function walk(root: string, dir: string, out: Array<{ path: string; kind: "f" | "d"; full: string }>): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const full = join(dir, name);
    const st = await lstat(full);
    const path = relative(root, full);
    if (st.isDirectory()) {
      out.push({ path, kind: "d", full });
      await walk(root, full, out);
    } else if (st.isFile()) out.push({ path, kind: "f", full });
    // Symlinks and devices are not followed: a link out of the scratch area must not be hashed.
  }
}

export async function scratchState(dir: string): Promise<ScratchState> {
  const entries: Array<{ path: string; kind: "f" | "d"; full: string }> = [];
  await walk(dir, dir, entries);
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const h = createHash("sha256");
  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    const p = Buffer.from(e.path, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    h.update(e.kind).update(len).update(p);
    if (e.kind === "f") {
      const content = await readFile(e.full);
      h.update(createHash("sha256").update(content).digest());
      files++;
      bytes += content.length;
    }
  }
  return { digest: h.digest("hex"), files, bytes, empty: entries.length === 0 };
}

/** Removes everything under `dir` (not `dir` itself) and reports before/after. */
export async function wipeScratch(dir: string): Promise<{ before: ScratchState; after: ScratchState }> {
  const before = await scratchState(dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return { before, after: await scratchState(dir) };
}
