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
  /** Preferred server port (control: port + 1); a free pair is drawn instead when it is taken. */
  port?: number;
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

/**
 * Ports handed to instances of this process. A probed port is free only until someone binds
 * it, so instances started in parallel could otherwise pick overlapping pairs (P+1 of one
 * is the random P of another).
 */
const portsInUse = new Set<number>();

/** Reserves P and P+1 for an instance of this process, unless another one holds either. */
function reservePortPair(port: number): boolean {
  if (portsInUse.has(port) || portsInUse.has(port + 1)) return false;
  portsInUse.add(port).add(port + 1);
  return true;
}

/** A server port P with P+1 also free (the control channel), reserved for this process. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await randomPort();
    if (p > 0 && p < 65534 && (await portFree(p + 1)) && reservePortPair(p)) return p;
  }
  throw new AgentError("SWTPM_FAILED", "no free port pair for swtpm");
}

function releasePortPair(port: number): void {
  portsInUse.delete(port);
  portsInUse.delete(port + 1);
}

/** Another process bound one of the probed ports between the probe and swtpm's bind. */
class PortTaken extends AgentError {
  constructor(port: number, stderr: string) {
    super("SWTPM_FAILED", `swtpm could not bind ${port}/${port + 1}: ${stderr.trim()}`);
  }
}

/** How often start() draws a new port pair after losing a bind race. */
const BIND_ATTEMPTS = 5;

async function waitListening(
  port: number,
  child: ChildProcess,
  output: { closed: Promise<void>; stderr: () => string },
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      // The exit code is set before stderr is drained; its last words say why.
      await Promise.race([output.closed, new Promise((r) => setTimeout(r, 500))]);
      const text = output.stderr();
      if (/address already in use/i.test(text)) throw new PortTaken(port, text);
      throw new AgentError("SWTPM_FAILED", `swtpm exited with ${child.exitCode} during start`, { details: text.trim() });
    }
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    await new Promise((r) => setTimeout(r, ok ? 25 : 10));
    // A connection proves someone listens; still running proves it is this swtpm and not the
    // winner of a bind race (the loser exits at once).
    if (ok && child.exitCode === null) return;
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
    private portNumber: number,
    readonly stateDir: string,
    private readonly ownsState: string | undefined,
  ) {}

  /** Server port; the control port is this + 1. */
  get port(): number {
    return this.portNumber;
  }

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
    const first = opts.port !== undefined && reservePortPair(opts.port) ? opts.port : await freePortPair();
    const t = new Swtpm(first, stateDir, owned);
    for (let attempt = 1; ; attempt++) {
      try {
        await t.launch();
        return t;
      } catch (e) {
        releasePortPair(t.portNumber);
        if (!(e instanceof PortTaken) || attempt >= BIND_ATTEMPTS) {
          if (owned) await rm(owned, { recursive: true, force: true });
          throw e;
        }
        t.portNumber = await freePortPair();
      }
    }
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
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-2048);
    });
    this.child = child;
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    await waitListening(this.portNumber, child, { closed, stderr: () => stderr }, 5000);
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
    releasePortPair(this.portNumber);
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
