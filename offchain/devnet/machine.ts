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
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { generateStaticKey, type StaticKeyPair } from "../attest/bridge/noise.js";
import type { HostReply, HostRequest, WireImage } from "./machine-host.js";

export interface MachineImage {
  bootImage: { label: string; content: Uint8Array };
  kernelCmdline: string;
  containers: { label: string; content: Uint8Array }[];
}

export interface MachineOptions {
  dir: string;
  caDir: string;
  image: MachineImage;
  /** The process the machine runs in; a host of its own when absent. */
  host?: MachineHost;
}

/** A request without its id (Omit over each member of the union). */
type Request = HostRequest extends infer R ? (R extends HostRequest ? Omit<R, "id"> : never) : never;

type Pending = { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void };

/** The process that runs machines (machine-host.ts), forked with the same TypeScript loader. */
export class MachineHost {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private nextIndex = 0;
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (m: HostReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`machine host: ${m.error}`));
    });
    child.once("exit", (code) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`machine host exited (${code})`));
      this.pending.clear();
    });
  }

  static async start(): Promise<MachineHost> {
    const child = fork(join(import.meta.dirname, "machine-host.ts"), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`machine host exited (${code}) before it was ready`)));
    });
    return new MachineHost(child);
  }

  allocateIndex(): number {
    return this.nextIndex++;
  }

  request(req: Request): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error("machine host is not running"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...req, id } as HostRequest);
    });
  }

  /** Ends the process; its machines stop with it (the host stops them on disconnect). */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

function wireImage(image: MachineImage): WireImage {
  return {
    bootImage: { label: image.bootImage.label, content: b64(image.bootImage.content) },
    kernelCmdline: image.kernelCmdline,
    containers: image.containers.map((c) => ({ label: c.label, content: b64(c.content) })),
  };
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
      const r = await host.request({ op: "start", index, dir: opts.dir, caDir: opts.caDir, image: wireImage(opts.image), gatewayPublicKey: b64(gatewayKey.publicKey) });
      const agentKey = { publicKey: new Uint8Array(Buffer.from(String(r.agentPublicKey), "base64")) };
      return new Machine(host, opts.host === undefined, index, Number(r.port), agentKey, gatewayKey);
    } catch (e) {
      if (opts.host === undefined) await host.close();
      throw e;
    }
  }

  /** Runs (and measures) a container image on the HPC. */
  async loadContainer(label: string, content: Uint8Array): Promise<void> {
    await this.host.request({ op: "loadContainer", index: this.index, label, content: b64(content) });
  }

  /**
   * Power cycle: TPM reset, fresh boot measurements, same bridge port and keys. The boot
   * nonce is the gateway's to choose (random when not given; after a task, the post-run
   * nonce of core/boot-nonce.ts). Resolves once the agent listens again.
   */
  async reboot(bootNonce?: Uint8Array): Promise<void> {
    await this.host.request({ op: "reboot", index: this.index, ...(bootNonce ? { bootNonce: b64(bootNonce) } : {}) });
  }

  async stop(): Promise<void> {
    await this.host.request({ op: "stop", index: this.index }).catch(() => undefined);
    if (this.ownsHost) await this.host.close();
  }
}
