/**
 * swtpm as a child process, for tests and demos: free ports, a state directory, an optional
 * manufacturer step (EK + EK certificate signed by a local CA via swtpm_setup), stop and
 * restart (a restart is a TPM reset: resetCount goes up, PCRs return to zero).
 *
 * Runs in the foreground (not --daemon) so kill + wait takes milliseconds, and the control
 * port is always the server port + 1 because the swtpm TCTI of tpm2-tools assumes it.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, mkdir, writeFile, rm, readFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AgentError } from "./errors.js";

const execFileP = promisify(execFile);

export interface SwtpmOptions {
  /** State directory; a fresh temporary one when absent (removed by stop({ removeState: true })). */
  stateDir?: string;
  /** Run swtpm_setup first: EKs (RSA 2048 at 0x81010001, ECC P-384 at 0x81010016) and their certificates. */
  ekCert?: boolean;
  /** Directory of the local CA that signs EK certificates; shared by instances that should share a CA. */
  caDir?: string;
  /** PCR banks to activate during setup (default sha1,sha256). */
  pcrBanks?: readonly string[];
}

export interface SwtpmCa {
  dir: string;
  /** Root CA certificate (PEM): the trust anchor of the EK chain. */
  rootCertPath: string;
  /** Intermediate that signs the EK certificates (PEM). */
  issuerCertPath: string;
}

/** Paths of the local CA that swtpm_localca creates (or created) in `dir`. */
export function swtpmCa(dir: string): SwtpmCa {
  return { dir, rootCertPath: join(dir, "swtpm-localca-rootca-cert.pem"), issuerCertPath: join(dir, "issuercert.pem") };
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function randomPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A server port P with P+1 also free (the control channel). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await randomPort();
    if (p > 0 && p < 65534 && (await portFree(p + 1))) return p;
  }
  throw new AgentError("SWTPM_FAILED", "no free port pair for swtpm");
}

async function waitListening(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new AgentError("SWTPM_FAILED", `swtpm exited with ${child.exitCode} during start`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new AgentError("SWTPM_FAILED", `swtpm did not listen on ${port} within ${timeoutMs} ms`);
}

/** Manufacture a TPM state: EKs, EK certificates and a platform certificate from a local CA. */
export async function manufacture(stateDir: string, caDir: string, pcrBanks: readonly string[]): Promise<void> {
  await mkdir(caDir, { recursive: true });
  await mkdir(stateDir, { recursive: true });
  const conf = await mkdtemp(join(tmpdir(), "trustmesh-swtpm-setup-"));
  const localca = join(conf, "localca.conf");
  const options = join(conf, "localca.options");
  const setup = join(conf, "setup.conf");
  await writeFile(
    localca,
    [`statedir = ${caDir}`, `signingkey = ${caDir}/signkey.pem`, `issuercert = ${caDir}/issuercert.pem`, `certserial = ${caDir}/certserial`, ""].join("\n"),
  );
  await writeFile(options, "--platform-manufacturer trustmesh\n--platform-version 2.1\n--platform-model swtpm\n");
  await writeFile(
    setup,
    [`create_certs_tool = /usr/bin/swtpm_localca`, `create_certs_tool_config = ${localca}`, `create_certs_tool_options = ${options}`, ""].join("\n"),
  );
  try {
    await execFileP("swtpm_setup", [
      "--tpm2", "--tpmstate", stateDir, "--create-ek-cert", "--create-platform-cert",
      "--config", setup, "--overwrite", "--pcr-banks", pcrBanks.join(","),
    ]);
  } catch (cause) {
    throw new AgentError("SWTPM_FAILED", "swtpm_setup failed", { cause, details: String((cause as { stderr?: string }).stderr ?? "") });
  } finally {
    await rm(conf, { recursive: true, force: true });
  }
}

export class Swtpm {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly stateDir: string,
    private readonly ownsState: string | undefined,
  ) {}

  /** TCTI string for tpm2-tools. */
  get tcti(): string {
    return `swtpm:host=127.0.0.1,port=${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }

  static async start(opts: SwtpmOptions = {}): Promise<Swtpm> {
    let owned: string | undefined;
    let stateDir = opts.stateDir;
    if (!stateDir) {
      owned = await mkdtemp(join(tmpdir(), "trustmesh-swtpm-"));
      stateDir = join(owned, "state");
    }
    await mkdir(stateDir, { recursive: true });
    if (opts.ekCert) {
      const caDir = opts.caDir ?? join(owned ?? stateDir, "ca");
      await manufacture(stateDir, caDir, opts.pcrBanks ?? ["sha1", "sha256"]);
    }
    const t = new Swtpm(await freePortPair(), stateDir, owned);
    await t.launch();
    return t;
  }

  private async launch(): Promise<void> {
    const child = spawn(
      "swtpm",
      [
        "socket", "--tpm2",
        "--server", `type=tcp,port=${this.port},bindaddr=127.0.0.1`,
        "--ctrl", `type=tcp,port=${this.port + 1},bindaddr=127.0.0.1`,
        "--tpmstate", `dir=${this.stateDir}`,
        "--flags", "not-need-init,startup-clear",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.resume();
    this.child = child;
    await waitListening(this.port, child, 5000);
  }

  /** Power-cycle: stop, start on the same ports and state. A TPM reset (resetCount + 1). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  private async kill(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
    });
  }

  async stop(opts: { removeState?: boolean } = {}): Promise<void> {
    await this.kill();
    if (this.ownsState && opts.removeState !== false) await rm(this.ownsState, { recursive: true, force: true });
  }

  /** The CA that signed this instance's EK certificate (only with ekCert and no caDir given). */
  ownCa(): SwtpmCa | undefined {
    return this.ownsState ? swtpmCa(join(this.ownsState, "ca")) : undefined;
  }
}

/** Read a PEM file as text (helper for callers building CA bundles). */
export async function readPem(path: string): Promise<string> {
  return readFile(path, "utf8");
}
