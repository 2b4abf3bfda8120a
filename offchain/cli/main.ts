/**
 * The `trustmesh` command line. Each command group lives in its own file under
 * commands/ and registers itself on the program; this file only assembles them and maps
 * errors to exit codes (0 ok, 1 a negative answer such as "invalid", 2 unusable input).
 */
import { Command, CommanderError } from "commander";
import { TrustmeshError } from "../core/errors.js";
import { registerAll } from "./commands/index.js";
import { CliExit } from "./exit.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("trustmesh")
    .description("Attested, VRF-selected, PBFT-agreed trust for untrusted execution machines")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();
  registerAll(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CliExit) return e.exitCode;
    if (e instanceof CommanderError) {
      // --help and --version end through here with code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof TrustmeshError) {
      process.stderr.write(`error: ${e.shortMessage}\n`);
      for (const line of e.metaMessages) process.stderr.write(`  ${line}\n`);
      return 2;
    }
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}
