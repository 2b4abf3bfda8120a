/** Shared setup for agent tests: a swtpm-backed agent behind a bridge server, and its gateway client. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, type AgentOptions } from "../../firmware/agent/agent.js";
import { TpmDriver } from "../../firmware/agent/drivers/tpm.js";
import { AgentServer } from "../../firmware/agent/server.js";
import { Swtpm } from "../../firmware/agent/swtpm.js";
import { AgentClient, generateStaticKey, type StaticKeyPair } from "../../offchain/attest/bridge/index.js";
import type { BootInputs } from "../../firmware/agent/measure.js";
import type { AgentDriver } from "../../firmware/agent/drivers/types.js";

export const BOOT_IMAGE = Buffer.from("trustmesh boot image v1 (kernel+initrd)");
export const APPROVED_CONTAINER = Buffer.from("container image: approved-worker:1.0");

export function bootInputs(nonce: Buffer): BootInputs {
  return {
    bootImage: { label: "hpc-v1.efi", content: BOOT_IMAGE },
    bootNonce: nonce,
    kernelCmdline: "console=ttyS0 ro trustmesh.gateway=10.0.0.1",
    containers: [{ label: "approved-worker:1.0", content: APPROVED_CONTAINER }],
  };
}

export interface Rig {
  work: string;
  tpm?: Swtpm;
  driver: AgentDriver;
  agent: Agent;
  server: AgentServer;
  agentKey: StaticKeyPair;
  gatewayKey: StaticKeyPair;
  connectionErrors: Error[];
  connect(opts?: { rekeyAfterMessages?: number; key?: StaticKeyPair }): Promise<AgentClient>;
  /** Power-cycle the TPM and restart the agent process on it (new boot). */
  reboot(nonce: Buffer): Promise<void>;
  stop(): Promise<void>;
}

export async function startRig(opts: {
  swtpm?: { ekCert?: boolean };
  driver?: (work: string) => AgentDriver;
  boot: BootInputs;
  agent?: Partial<AgentOptions>;
  rekeyAfterMessages?: number;
}): Promise<Rig> {
  const work = await mkdtemp(join(tmpdir(), "trustmesh-agent-"));
  const tpm = opts.driver ? undefined : await Swtpm.start({ ekCert: opts.swtpm?.ekCert ?? false });
  const mkDriver = (): AgentDriver =>
    opts.driver ? opts.driver(work) : new TpmDriver({ tcti: (tpm as Swtpm).tcti, stateDir: join(work, "tpm") });
  const agentKey = generateStaticKey();
  const gatewayKey = generateStaticKey();
  const connectionErrors: Error[] = [];
  const listen = (agent: Agent): Promise<AgentServer> =>
    AgentServer.listen({
      agent,
      staticKey: agentKey,
      gatewayKeys: [gatewayKey.publicKey],
      rekeyAfterMessages: opts.rekeyAfterMessages,
      onConnectionError: (e) => connectionErrors.push(e),
    });
  const startAgent = (boot: BootInputs): Promise<Agent> =>
    Agent.start({ driver: mkDriver(), stateDir: join(work, "agent"), boot, ...(opts.agent ?? {}) });
  const rig: Rig = {
    work,
    tpm,
    agentKey,
    gatewayKey,
    connectionErrors,
    agent: await startAgent(opts.boot),
    driver: undefined as unknown as AgentDriver,
    server: undefined as unknown as AgentServer,
    connect: (c = {}) =>
      AgentClient.connect({
        port: rig.server.port,
        staticKey: c.key ?? gatewayKey,
        agentKey: agentKey.publicKey,
        rekeyAfterMessages: c.rekeyAfterMessages,
      }),
    async reboot(nonce) {
      await rig.server.close();
      await rig.agent.stop();
      if (tpm) await tpm.restart();
      rig.agent = await startAgent({ ...opts.boot, bootNonce: nonce });
      rig.driver = rig.agent.driver;
      rig.server = await listen(rig.agent);
    },
    async stop() {
      await rig.server.close();
      await rig.agent.stop();
      await tpm?.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
  rig.driver = rig.agent.driver;
  rig.server = await listen(rig.agent);
  return rig;
}
