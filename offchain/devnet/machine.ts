/**
 * One execution machine of the local devnet: an swtpm (with an EK certificate from the
 * devnet's local CA), the HPC agent on it measuring a boot, and the agent's bridge server
 * that only its gateway's Noise key may reach. "Reboot" power-cycles the TPM (PCRs reset,
 * resetCount up) and boots the agent again with a fresh per-boot nonce from the gateway.
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

export interface MachineImage {
  bootImage: { label: string; content: Uint8Array };
  kernelCmdline: string;
  containers: { label: string; content: Uint8Array }[];
}

export interface MachineOptions {
  dir: string;
  caDir: string;
  image: MachineImage;
}

export class Machine {
  private constructor(
    private readonly opts: MachineOptions,
    readonly tpm: Swtpm,
    public agent: Agent,
    public server: AgentServer,
    readonly agentKey: StaticKeyPair,
    readonly gatewayKey: StaticKeyPair,
  ) {}

  static async start(opts: MachineOptions): Promise<Machine> {
    await mkdir(opts.dir, { recursive: true });
    const tpm = await Swtpm.start({ stateDir: join(opts.dir, "swtpm"), ekCert: true, caDir: opts.caDir });
    const agentKey = generateStaticKey();
    const gatewayKey = generateStaticKey();
    const agent = await Machine.boot(opts, tpm, randomBytes(16));
    const server = await Machine.listen(agent, agentKey, gatewayKey);
    return new Machine(opts, tpm, agent, server, agentKey, gatewayKey);
  }

  private static boot(opts: MachineOptions, tpm: Swtpm, nonce: Buffer): Promise<Agent> {
    const boot: BootInputs = {
      bootImage: { label: opts.image.bootImage.label, content: Buffer.from(opts.image.bootImage.content) },
      bootNonce: nonce,
      kernelCmdline: opts.image.kernelCmdline,
      containers: opts.image.containers.map((c) => ({ label: c.label, content: Buffer.from(c.content) })),
    };
    return Agent.start({ driver: new TpmDriver({ tcti: tpm.tcti, stateDir: join(opts.dir, "tpm") }), stateDir: join(opts.dir, "agent"), boot });
  }

  private static listen(agent: Agent, agentKey: StaticKeyPair, gatewayKey: StaticKeyPair): Promise<AgentServer> {
    return AgentServer.listen({ agent, staticKey: agentKey, gatewayKeys: [gatewayKey.publicKey], port: 0 });
  }

  get port(): number {
    return this.server.port;
  }

  /** Runs (and measures) a container image on the HPC. */
  async loadContainer(label: string, content: Uint8Array): Promise<void> {
    await this.agent.loadContainer(label, content);
  }

  /** Power cycle: TPM reset, fresh boot measurements, same bridge port and keys. */
  async reboot(): Promise<void> {
    const port = this.server.port;
    await this.server.close();
    await this.agent.stop();
    await this.tpm.restart();
    this.agent = await Machine.boot(this.opts, this.tpm, randomBytes(16));
    this.server = await AgentServer.listen({ agent: this.agent, staticKey: this.agentKey, gatewayKeys: [this.gatewayKey.publicKey], port });
  }

  async stop(): Promise<void> {
    await this.server.close().catch(() => undefined);
    await this.agent.stop().catch(() => undefined);
    await this.tpm.stop().catch(() => undefined);
  }
}
