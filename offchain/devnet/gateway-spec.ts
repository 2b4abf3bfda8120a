/**
 * How the devnet makes one of its gateways: the plain data that describes it (a
 * GatewaySpec, which can cross to a worker thread) and the services it is wired to there
 * (the content store, the scoring sandbox, its machine's power switch). The same function
 * builds a gateway in the devnet's own thread and in a gateway thread (gateway-thread.ts).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ContentStore } from "../../ipfs/adapter/index.js";
import type { StaticKeyPair } from "../attest/bridge/noise.js";
import type { DeploymentFile } from "../chain/deployment-file.js";
import { rememberBounded } from "../core/bounded-map.js";
import type { SandboxResult, SandboxRunParameters } from "../core/sandbox-types.js";
import { parseSelectionStrings } from "../relayer/assess.js";
import { GatewayChain } from "../relayer/chain-context.js";
import type { FailedVerdictAction } from "../relayer/config.js";
import type { HpcIdentity } from "../relayer/enrolment.js";
import { Gateway } from "../relayer/gateway.js";
import { GatewayJournal } from "../relayer/journal.js";
import { createLogger } from "../relayer/logger.js";
import { Metrics } from "../relayer/metrics.js";
import type { RoundTiming } from "../relayer/verifier.js";

export type ScoringRuns = (p: SandboxRunParameters) => Promise<SandboxResult<unknown>>;

/** Everything that describes one devnet gateway; structured-cloneable. */
export interface GatewaySpec {
  /** The node's position in the devnet (0-based); the gateway is named gw-(index+1). */
  index: number;
  nodeId: bigint;
  gatewaySecret: Hex;
  vrfSecret: Uint8Array;
  rpcUrl: string;
  deployment: DeploymentFile;
  /** The devnet's directory; the gateway's journal is its gw-(index+1) folder. */
  dir: string;
  logLevel: string;
  chainPollingMs: number;
  agent: { port: number; publicKey: Uint8Array; staticKey: StaticKeyPair };
  identity: HpcIdentity;
  verifier: { revealWindowMs: number; roundTimeoutMs: number; quorum: number; meanIntervalMs: number; retryDelayMs?: number };
  onFailedVerdict: FailedVerdictAction;
}

/** The services a gateway is wired to where it runs. */
export interface GatewayServices {
  store: ContentStore;
  sandbox: ScoringRuns;
  /** Power-cycles this gateway's HPC. */
  reboot: (bootNonce?: Uint8Array) => Promise<void>;
  onRoundTiming?: (t: RoundTiming) => void;
}

export async function buildGateway(spec: GatewaySpec, services: GatewayServices): Promise<Gateway> {
  const name = `gw-${spec.index + 1}`;
  const log = createLogger({ name, level: spec.logLevel });
  const metrics = new Metrics();
  const chain = new GatewayChain(spec.rpcUrl, spec.deployment.chainId, spec.deployment, privateKeyToAccount(spec.gatewaySecret), log, metrics, spec.chainPollingMs);
  return new Gateway({
    name,
    nodeId: spec.nodeId,
    gatewaySecret: spec.gatewaySecret,
    vrfSecret: spec.vrfSecret,
    chain,
    store: services.store,
    journal: await GatewayJournal.open(join(spec.dir, name)),
    log,
    metrics,
    agent: { host: "127.0.0.1", port: spec.agent.port, publicKey: spec.agent.publicKey, staticKey: spec.agent.staticKey, rekeyIntervalMs: 60_000 },
    identity: spec.identity,
    verifier: {
      revealWindowMs: spec.verifier.revealWindowMs,
      roundTimeoutMs: spec.verifier.roundTimeoutMs,
      selection: parseSelectionStrings(["sha256:0,1,2,3,4,5,6,7,8,9,10,11"]),
      quorum: spec.verifier.quorum,
      meanIntervalMs: spec.verifier.meanIntervalMs,
      ...(spec.verifier.retryDelayMs !== undefined ? { retryDelayMs: spec.verifier.retryDelayMs } : {}),
    },
    p2p: { listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [] },
    onFailedVerdict: spec.onFailedVerdict,
    actions: { reboot: services.reboot },
    sandbox: services.sandbox,
    deferAttestation: true,
    ...(services.onRoundTiming ? { onRoundTiming: services.onRoundTiming } : {}),
  });
}

/**
 * One sandbox for the gateways of a thread, with identical runs shared. The scoring
 * function is deterministic by contract (fixed clock and randomness, no I/O), so the
 * verifiers of a round that score the same quote with the same chain facts get the same
 * answer: in one thread it is computed once. Separate gateway daemons each compute it;
 * a failed run (a deadline hit under load is not deterministic) is never shared.
 */
export function sharedDeterministicRuns(run: ScoringRuns): ScoringRuns {
  const results = new Map<string, Promise<SandboxResult<unknown>>>();
  return (p) => {
    const key = createHash("sha256").update(JSON.stringify([p.source, p.entry, p.input, p.limits, p.nowMs ?? null])).digest("hex");
    const hit = results.get(key);
    if (hit) return hit;
    const pending = run(p).then((r) => {
      if (!r.ok) results.delete(key);
      return r;
    });
    return rememberBounded(results, key, pending, 1024);
  };
}
