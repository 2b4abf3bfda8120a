/**
 * Every command group of the CLI. One line per group: a new group adds its import and
 * its register call here, nothing else.
 */
import type { Command } from "commander";

export function registerAll(program: Command): void {
  void program;
}
