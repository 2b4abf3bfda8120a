/**
 * A private swtpm (the firmware's process wrapper: free port pair, temp state) plus
 * tpm2-tools against it. Used by the fixture generator and the swtpm integration tests;
 * several instances can run at once. There is no resource manager, so callers flush
 * transient objects (`flush()`) after tools that load keys.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Swtpm as SwtpmProcess } from "../../../firmware/agent/swtpm.js";

const exec = promisify(execFile);

export class Swtpm {
  private constructor(private readonly process: SwtpmProcess) {}

  static async start(stateDir?: string): Promise<Swtpm> {
    return new Swtpm(await SwtpmProcess.start(stateDir === undefined ? {} : { stateDir }));
  }

  get tcti(): string {
    return this.process.tcti;
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
    await this.process.restart();
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}
