/**
 * Crash-safe file replacement: write a temporary sibling, fsync it, rename over the target,
 * fsync the directory. A reader (or a restarted daemon) sees either the old or the new
 * content, never a torn file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import { TrustmeshError } from "../core/errors.js";

export class StateFileError extends TrustmeshError {
  override name = "StateFileError";
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  // Synchronous on purpose: a state file is small, and the async fs calls queue behind every
  // other user of libuv's small thread pool (IPFS blocks, other journals), which under load
  // delayed a journal step by seconds; the sync calls cost microseconds on tmpfs and one
  // fsync on a disk, and keep each write whole and in order.
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "w", 0o600);
  try {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone.
    }
    throw new StateFileError("STATE_WRITE", `could not replace ${path}`, { cause: e });
  }
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Reads a JSON state file; a missing file yields `fallback`, a corrupt one is an error. */
export async function readJsonFile<T>(path: string, fallback: T): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw new StateFileError("STATE_READ", `could not read ${path}`, { cause: e });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new StateFileError("STATE_CORRUPT", `state file ${path} is not valid JSON`, { cause: e });
  }
}
