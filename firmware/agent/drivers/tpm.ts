/**
 * The `tpm` driver: tpm2-tools over any TCTI (`device:/dev/tpmrm0`, `swtpm:host=...,port=...`).
 *
 * Keys: the RSA EK is persistent at 0x81010001 (the TCG EK handle; swtpm_setup puts it there,
 * otherwise we create it), the AK is persistent at `akHandle` (default 0x81010002) so a
 * reboot keeps the enrolled key. The AK public area is kept in the state dir because the
 * enrolment registrar needs the exact TPM2B_PUBLIC bytes.
 */
import { mkdir, readFile, rm, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AgentError } from "../errors.js";
import { Tpm2Tools } from "./tpm2-tools.js";
import {
  BANK_SIZES,
  selectionString,
  splitPcrDump,
  type AgentDriver,
  type BankName,
  type ClockInfo,
  type CredentialActivator,
  type PcrSelection,
  type PcrValues,
  type QuoteResult,
  type SecurityTier,
} from "./types.js";

export const EK_HANDLE = 0x81010001;
export const DEFAULT_AK_HANDLE = 0x81010002;
const EK_CERT_NV_RSA = 0x01c00002;

export interface TpmDriverOptions {
  tcti: string;
  /** Where AK public/name files live (one dir per TPM). */
  stateDir: string;
  akHandle?: number;
  /** AK algorithm: ECDSA P-256 (default) or RSASSA-2048, both with SHA-256. */
  akAlg?: "ecc" | "rsa";
}

const hexHandle = (h: number): string => `0x${h.toString(16)}`;
const KNOWN_BANKS: readonly BankName[] = ["sha1", "sha256", "sha384", "sha512"];

export class TpmDriver implements AgentDriver {
  readonly driver = "tpm";
  readonly tier: SecurityTier;
  readonly activator: CredentialActivator;
  private readonly tools: Tpm2Tools;
  private readonly akHandle: number;
  private bankList: BankName[] | undefined;
  private akPub: Buffer | undefined;

  constructor(private readonly opts: TpmDriverOptions) {
    this.tools = new Tpm2Tools(opts.tcti);
    this.akHandle = opts.akHandle ?? DEFAULT_AK_HANDLE;
    // Only a kernel device is a hardware root; a socket TCTI reaches a process.
    this.tier = opts.tcti.startsWith("device:") ? "tpm-hardware" : "tpm-emulator";
    this.activator = {
      ekCertificate: () => this.ekCertificate(),
      ekPublic: () => this.tools.exclusive(() => this.readPublic(EK_HANDLE)),
      activateCredential: (blob) => this.activateCredential(blob),
    };
  }

  private file(name: string): string {
    return join(this.opts.stateDir, name);
  }

  async init(): Promise<void> {
    await mkdir(this.opts.stateDir, { recursive: true });
    await this.tools.exclusive(async () => {
      const persistent = await this.persistentHandles();
      if (!persistent.has(EK_HANDLE)) {
        await this.tools.run("tpm2_createek", ["-c", hexHandle(EK_HANDLE), "-G", "rsa", "-u", this.file("ek.pub")]);
        await this.tools.flushAll();
      }
      if (!persistent.has(this.akHandle)) await this.createAk();
      this.akPub = await this.readPublic(this.akHandle);
    });
  }

  private async persistentHandles(): Promise<Set<number>> {
    const { stdout } = await this.tools.run("tpm2_getcap", ["handles-persistent"]);
    return new Set([...stdout.matchAll(/0x[0-9a-fA-F]+/g)].map((m) => Number.parseInt(m[0], 16)));
  }

  private async createAk(): Promise<void> {
    const alg = this.opts.akAlg ?? "ecc";
    const ctx = this.file("ak.ctx");
    await this.tools.run("tpm2_createak", [
      "-C", hexHandle(EK_HANDLE), "-c", ctx,
      "-G", alg, "-g", "sha256", "-s", alg === "ecc" ? "ecdsa" : "rsassa",
      "-u", this.file("ak.pub"), "-n", this.file("ak.name"), "-r", this.file("ak.priv"),
    ]);
    await this.tools.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx, hexHandle(this.akHandle)]);
    await this.tools.flushAll();
    await rm(ctx, { force: true });
  }

  /** TPM2B_PUBLIC of a persistent object, read back from the TPM (not trusted from disk). */
  private async readPublic(handle: number): Promise<Buffer> {
    const out = this.file(`pub-${handle.toString(16)}.bin`);
    await this.tools.run("tpm2_readpublic", ["-c", hexHandle(handle), "-f", "tss", "-o", out]);
    return readFile(out);
  }

  async akPublic(): Promise<Buffer> {
    if (!this.akPub) throw new AgentError("AGENT_STATE", "TPM driver not initialised");
    return this.akPub;
  }

  async banks(): Promise<readonly BankName[]> {
    if (this.bankList) return this.bankList;
    const { stdout } = await this.tools.exclusive(() => this.tools.run("tpm2_getcap", ["pcrs"]));
    // Lines look like "  - sha256: [ 0, 1, ... ]"; an inactive bank has an empty list.
    const active: BankName[] = [];
    for (const m of stdout.matchAll(/-\s*(sha1|sha256|sha384|sha512)\s*:\s*\[([^\]]*)\]/g)) {
      const name = m[1] as BankName;
      if (KNOWN_BANKS.includes(name) && (m[2] ?? "").trim() !== "") active.push(name);
    }
    this.bankList = active;
    return active;
  }

  async extend(pcr: number, digests: Partial<Record<BankName, Buffer>>): Promise<void> {
    const parts = Object.entries(digests).map(([bank, d]) => `${bank}=${(d as Buffer).toString("hex")}`);
    if (parts.length === 0) return;
    await this.tools.exclusive(() => this.tools.run("tpm2_pcrextend", [`${pcr}:${parts.join(",")}`]));
  }

  async readPcrs(selection: PcrSelection): Promise<{ raw: Buffer; values: PcrValues }> {
    return this.tools.exclusive(() => this.readPcrsLocked(selection));
  }

  private async readPcrsLocked(selection: PcrSelection): Promise<{ raw: Buffer; values: PcrValues }> {
    const out = this.file("pcrs.bin");
    await this.tools.run("tpm2_pcrread", ["-o", out, selectionString(selection)]);
    return pcrDump(selection, await readFile(out));
  }

  async quote(selection: PcrSelection, nonce: Buffer): Promise<QuoteResult> {
    if (nonce.length > 64) throw new AgentError("BAD_REQUEST", `nonce is ${nonce.length} bytes; a TPM takes at most 64`);
    return this.tools.exclusive(async () => {
      const msg = this.file("quote.msg");
      const sig = this.file("quote.sig");
      const pcrs = this.file("quote.pcrs");
      // tpm2_quote also writes the selected PCRs' values (-o, in pcrread's layout with -F
      // values): one tool run per quote instead of a quote and a pcrread. Either way the
      // values are read next to the quote, not in it; the verifier checks them against the
      // quote's PCR digest.
      await this.tools.run("tpm2_quote", [
        "-c", hexHandle(this.akHandle), "-l", selectionString(selection),
        "-q", nonce.toString("hex"), "-m", msg, "-s", sig, "-g", "sha256",
        "-o", pcrs, "-F", "values",
      ]);
      const { raw, values } = pcrDump(selection, await readFile(pcrs));
      return { attest: await readFile(msg), signature: await readFile(sig), pcrs: raw, pcrValues: values };
    });
  }

  async clock(): Promise<ClockInfo> {
    const { stdout } = await this.tools.exclusive(() => this.tools.run("tpm2_readclock", []));
    const num = (k: string): string => {
      const m = new RegExp(`${k}:\\s*(\\S+)`).exec(stdout);
      if (!m?.[1]) throw new AgentError("TPM_TOOL_FAILED", `tpm2_readclock output lacks ${k}`);
      return m[1];
    };
    return {
      clock: BigInt(num("clock")),
      resetCount: Number(num("reset_count")),
      restartCount: Number(num("restart_count")),
      safe: num("safe") === "yes",
    };
  }

  private async ekCertificate(): Promise<Buffer | undefined> {
    return this.tools.exclusive(async () => {
      const out = this.file("ekcert.der");
      try {
        await this.tools.run("tpm2_nvread", [hexHandle(EK_CERT_NV_RSA), "-o", out]);
      } catch {
        return undefined;
      }
      return readFile(out);
    });
  }

  /** ActivateCredential needs the EK's policy (PolicySecret on the endorsement hierarchy). */
  private activateCredential(blob: Buffer): Promise<Buffer> {
    return this.tools.exclusive(async () => {
      const dir = await mkdtemp(join(this.opts.stateDir, "act-"));
      try {
        const inFile = join(dir, "cred.in");
        const outFile = join(dir, "cred.out");
        const session = join(dir, "session.ctx");
        await writeFile(inFile, blob);
        await this.tools.run("tpm2_startauthsession", ["--policy-session", "-S", session]);
        try {
          await this.tools.run("tpm2_policysecret", ["-S", session, "-c", "e"]);
          await this.tools.run("tpm2_activatecredential", [
            "-c", hexHandle(this.akHandle), "-C", hexHandle(EK_HANDLE),
            "-i", inFile, "-o", outFile, "-P", `session:${session}`,
          ]);
        } finally {
          await this.tools.run("tpm2_flushcontext", [session]).catch(() => undefined);
        }
        return await readFile(outFile);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  async close(): Promise<void> {
    await this.tools.exclusive(async () => undefined);
  }
}

/** A PCR dump (the selected banks' values, in selection order) checked for size and split per PCR. */
function pcrDump(selection: PcrSelection, raw: Buffer): { raw: Buffer; values: PcrValues } {
  const expected = selection.reduce((n, s) => n + s.pcrs.length * BANK_SIZES[s.bank], 0);
  if (raw.length !== expected) {
    throw new AgentError("BAD_REQUEST", `PCR read returned ${raw.length} bytes, expected ${expected}`, {
      metaMessages: ["a requested bank is probably not active"],
    });
  }
  return { raw, values: splitPcrDump(selection, raw) };
}
