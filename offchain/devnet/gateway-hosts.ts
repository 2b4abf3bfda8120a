/**
 * Where the devnet's gateways run, behind one handle (GatewayControl): in the devnet's own
 * process (the demo and the tests, which reach into gateways) or spread over processes of
 * their own (DevnetOptions.gatewayProcesses: the end-to-end benchmark). Seven gateways in
 * one event loop measure one core; separate machines each have their own, and gateway
 * processes let the devnet use the cores this machine has.
 *
 * Processes rather than worker threads: the Poseidon library's dependency (web-worker,
 * through ffjavascript) takes any worker thread it is loaded in for its own and replaces
 * that thread's global object, which slowed a gateway thread's every global lookup.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { ContentStore } from "../../ipfs/adapter/index.js";
import { CID } from "../../ipfs/adapter/index.js";
import type { Gateway } from "../relayer/gateway.js";
import type { RoundTiming } from "../relayer/verifier.js";
import type { GatewaySpec } from "./gateway-spec.js";
import { PortRpc, RpcClosedError, processEndpoint } from "./port-rpc.js";

/** What the devnet does with a gateway, wherever it runs. */
export interface GatewayControl {
  start(): Promise<void>;
  /** Starts the attestation schedule (gateways are built with deferAttestation). */
  beginAttestation(): Promise<void>;
  stop(): Promise<void>;
  /** Node ids of the peers this gateway has admitted. */
  admittedNodeIds(): Promise<bigint[]>;
  /** Its listen addresses (known once started). */
  peerAddresses(): Promise<string[]>;
  dial(address: string): Promise<void>;
  /** The mean gap between scheduled rounds of a node, from the next epoch it schedules on. */
  setMeanInterval(ms: number): Promise<void>;
}

export function localGatewayControl(gateway: Gateway): GatewayControl {
  return {
    start: () => gateway.start(),
    beginAttestation: () => gateway.beginAttestation(),
    stop: () => gateway.stop(),
    admittedNodeIds: async () => gateway.p2p.admittedPeers().map((p) => p.nodeId),
    peerAddresses: async () => gateway.peerAddresses,
    dial: async (address) => {
      await gateway.p2p.dial(address);
    },
    setMeanInterval: async (ms) => {
      gateway.rt.verifier.meanIntervalMs = ms;
    },
  };
}

/** Operations a gateway process serves (gateway-host.ts). */
export type HostOps = {
  add(spec: GatewaySpec): Promise<void>;
  start(index: number): Promise<void>;
  beginAttestation(index: number): Promise<void>;
  stop(index: number): Promise<void>;
  admittedNodeIds(index: number): Promise<bigint[]>;
  peerAddresses(index: number): Promise<string[]>;
  dial(arg: { index: number; address: string }): Promise<void>;
  setMeanInterval(arg: { index: number; ms: number }): Promise<void>;
  /** Stops every gateway of the process and its sandbox. */
  shutdown(arg: undefined): Promise<void>;
};

/** Operations the devnet serves to its gateway processes. */
export type ParentOps = {
  /** The process has loaded and listens for calls. */
  ready(arg: undefined): void;
  storePut(bytes: Uint8Array): Promise<string>;
  storeGet(cid: string): Promise<Uint8Array>;
  storePin(cid: string): Promise<void>;
  storeHas(cid: string): Promise<boolean>;
  reboot(arg: { index: number; bootNonce?: Uint8Array }): Promise<void>;
  roundTiming(arg: { index: number; timing: RoundTiming }): void;
};

export interface HostParent {
  store: ContentStore;
  reboot(index: number, bootNonce?: Uint8Array): Promise<void>;
  onRoundTiming?: (index: number, timing: RoundTiming) => void;
}

/** One process running gateways (gateway-host.ts, forked with the same TypeScript loader). */
export class GatewayHost {
  private readonly rpc: PortRpc<ParentOps, HostOps>;
  private readonly exited: Promise<void>;
  private readonly ready: Promise<void>;

  private constructor(private readonly child: ChildProcess, parent: HostParent) {
    let markReady!: () => void;
    this.ready = new Promise((resolve) => (markReady = resolve));
    this.rpc = new PortRpc<ParentOps, HostOps>(processEndpoint(child), {
      ready: () => markReady(),
      storePut: async (bytes) => (await parent.store.put(bytes)).toString(),
      storeGet: (cid) => parent.store.get(CID.parse(cid)),
      storePin: (cid) => parent.store.pin(CID.parse(cid)),
      storeHas: (cid) => parent.store.has(CID.parse(cid)),
      reboot: ({ index, bootNonce }) => parent.reboot(index, bootNonce),
      roundTiming: ({ index, timing }) => parent.onRoundTiming?.(index, timing),
    });
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.rpc.close(new RpcClosedError(`gateway process exited (${signal ?? code})`));
        resolve();
      }),
    );
  }

  /** Forks a gateway process and waits until it listens for calls. */
  static async start(parent: HostParent): Promise<GatewayHost> {
    const child = fork(join(import.meta.dirname, "gateway-host.ts"), [], {
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const host = new GatewayHost(child, parent);
    await Promise.race([host.ready, host.exited.then(() => Promise.reject(new Error("gateway process exited before it was ready")))]);
    return host;
  }

  /** The process id (a benchmark counts its CPU with the gateways'). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Builds a gateway in this process and returns its handle. */
  async add(spec: GatewaySpec): Promise<GatewayControl> {
    await this.rpc.call("add", spec);
    const index = spec.index;
    return {
      start: () => this.rpc.call("start", index),
      beginAttestation: () => this.rpc.call("beginAttestation", index),
      stop: () => this.rpc.call("stop", index),
      admittedNodeIds: () => this.rpc.call("admittedNodeIds", index),
      peerAddresses: () => this.rpc.call("peerAddresses", index),
      dial: (address) => this.rpc.call("dial", { index, address }),
      setMeanInterval: async (ms) => {
        await this.rpc.call("setMeanInterval", { index, ms });
      },
    };
  }

  /** Stops the process's gateways, then the process (killed if it has not exited 20 s after). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    await this.rpc.call("shutdown", undefined).catch(() => undefined);
    if (this.child.connected) this.child.disconnect();
    await this.exited;
    clearTimeout(timer);
  }
}
