/**
 * Running tpm2-tools against one TCTI. Every call goes through one queue per TPM: there is
 * no resource manager in front of swtpm (3 object slots), and a quote and the PCR read that
 * accompanies it must not interleave with an extend.
 */
import { execFile } from "node:child_process";
import { AgentError } from "../errors.js";

export interface ToolResult {
  stdout: string;
  stderr: string;
}

export class Tpm2Tools {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly tcti: string) {}

  /** Run one tool now (caller holds the lock). */
  run(tool: string, args: readonly string[]): Promise<ToolResult> {
    return new Promise((resolve, reject) => {
      execFile(
        tool,
        [...args],
        // A tool that hangs (a TPM that stopped answering) must not block the queue forever.
        { env: { ...process.env, TPM2TOOLS_TCTI: this.tcti }, maxBuffer: 16 * 1024 * 1024, timeout: 20_000, killSignal: "SIGKILL" },
        (err, stdout, stderr) => {
          if (err) {
            reject(
              new AgentError("TPM_TOOL_FAILED", `${tool} failed`, {
                metaMessages: [`tcti: ${this.tcti}`, `args: ${args.join(" ")}`],
                details: String(stderr).trim(),
                cause: err,
              }),
            );
          } else resolve({ stdout: String(stdout), stderr: String(stderr) });
        },
      );
    });
  }

  /** Run `fn` with exclusive use of the TPM. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Flush transient objects and sessions left by a tool (no resource manager). */
  async flushAll(): Promise<void> {
    await this.run("tpm2_flushcontext", ["-t"]);
    await this.run("tpm2_flushcontext", ["-s"]);
  }
}
