/**
 * A process that runs some of the devnet's gateways (DevnetOptions.gatewayProcesses): each
 * gateway is the same Gateway as in the devnet's own process, built from its GatewaySpec.
 * What stays with the devnet is reached through the parent: the content store (one
 * embedded IPFS directory for the whole devnet, see devnet.ts) and the machines' power
 * switches. Scoring runs go to a sandbox pool of this process.
 *
 * Forked by gateway-hosts.ts (IPC with structured-clone serialization); the operations
 * are HostOps there. The gateways stop when the parent disconnects.
 */
import "../core/polyfills.js";
import { CID, IpfsError, verifyBlock, type ContentStore, type GetOptions } from "../../ipfs/adapter/index.js";
import { SandboxPool } from "../sandbox/pool.js";
import { buildGateway, sharedDeterministicRuns, type GatewaySpec } from "./gateway-spec.js";
import { localGatewayControl, type GatewayControl, type HostOps, type ParentOps } from "./gateway-hosts.js";
import { PortRpc, processEndpoint } from "./port-rpc.js";
import type { ReadyOps } from "./rpc-child.js";

if (!process.send) throw new Error("gateway-host.ts runs as a forked process (gateway-hosts.ts starts it)");

/** Each gateway's control: the operations mean here what they mean in the devnet's own process. */
const controls = new Map<number, GatewayControl>();
let pool: Promise<SandboxPool> | undefined;
const scoring = sharedDeterministicRuns(async (p) => (await (pool ??= SandboxPool.create({ size: 1 }))).run(p));

const controlAt = (index: number): GatewayControl => {
  const c = controls.get(index);
  if (!c) throw new RangeError(`no gateway ${index} in this process`);
  return c;
};

/** Rethrows the parent's store error as the IpfsError it was there (its code survives the crossing). */
async function remote<T>(op: () => Promise<T>, options?: GetOptions): Promise<T> {
  if (options?.signal?.aborted) throw new IpfsError("ABORTED", "content store call aborted");
  try {
    return await op();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const message = e instanceof Error ? e.message : String(e);
    throw new IpfsError(typeof code === "string" ? code : "BACKEND", message);
  }
}

async function stopAll(): Promise<void> {
  await Promise.all([...controls.values()].map((c) => c.stop().catch(() => undefined)));
  controls.clear();
  const closing = pool;
  pool = undefined;
  if (closing) await (await closing).close();
}

const handlers: HostOps = {
  add: async (spec: GatewaySpec) => {
    if (controls.has(spec.index)) throw new RangeError(`gateway ${spec.index} is already in this process`);
    const gateway = await buildGateway(spec, {
      store,
      sandbox: scoring,
      reboot: (bootNonce) => rpc.call("reboot", { index: spec.index, ...(bootNonce ? { bootNonce } : {}) }),
      onRoundTiming: (timing) => rpc.notify("roundTiming", { index: spec.index, timing }),
    });
    controls.set(spec.index, localGatewayControl(gateway));
  },
  start: (index: number) => controlAt(index).start(),
  beginAttestation: (index: number) => controlAt(index).beginAttestation(),
  stop: (index: number) => controlAt(index).stop(),
  admittedNodeIds: (index: number) => controlAt(index).admittedNodeIds(),
  peerAddresses: (index: number) => controlAt(index).peerAddresses(),
  dial: ({ index, address }: { index: number; address: string }) => controlAt(index).dial(address),
  setMeanInterval: ({ index, ms }: { index: number; ms: number }) => controlAt(index).setMeanInterval(ms),
  shutdown: stopAll,
};

const rpc = new PortRpc<HostOps, ParentOps & ReadyOps>(processEndpoint(process), handlers);
process.on("disconnect", () => {
  rpc.close(new Error("the devnet disconnected"));
  void stopAll().finally(() => process.exit(0));
});

/** The devnet's content store, reached through the parent; every block read is checked against its CID here too. */
const store: ContentStore = {
  kind: "embedded",
  put: async (bytes, options) => CID.parse(await remote(() => rpc.call("storePut", bytes), options)),
  get: async (cid, options) => {
    const bytes = await remote(() => rpc.call("storeGet", cid.toString()), options);
    verifyBlock(cid, bytes);
    return bytes;
  },
  pin: (cid, options) => remote(() => rpc.call("storePin", cid.toString()), options),
  has: (cid, options) => remote(() => rpc.call("storeHas", cid.toString()), options),
  close: async () => undefined,
};

rpc.notify("ready", undefined);
