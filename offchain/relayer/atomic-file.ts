/**
 * Crash-safe file replacement: write a temporary sibling, fsync it, rename over the target,
 * fsync the directory. A reader (or a restarted daemon) sees either the old or the new
 * content, never a torn file.
 */
import { open, rename, readFile, mkdir, unlink } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import { TrustmeshError } from "../core/errors.js";

export class StateFileError extends TrustmeshError {
  override name = "StateFileError";
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(tmp, "w", 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new StateFileError("STATE_WRITE", `could not replace ${path}`, { cause: e });
  }
  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
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
