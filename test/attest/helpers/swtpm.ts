/**
 * Starts a private swtpm (socket mode, control port = port + 1, temp state dir) and runs
 * tpm2-tools against it. Used by the fixture generator and the swtpm integration tests;
 * several instances can run at once. There is no resource manager, so callers flush
 * transient objects (`flush()`) after tools that load keys.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error("no free port pair for swtpm");
}

async function waitListening(port: number, child: ChildProcess, deadlineMs = 5000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`swtpm exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => { c.destroy(); resolve(true); });
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`swtpm did not listen on ${port}`);
}

export class Swtpm {
  private child: ChildProcess | undefined;
  private stderr = "";

  private constructor(readonly port: number, readonly stateDir: string, private readonly ownsDir: boolean) {}

  static async start(stateDir?: string): Promise<Swtpm> {
    const dir = stateDir ?? mkdtempSync(join(tmpdir(), "tm-swtpm-"));
    const t = new Swtpm(await freePortPair(), dir, stateDir === undefined);
    await t.launch();
    return t;
  }

  get tcti(): string {
    return `swtpm:host=127.0.0.1,port=${this.port}`;
  }

  private async launch(): Promise<void> {
    this.stderr = "";
    const child = spawn("swtpm", [
      "socket", "--tpm2",
      "--server", `type=tcp,port=${this.port},bindaddr=127.0.0.1`,
      "--ctrl", `type=tcp,port=${this.port + 1},bindaddr=127.0.0.1`,
      "--tpmstate", `dir=${this.stateDir}`,
      "--flags", "not-need-init,startup-clear",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (d: Buffer) => { this.stderr += d.toString(); });
    this.child = child;
    try {
      await waitListening(this.port, child);
    } catch (e) {
      throw new Error(`${(e as Error).message}: ${this.stderr}`);
    }
  }

  /** Runs a tpm2-tools command against this TPM; returns stdout. */
  async tool(name: string, args: string[], cwd?: string): Promise<string> {
    try {
      const { stdout } = await exec(name, args, { env: { ...process.env, TPM2TOOLS_TCTI: this.tcti }, cwd, maxBuffer: 16 << 20 });
      return stdout;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${name} ${args.join(" ")} failed: ${err.stderr ?? err.message}`);
    }
  }

  /** Flushes transient objects and sessions (swtpm has three object slots and no RM). */
  async flush(): Promise<void> {
    await this.tool("tpm2_flushcontext", ["-t"]);
    await this.tool("tpm2_flushcontext", ["-s"]);
  }

  /** Power-cycles the TPM: PCRs reset, resetCount increments, persistent keys stay. */
  async restart(): Promise<void> {
    // An orderly TPM2_Shutdown first, so the next quote's clockInfo.safe is set, as on a clean reboot.
    await this.tool("tpm2_shutdown", ["-c"]);
    await this.kill();
    await this.launch();
  }

  private async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
    });
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.ownsDir) rmSync(this.stateDir, { recursive: true, force: true });
  }
}
