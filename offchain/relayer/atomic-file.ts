/**
 * Crash-safe file replacement: write a temporary sibling, flush it to disk, rename over the
 * target, fsync the directory. A reader (or a restarted daemon) sees either the old or the
 * new content, never a torn file.
 */
import { readFileSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import { TrustmeshError } from "../core/errors.js";

export class StateFileError extends TrustmeshError {
  override name = "StateFileError";
}

function tempPrefix(path: string): string {
  return `.${basename(path)}.`;
}

/**
 * Asynchronous, so the event loop keeps running while the kernel writes and syncs (a
 * synchronous rewrite of a large journal on every round step blocked a gateway for
 * milliseconds each time). Each step is one call on libuv's thread pool; callers that
 * write often should coalesce (GatewayJournal does) rather than queue one write per change.
 * The promise resolves only once the new content and its directory entry are durable.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${tempPrefix(path)}${randomBytes(6).toString("hex")}.tmp`);
  let file;
  try {
    file = await open(tmp, "w", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new StateFileError("STATE_WRITE", `could not create ${tmp}`, { cause: e });
    // Only the first write into a fresh directory pays for creating it.
    await mkdir(dir, { recursive: true });
    file = await open(tmp, "w", 0o600);
  }
  try {
    try {
      await file.writeFile(data);
      // fdatasync: the data and the size needed to read it back; the rename below is
      // made durable by the directory fsync.
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new StateFileError("STATE_WRITE", `could not replace ${path}`, { cause: e });
  }
  try {
    const dirHandle = await open(dir, "r");
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (e) {
    // The new content is in place but its directory entry may not survive a power loss.
    throw new StateFileError("STATE_WRITE", `could not sync the directory of ${path}`, { cause: e });
  }
}

/**
 * Removes temporary files a killed writer left next to `path`. Only for a single-writer
 * file, before its writer starts: another writer's temporary file would vanish mid-write.
 */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw new StateFileError("STATE_READ", `could not list ${dirname(path)}`, { cause: e });
  }
  const stale = names.filter((n) => n.startsWith(prefix) && n.endsWith(".tmp"));
  await Promise.all(stale.map((n) => unlink(join(dirname(path), n)).catch(() => undefined)));
  return stale.length;
}

/** A file's bytes, or undefined when it does not exist; any other failure is an error. */
export async function readOptionalFile(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StateFileError("STATE_READ", `could not read ${path}`, { cause: e });
  }
}

/** readOptionalFile for synchronous callers. */
export function readOptionalFileSync(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StateFileError("STATE_READ", `could not read ${path}`, { cause: e });
  }
}

/** Parses a JSON state file's bytes; ones that are not JSON are an error naming the file. */
export function parseStateJson(bytes: Buffer, path: string): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw new StateFileError("STATE_CORRUPT", `state file ${path} is not valid JSON`, { cause: e });
  }
}

/** Reads a JSON state file; a missing file yields `fallback`, a corrupt one is an error. */
export async function readJsonFile<T>(path: string, fallback: T): Promise<T> {
  const bytes = await readOptionalFile(path);
  return bytes === undefined ? fallback : (parseStateJson(bytes, path) as T);
}
