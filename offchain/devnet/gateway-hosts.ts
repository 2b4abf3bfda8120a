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
import { join } from "node:path";
import type { ContentStore } from "../../ipfs/adapter/index.js";
import { CID } from "../../ipfs/adapter/index.js";
import type { Gateway } from "../relayer/gateway.js";
import type { RoundTiming } from "../relayer/verifier.js";
import type { GatewaySpec } from "./gateway-spec.js";
import { RpcChild } from "./rpc-child.js";

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

/** One process running gateways (gateway-host.ts). */
export class GatewayHost {
  private constructor(private readonly proc: RpcChild<ParentOps, HostOps>) {}

  /** Forks a gateway process and waits until it listens for calls. */
  static async start(parent: HostParent): Promise<GatewayHost> {
    const handlers: ParentOps = {
      storePut: async (bytes) => (await parent.store.put(bytes)).toString(),
      storeGet: (cid) => parent.store.get(CID.parse(cid)),
      storePin: (cid) => parent.store.pin(CID.parse(cid)),
      storeHas: (cid) => parent.store.has(CID.parse(cid)),
      reboot: ({ index, bootNonce }) => parent.reboot(index, bootNonce),
      roundTiming: ({ index, timing }) => parent.onRoundTiming?.(index, timing),
    };
    return new GatewayHost(await RpcChild.fork<ParentOps, HostOps>(join(import.meta.dirname, "gateway-host.ts"), "gateway process", handlers));
  }

  /** The process id (a benchmark counts its CPU with the gateways'). */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Builds a gateway in this process and returns its handle. */
  async add(spec: GatewaySpec): Promise<GatewayControl> {
    const rpc = this.proc.rpc;
    await rpc.call("add", spec);
    const index = spec.index;
    return {
      start: () => rpc.call("start", index),
      beginAttestation: () => rpc.call("beginAttestation", index),
      stop: () => rpc.call("stop", index),
      admittedNodeIds: () => rpc.call("admittedNodeIds", index),
      peerAddresses: () => rpc.call("peerAddresses", index),
      dial: (address) => rpc.call("dial", { index, address }),
      setMeanInterval: async (ms) => {
        await rpc.call("setMeanInterval", { index, ms });
      },
    };
  }

  /** Stops the process's gateways, then the process (killed if it has not exited 20 s after). */
  async close(): Promise<void> {
    await this.proc.stop(20_000, () => this.proc.rpc.call("shutdown", undefined));
  }
}
