/**
 * The devnet's execution machines, in a process of their own (forked by machine.ts). An
 * HPC is a separate computer: here its agent, its bridge server and its TPM tool runs stay
 * off the gateways' event loop, and the tpm2-tools child processes are forked from this
 * small process rather than from the large one that hosts seven libp2p gateways (a fork
 * costs in proportion to the parent's memory).
 *
 * Protocol (IPC messages): { id, op, ... } in, { id, ok, result | error } out.
 *   start {index, dir, caDir, image, gatewayPublicKey}  -> { port, agentPublicKey }
 *   loadContainer {index, label, content}                -> {}
 *   reboot {index, bootNonce?}                            -> {}   (the nonce is random when absent)
 *   stop {index}                                          -> {}
 * Binary fields travel base64-encoded.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Agent } from "../../firmware/agent/agent.js";
import { TpmDriver } from "../../firmware/agent/drivers/tpm.js";
import type { BootInputs } from "../../firmware/agent/measure.js";
import { AgentServer } from "../../firmware/agent/server.js";
import { Swtpm } from "../../firmware/agent/swtpm.js";
import { generateStaticKey, type StaticKeyPair } from "../attest/bridge/noise.js";
import { SandboxPool } from "../sandbox/index.js";

export interface WireImage {
  bootImage: { label: string; content: string };
  kernelCmdline: string;
  containers: { label: string; content: string }[];
}

export type HostRequest =
  | { id: number; op: "start"; index: number; dir: string; caDir: string; image: WireImage; gatewayPublicKey: string }
  | { id: number; op: "loadContainer"; index: number; label: string; content: string }
  | { id: number; op: "reboot"; index: number; bootNonce?: string }
  | { id: number; op: "stop"; index: number };

export type HostReply = { id: number; ok: true; result: Record<string, unknown> } | { id: number; ok: false; error: string };

interface Running {
  dir: string;
  image: WireImage;
  tpm: Swtpm;
  agent: Agent;
  server: AgentServer;
  agentKey: StaticKeyPair;
  gatewayKey: Uint8Array;
}

const machines = new Map<number, Running>();

/**
 * The HPCs' task sandbox: one pool for the machines of this process, made on first use (a
 * worker per run; the pool only keeps a warm thread ready). Tasks run here, on the "HPC",
 * never in the gateways' process: the gateway only relays sealed material (firmware/agent/tasks.ts).
 */
let sandboxPool: Promise<SandboxPool> | undefined;
const sandbox = async (p: Parameters<SandboxPool["run"]>[0]) => (await (sandboxPool ??= SandboxPool.create({ size: 1 }))).run(p);

/** A measured boot; the gateway chooses the boot nonce (a post-run reboot's is bound to the task, core/boot-nonce.ts). */
function boot(dir: string, image: WireImage, tpm: Swtpm, bootNonce: Uint8Array = randomBytes(16)): Promise<Agent> {
  const inputs: BootInputs = {
    bootImage: { label: image.bootImage.label, content: Buffer.from(image.bootImage.content, "base64") },
    bootNonce,
    kernelCmdline: image.kernelCmdline,
    containers: image.containers.map((c) => ({ label: c.label, content: Buffer.from(c.content, "base64") })),
  };
  // The scratch area is reported in every quote; the task executor (offchain/task/devnet.ts)
  // works in the same directory, so a post-run round sees whether it was wiped.
  return Agent.start({ driver: new TpmDriver({ tcti: tpm.tcti, stateDir: join(dir, "tpm") }), stateDir: join(dir, "agent"), scratchDir: join(dir, "scratch"), boot: inputs, sandbox });
}

async function handle(req: HostRequest): Promise<Record<string, unknown>> {
  switch (req.op) {
    case "start": {
      await mkdir(req.dir, { recursive: true });
      const tpm = await Swtpm.start({ stateDir: join(req.dir, "swtpm"), ekCert: true, caDir: req.caDir });
      try {
        const agentKey = generateStaticKey();
        const gatewayKey = Buffer.from(req.gatewayPublicKey, "base64");
        const agent = await boot(req.dir, req.image, tpm);
        const server = await AgentServer.listen({ agent, staticKey: agentKey, gatewayKeys: [gatewayKey], port: 0 });
        machines.set(req.index, { dir: req.dir, image: req.image, tpm, agent, server, agentKey, gatewayKey });
        return { port: server.port, agentPublicKey: Buffer.from(agentKey.publicKey).toString("base64") };
      } catch (e) {
        await tpm.stop().catch(() => undefined);
        throw e;
      }
    }
    case "loadContainer": {
      await running(req.index).agent.loadContainer(req.label, Buffer.from(req.content, "base64"));
      return {};
    }
    case "reboot": {
      // Power cycle: TPM reset (PCRs cleared, resetCount up), a fresh measured boot, same bridge port and keys.
      const m = running(req.index);
      const port = m.server.port;
      await m.server.close();
      await m.agent.stop();
      await m.tpm.restart();
      m.agent = await boot(m.dir, m.image, m.tpm, req.bootNonce === undefined ? undefined : Buffer.from(req.bootNonce, "base64"));
      m.server = await AgentServer.listen({ agent: m.agent, staticKey: m.agentKey, gatewayKeys: [m.gatewayKey], port });
      return {};
    }
    case "stop": {
      const m = machines.get(req.index);
      machines.delete(req.index);
      if (m) {
        await m.server.close().catch(() => undefined);
        await m.agent.stop().catch(() => undefined);
        await m.tpm.stop().catch(() => undefined);
      }
      return {};
    }
  }
}

function running(index: number): Running {
  const m = machines.get(index);
  if (!m) throw new Error(`machine ${index} is not running`);
  return m;
}

async function stopAll(): Promise<void> {
  await Promise.all([...machines.keys()].map((index) => handle({ id: 0, op: "stop", index })));
  await (await sandboxPool?.catch(() => undefined))?.close();
}

if (process.send) {
  process.on("message", (req: HostRequest) => {
    handle(req).then(
      (result) => process.send?.({ id: req.id, ok: true, result } satisfies HostReply),
      (e: unknown) => process.send?.({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies HostReply),
    );
  });
  // The parent went away (killed, crashed): no swtpm may outlive it.
  process.on("disconnect", () => void stopAll().finally(() => process.exit(0)));
  process.send({ id: 0, ok: true, result: { ready: true } } satisfies HostReply);
}
