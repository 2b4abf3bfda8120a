/**
 * The agent daemon: `tsx firmware/agent/main.ts <config.json>`. Starts the driver, takes
 * the boot measurements (on a new TPM boot), listens for its gateway and runs until
 * SIGINT/SIGTERM. Connection-level failures are logged; nothing a peer sends stops it.
 */
import { readFile } from "node:fs/promises";
import { pino, type Logger } from "pino";
import { staticKeyFromSecret } from "../../offchain/attest/bridge/noise.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { Agent } from "./agent.js";
import { parseAgentConfig, type AgentConfig } from "./config.js";
import { SwDriver } from "./drivers/sw.js";
import { TpmDriver } from "./drivers/tpm.js";
import type { AgentDriver } from "./drivers/types.js";
import { AgentServer } from "./server.js";
import { join } from "node:path";

const log = pino({ name: "trustmesh-agent" });

function driverFor(c: AgentConfig, log: Logger): AgentDriver {
  if (c.driver === "sw") {
    log.warn("software driver: development only, evidence is tier 'software' and never passes as TPM evidence");
    return new SwDriver({ stateDir: join(c.stateDir, "sw") });
  }
  return new TpmDriver({ tcti: c.tcti as string, stateDir: join(c.stateDir, "tpm") });
}

export async function runAgent(config: AgentConfig, logger: Logger = log): Promise<{ agent: Agent; server: AgentServer }> {
  const log = logger;
  const boot = config.boot
    ? {
        bootImage: { label: config.boot.imagePath.split("/").pop() ?? "boot", content: await readFile(config.boot.imagePath) },
        bootNonce: Buffer.from(config.boot.nonceHex, "hex"),
        kernelCmdline: (await readFile(config.boot.cmdlinePath ?? "/proc/cmdline", "utf8")).trim(),
      }
    : undefined;
  const agent = await Agent.start({ driver: driverFor(config, log), stateDir: config.stateDir, boot, scratchDir: config.scratchDir, nonceTtlMs: config.nonceTtlMs });
  const server = await AgentServer.listen({
    agent,
    staticKey: staticKeyFromSecret(Buffer.from(config.staticKeyHex, "hex")),
    gatewayKeys: config.gatewayKeysHex.map((k) => Buffer.from(k, "hex")),
    host: config.listen.host,
    port: config.listen.port,
    rekeyIntervalMs: config.rekeyIntervalMs,
    onConnectionError: (e) => log.warn({ code: isTrustmeshError(e) ? e.code : undefined, err: e.message }, "connection dropped"),
  });
  log.info({ host: server.host, port: server.port, driver: agent.driver.driver, tier: agent.driver.tier, freshBoot: agent.freshBoot }, "agent listening");
  return { agent, server };
}

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path) {
    process.stderr.write("usage: main.ts <config.json>\n");
    process.exit(2);
  }
  const { agent, server } = await runAgent(parseAgentConfig(JSON.parse(await readFile(path, "utf8"))));
  const stop = async (): Promise<void> => {
    await server.close();
    await agent.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    log.error({ err: isTrustmeshError(e) ? e.shortMessage : String(e) }, "agent failed to start");
    process.exit(1);
  });
}
