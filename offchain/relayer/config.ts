/**
 * The gateway daemon's configuration file (JSON). Everything a node operator sets lives
 * here; keys are referenced by keystore path, never inlined.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { TrustmeshError } from "../core/errors.js";
import { DEFAULT_MAX_ACTIVE_ROUNDS } from "./verifier.js";

export class GatewayConfigError extends TrustmeshError {
  override name = "GatewayConfigError";
}

/** What a gateway does when its own HPC gets an Untrusted verdict. */
export type FailedVerdictAction = "report" | "stop-task" | "reboot";

export interface GatewayConfig {
  /** Free-form label for logs. */
  name: string;
  /** Directory of the journal and runtime state (created). */
  dataDir: string;
  chain: {
    rpcUrl: string;
    chainId: number;
    /** trustmesh-deployment/1 file with the contract addresses. */
    deployment: string;
    /** Log polling interval (ms). */
    pollingIntervalMs: number;
  };
  keys: {
    /** Web3 Secret Storage (scrypt) file of the gateway signing key. */
    gatewayKeystore: string;
    /** Keystore file of the secp256k1 VRF key. */
    vrfKeystore: string;
    /** Environment variable holding the keystores' password. */
    passwordEnv: string;
  };
  p2p: {
    listen: string[];
    bootstrap: string[];
    /** Gossipsub message signatures (TrustmeshHostOptions); one policy for the whole network. */
    gossipSignaturePolicy: "StrictSign" | "StrictNoSign";
  };
  agent: {
    host: string;
    port: number;
    /** The agent's pinned Noise static public key (hex). */
    publicKey: string;
    /** The gateway's Noise static secret (hex) is kept in dataDir/bridge-key (created). */
    rekeyIntervalMs: number;
    /** PCRs every quote covers, e.g. ["sha256:0,1,2,3,4,5,6,7,8,9,10,11"]. */
    selection: string[];
  };
  ipfs: { kind: "embedded"; dir: string } | { kind: "kubo"; apiUrl: string };
  attestation: {
    /** Mean gap between two attestation rounds of one node (ms); the gaps are drawn from the epoch seed. */
    meanIntervalMs: number;
    /** How long selected verifiers wait for each other's reveals before forming the committee. */
    revealWindowMs: number;
    /** Give up on a round after this long. */
    roundTimeoutMs: number;
    /** Rounds worked on at once; more are declined (load shedding, VerifierParams.maxActiveRounds). */
    maxActiveRounds: number;
    /** EK CA bundle (PEM) used to re-check EK certificates; absent = trust the enrolment digest. */
    ekCaBundle?: string;
  };
  onFailedVerdict: FailedVerdictAction;
  status: { port: number };
  /** Development only: behave as a Byzantine verifier (sign conflicting votes). */
  byzantine?: "equivocate";
}

function fail(message: string): never {
  throw new GatewayConfigError("CONFIG_INVALID", message);
}

function str(v: unknown, at: string): string {
  if (typeof v !== "string" || v.length === 0) fail(`${at} must be a non-empty string`);
  return v;
}

function int(v: unknown, at: string, min = 0): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) fail(`${at} must be an integer >= ${min}`);
  return v;
}

function obj(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`${at} must be an object`);
  return v as Record<string, unknown>;
}

function strings(v: unknown, at: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) fail(`${at} must be an array of strings`);
  return v as string[];
}

/** Validates a parsed config; relative paths are resolved against `baseDir`. */
export function parseGatewayConfig(json: unknown, baseDir: string): GatewayConfig {
  const c = obj(json, "config");
  const chain = obj(c.chain, "chain");
  const keys = obj(c.keys, "keys");
  const p2p = obj(c.p2p, "p2p");
  const agent = obj(c.agent, "agent");
  const ipfs = obj(c.ipfs, "ipfs");
  const att = obj(c.attestation, "attestation");
  const status = obj(c.status ?? { port: 0 }, "status");
  const path = (v: unknown, at: string) => resolve(baseDir, str(v, at));
  const action = c.onFailedVerdict ?? "report";
  if (action !== "report" && action !== "stop-task" && action !== "reboot") {
    fail(`onFailedVerdict must be "report", "stop-task" or "reboot"`);
  }
  const signaturePolicy = p2p.gossipSignaturePolicy ?? "StrictNoSign";
  if (signaturePolicy !== "StrictSign" && signaturePolicy !== "StrictNoSign") fail(`p2p.gossipSignaturePolicy must be "StrictSign" or "StrictNoSign"`);
  if (c.byzantine !== undefined && c.byzantine !== "equivocate") fail(`byzantine must be "equivocate" when set`);
  let ipfsConfig: GatewayConfig["ipfs"];
  if (ipfs.kind === "embedded") ipfsConfig = { kind: "embedded", dir: path(ipfs.dir, "ipfs.dir") };
  else if (ipfs.kind === "kubo") ipfsConfig = { kind: "kubo", apiUrl: str(ipfs.apiUrl, "ipfs.apiUrl") };
  else fail(`ipfs.kind must be "embedded" or "kubo"`);
  const publicKey = str(agent.publicKey, "agent.publicKey");
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(publicKey)) fail("agent.publicKey must be 32 bytes of hex");
  return {
    name: str(c.name, "name"),
    dataDir: path(c.dataDir, "dataDir"),
    chain: {
      rpcUrl: str(chain.rpcUrl, "chain.rpcUrl"),
      chainId: int(chain.chainId, "chain.chainId", 1),
      deployment: path(chain.deployment, "chain.deployment"),
      pollingIntervalMs: int(chain.pollingIntervalMs ?? 500, "chain.pollingIntervalMs", 50),
    },
    keys: {
      gatewayKeystore: path(keys.gatewayKeystore, "keys.gatewayKeystore"),
      vrfKeystore: path(keys.vrfKeystore, "keys.vrfKeystore"),
      passwordEnv: str(keys.passwordEnv ?? "TRUSTMESH_KEYSTORE_PASSWORD", "keys.passwordEnv"),
    },
    p2p: {
      listen: strings(p2p.listen ?? ["/ip4/127.0.0.1/tcp/0"], "p2p.listen"),
      bootstrap: strings(p2p.bootstrap ?? [], "p2p.bootstrap"),
      gossipSignaturePolicy: signaturePolicy,
    },
    agent: {
      host: str(agent.host ?? "127.0.0.1", "agent.host"),
      port: int(agent.port, "agent.port", 1),
      publicKey: publicKey.replace(/^0x/, ""),
      rekeyIntervalMs: int(agent.rekeyIntervalMs ?? 600_000, "agent.rekeyIntervalMs", 1000),
      selection: strings(agent.selection ?? ["sha256:0,1,2,3,4,5,6,7,8,9,10,11"], "agent.selection"),
    },
    ipfs: ipfsConfig,
    attestation: {
      meanIntervalMs: int(att.meanIntervalMs ?? 60_000, "attestation.meanIntervalMs", 100),
      revealWindowMs: int(att.revealWindowMs ?? 1500, "attestation.revealWindowMs", 10),
      roundTimeoutMs: int(att.roundTimeoutMs ?? 30_000, "attestation.roundTimeoutMs", 100),
      maxActiveRounds: int(att.maxActiveRounds ?? DEFAULT_MAX_ACTIVE_ROUNDS, "attestation.maxActiveRounds", 1),
      ekCaBundle: att.ekCaBundle === undefined ? undefined : path(att.ekCaBundle, "attestation.ekCaBundle"),
    },
    onFailedVerdict: action,
    status: { port: int(status.port ?? 0, "status.port", 0) },
    byzantine: c.byzantine as GatewayConfig["byzantine"],
  };
}

export async function loadGatewayConfig(file: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new GatewayConfigError("CONFIG_READ", `cannot read config ${file}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new GatewayConfigError("CONFIG_JSON", `config ${file} is not valid JSON`, { cause: e });
  }
  return parseGatewayConfig(json, dirname(resolve(file)));
}
