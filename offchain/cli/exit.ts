/** Thrown by a command to end with a given exit code after it printed its own output. */
export class CliExit extends Error {
  override name = "CliExit";
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}
