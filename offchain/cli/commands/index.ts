/**
 * Every command group of the CLI. One line per group: a new group adds its import and
 * its register call here, nothing else.
 */
import type { Command } from "commander";
import { register as registerKeystore } from "./keystore.js";
import { register as registerNode } from "./node.js";
import { register as registerVote } from "./vote.js";
import { register as registerAudit } from "./audit.js";
import { register as registerWeb } from "./web.js";
import { register as registerAttest } from "./attest.js";
import { register as registerVrf } from "./vrf.js";
import { register as registerGateway } from "./gateway.js";

export function registerAll(program: Command): void {
  void program;
  registerKeystore(program);
  registerNode(program);
  registerVote(program);
  registerAudit(program);
  registerWeb(program);
  registerAttest(program);
  registerVrf(program);
  registerGateway(program);
}
