/**
 * One execution machine of the local devnet: an swtpm (with an EK certificate from the
 * devnet's local CA), the HPC agent on it measuring a boot, and the agent's bridge server
 * that only its gateway's Noise key may reach. "Reboot" power-cycles the TPM (PCRs reset,
 * resetCount up) and boots the agent again with a fresh per-boot nonce.
 *
 * The machines run in a separate process (machine-host.ts), as HPCs are separate
 * computers: their TPM work then uses the second core instead of the gateways' event loop.
 * A Machine here is the handle the devnet holds: the bridge port, the keys, and the
 * operations a demo performs on the HPC (load a container, reboot, stop).
 */
import { join } from "node:path";
import { generateStaticKey, type StaticKeyPair } from "../attest/bridge/noise.js";
import type { MachineImage, MachineOps } from "./machine-host.js";
import { RpcChild } from "./rpc-child.js";

export type { MachineImage } from "./machine-host.js";

export interface MachineOptions {
  dir: string;
  caDir: string;
  image: MachineImage;
  /** The process the machine runs in; a host of its own when absent. */
  host?: MachineHost;
}

/** The process that runs machines (machine-host.ts). */
export class MachineHost {
  private nextIndex = 0;

  private constructor(private readonly proc: RpcChild<Record<never, never>, MachineOps>) {}

  static async start(): Promise<MachineHost> {
    return new MachineHost(await RpcChild.fork<Record<never, never>, MachineOps>(join(import.meta.dirname, "machine-host.ts"), "machine host", {}));
  }

  allocateIndex(): number {
    return this.nextIndex++;
  }

  get rpc(): RpcChild<Record<never, never>, MachineOps>["rpc"] {
    return this.proc.rpc;
  }

  /** Ends the process; its machines stop with it (the host stops them on disconnect). */
  async close(): Promise<void> {
    await this.proc.stop(10_000);
  }
}

export class Machine {
  private constructor(
    private readonly host: MachineHost,
    private readonly ownsHost: boolean,
    private readonly index: number,
    readonly port: number,
    /** The agent's bridge key: its public half is all a gateway ever knows of it. */
    readonly agentKey: { publicKey: Uint8Array },
    /** The gateway's bridge key, pinned by the agent. */
    readonly gatewayKey: StaticKeyPair,
  ) {}

  static async start(opts: MachineOptions): Promise<Machine> {
    const host = opts.host ?? (await MachineHost.start());
    const index = host.allocateIndex();
    const gatewayKey = generateStaticKey();
    try {
      const r = await host.rpc.call("start", { index, dir: opts.dir, caDir: opts.caDir, image: opts.image, gatewayPublicKey: gatewayKey.publicKey });
      return new Machine(host, opts.host === undefined, index, r.port, { publicKey: r.agentPublicKey }, gatewayKey);
    } catch (e) {
      if (opts.host === undefined) await host.close();
      throw e;
    }
  }

  /** Runs (and measures) a container image on the HPC. */
  async loadContainer(label: string, content: Uint8Array): Promise<void> {
    await this.host.rpc.call("loadContainer", { index: this.index, label, content });
  }

  /**
   * Power cycle: TPM reset, fresh boot measurements, same bridge port and keys. The boot
   * nonce is the gateway's to choose (random when not given; after a task, the post-run
   * nonce of core/boot-nonce.ts). Resolves once the agent listens again.
   */
  async reboot(bootNonce?: Uint8Array): Promise<void> {
    await this.host.rpc.call("reboot", { index: this.index, ...(bootNonce ? { bootNonce } : {}) });
  }

  async stop(): Promise<void> {
    await this.host.rpc.call("stop", { index: this.index }).catch(() => undefined);
    if (this.ownsHost) await this.host.close();
  }
}
