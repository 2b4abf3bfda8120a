/**
 * The devnet's execution machines, in a process of their own (forked by machine.ts). An
 * HPC is a separate computer: here its agent, its bridge server and its TPM tool runs stay
 * off the gateways' event loop, and the tpm2-tools child processes are forked from this
 * small process rather than from the large one that hosts seven libp2p gateways (a fork
 * costs in proportion to the parent's memory).
 *
 * The devnet calls the MachineOps below through PortRpc (rpc-child.ts); byte arrays travel
 * as they are (structured clone). The machines stop when the devnet disconnects.
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
import { PortRpc, processEndpoint } from "./port-rpc.js";
import type { ReadyOps } from "./rpc-child.js";

/** What an HPC boots: the boot image, the kernel command line and the containers it runs. */
export interface MachineImage {
  bootImage: { label: string; content: Uint8Array };
  kernelCmdline: string;
  containers: { label: string; content: Uint8Array }[];
}

/** Operations the machines' process serves to the devnet. */
export type MachineOps = {
  start(arg: { index: number; dir: string; caDir: string; image: MachineImage; gatewayPublicKey: Uint8Array }): Promise<{ port: number; agentPublicKey: Uint8Array }>;
  loadContainer(arg: { index: number; label: string; content: Uint8Array }): Promise<void>;
  /** The boot nonce is random when absent. */
  reboot(arg: { index: number; bootNonce?: Uint8Array }): Promise<void>;
  stop(arg: { index: number }): Promise<void>;
};

interface Running {
  dir: string;
  image: MachineImage;
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
function boot(dir: string, image: MachineImage, tpm: Swtpm, bootNonce: Uint8Array = randomBytes(16)): Promise<Agent> {
  const inputs: BootInputs = { bootImage: image.bootImage, bootNonce, kernelCmdline: image.kernelCmdline, containers: image.containers };
  // The scratch area is reported in every quote; the task executor (offchain/task/devnet.ts)
  // works in the same directory, so a post-run round sees whether it was wiped.
  return Agent.start({ driver: new TpmDriver({ tcti: tpm.tcti, stateDir: join(dir, "tpm") }), stateDir: join(dir, "agent"), scratchDir: join(dir, "scratch"), boot: inputs, sandbox });
}

const handlers: MachineOps = {
  async start({ index, dir, caDir, image, gatewayPublicKey }) {
    await mkdir(dir, { recursive: true });
    const tpm = await Swtpm.start({ stateDir: join(dir, "swtpm"), ekCert: true, caDir });
    try {
      const agentKey = generateStaticKey();
      const agent = await boot(dir, image, tpm);
      const server = await AgentServer.listen({ agent, staticKey: agentKey, gatewayKeys: [gatewayPublicKey], port: 0 });
      machines.set(index, { dir, image, tpm, agent, server, agentKey, gatewayKey: gatewayPublicKey });
      return { port: server.port, agentPublicKey: agentKey.publicKey };
    } catch (e) {
      await tpm.stop().catch(() => undefined);
      throw e;
    }
  },
  async loadContainer({ index, label, content }) {
    await running(index).agent.loadContainer(label, content);
  },
  async reboot({ index, bootNonce }) {
    // Power cycle: TPM reset (PCRs cleared, resetCount up), a fresh measured boot, same bridge port and keys.
    const m = running(index);
    const port = m.server.port;
    await m.server.close();
    await m.agent.stop();
    await m.tpm.restart();
    m.agent = await boot(m.dir, m.image, m.tpm, bootNonce);
    m.server = await AgentServer.listen({ agent: m.agent, staticKey: m.agentKey, gatewayKeys: [m.gatewayKey], port });
  },
  async stop({ index }) {
    const m = machines.get(index);
    machines.delete(index);
    if (m) {
      await m.server.close().catch(() => undefined);
      await m.agent.stop().catch(() => undefined);
      await m.tpm.stop().catch(() => undefined);
    }
  },
};

function running(index: number): Running {
  const m = machines.get(index);
  if (!m) throw new Error(`machine ${index} is not running`);
  return m;
}

async function stopAll(): Promise<void> {
  await Promise.all([...machines.keys()].map((index) => handlers.stop({ index })));
  await (await sandboxPool?.catch(() => undefined))?.close();
}

if (process.send) {
  const rpc = new PortRpc<MachineOps, ReadyOps>(processEndpoint(process), handlers);
  // The parent went away (killed, crashed): no swtpm may outlive it.
  process.on("disconnect", () => {
    rpc.close(new Error("the devnet disconnected"));
    void stopAll().finally(() => process.exit(0));
  });
  rpc.notify("ready", undefined);
}
