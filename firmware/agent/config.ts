/**
 * Agent daemon configuration (JSON file). Validated up front so a bad config fails at
 * start, not at the first request.
 *
 * {
 *   "driver": "tpm" | "sw",            // sw = development only, always tier "software"
 *   "tcti": "device:/dev/tpmrm0",      // tpm driver; or "swtpm:host=127.0.0.1,port=2321"
 *   "stateDir": "/var/lib/trustmesh-agent",
 *   "listen": { "host": "0.0.0.0", "port": 7450 },
 *   "staticKeyHex": "<32-byte X25519 secret>", // the agent's Noise key (provisioned in the image)
 *   "gatewayKeysHex": ["<32-byte X25519 public>"],
 *   "boot": { "imagePath": "/boot/hpc.efi", "nonceHex": "...", "cmdlinePath": "/proc/cmdline" },
 *   "scratchDir": "/scratch",
 *   "rekeyIntervalMs": 600000, "nonceTtlMs": 60000
 * }
 */
import { AgentError } from "./errors.js";

export interface AgentConfig {
  driver: "tpm" | "sw";
  tcti?: string;
  stateDir: string;
  listen: { host: string; port: number };
  staticKeyHex: string;
  gatewayKeysHex: string[];
  boot?: { imagePath: string; nonceHex: string; cmdlinePath?: string };
  scratchDir?: string;
  rekeyIntervalMs?: number;
  nonceTtlMs?: number;
}

const HEX32 = /^[0-9a-f]{64}$/;

function fail(msg: string): never {
  throw new AgentError("BAD_REQUEST", `agent config: ${msg}`);
}

export function parseAgentConfig(x: unknown): AgentConfig {
  if (typeof x !== "object" || x === null) fail("not an object");
  const c = x as Record<string, unknown>;
  if (c.driver !== "tpm" && c.driver !== "sw") fail('driver must be "tpm" or "sw"');
  if (c.driver === "tpm" && (typeof c.tcti !== "string" || !/^(device|swtpm|mssim):/.test(c.tcti))) fail("tpm driver needs a tcti (device:..., swtpm:..., mssim:...)");
  if (typeof c.stateDir !== "string" || c.stateDir === "") fail("stateDir missing");
  const l = c.listen as Record<string, unknown> | undefined;
  if (!l || typeof l.host !== "string" || !Number.isInteger(l.port) || (l.port as number) < 0 || (l.port as number) > 65535) fail("listen {host, port} invalid");
  if (typeof c.staticKeyHex !== "string" || !HEX32.test(c.staticKeyHex)) fail("staticKeyHex must be 32 bytes hex");
  if (!Array.isArray(c.gatewayKeysHex) || c.gatewayKeysHex.length === 0 || !c.gatewayKeysHex.every((k) => typeof k === "string" && HEX32.test(k))) {
    fail("gatewayKeysHex must list at least one 32-byte hex key");
  }
  if (c.boot !== undefined) {
    const b = c.boot as Record<string, unknown>;
    if (typeof b.imagePath !== "string" || typeof b.nonceHex !== "string" || !/^(?:[0-9a-f]{2}){16,32}$/.test(b.nonceHex)) fail("boot needs imagePath and a 16..32 byte nonceHex");
  }
  for (const k of ["rekeyIntervalMs", "nonceTtlMs"]) {
    if (c[k] !== undefined && (!Number.isInteger(c[k]) || (c[k] as number) <= 0)) fail(`${k} must be a positive integer`);
  }
  return c as unknown as AgentConfig;
}
