/** Paths and loaders for the committed swtpm fixtures (test/fixtures/attest). */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "attest");
export const GOOD = ["ecc", "ecc384", "rsa", "rsapss"] as const;
export const ALL = [...GOOD, "tampered-wrong-nonce", "tampered-pcr-changed", "reboot", "unapproved-image"] as const;

export function fx(...parts: string[]): Buffer {
  return readFileSync(join(FIXTURES, ...parts));
}

export function nonceOf(dir: string): Buffer {
  return Buffer.from(fx(dir, "nonce.hex").toString("utf8").trim(), "hex");
}
