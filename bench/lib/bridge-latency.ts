/**
 * Quote round-trip latency through the attested bridge on swtpm: gateway client ->
 * Noise channel -> agent -> tpm2_quote + tpm2_pcrread on swtpm -> evidence back, binding
 * checked. The attest benchmark calls this; it starts and stops everything it uses.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Agent } from "../../firmware/agent/agent.js";
import { TpmDriver } from "../../firmware/agent/drivers/tpm.js";
import { AgentServer } from "../../firmware/agent/server.js";
import { Swtpm } from "../../firmware/agent/swtpm.js";
import { AgentClient, generateStaticKey, type EvidencePart, type SelectionJson } from "../../offchain/attest/bridge/index.js";

export interface BridgeLatencyOptions {
  /** Measured round trips (after `warmup`). */
  n?: number;
  warmup?: number;
  selection?: SelectionJson;
  include?: EvidencePart[];
  akAlg?: "ecc" | "rsa";
}

export interface BridgeLatencyResult {
  n: number;
  akAlg: "ecc" | "rsa";
  selection: string;
  /** Noise handshake (connect to channel ready). */
  handshakeMs: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

const round = (x: number): number => Math.round(x * 100) / 100;

export async function measureBridgeLatency(opts: BridgeLatencyOptions = {}): Promise<BridgeLatencyResult> {
  const n = opts.n ?? 100;
  const selection = opts.selection ?? [{ bank: "sha256", pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }];
  const akAlg = opts.akAlg ?? "ecc";
  const work = await mkdtemp(join(tmpdir(), "trustmesh-bench-bridge-"));
  const tpm = await Swtpm.start();
  let server: AgentServer | undefined;
  let client: AgentClient | undefined;
  let agent: Agent | undefined;
  try {
    agent = await Agent.start({
      driver: new TpmDriver({ tcti: tpm.tcti, stateDir: join(work, "tpm"), akAlg }),
      stateDir: join(work, "agent"),
      boot: { bootImage: { label: "bench.efi", content: randomBytes(4096) }, bootNonce: randomBytes(16), kernelCmdline: "console=ttyS0" },
    });
    const agentKey = generateStaticKey();
    const gatewayKey = generateStaticKey();
    server = await AgentServer.listen({ agent, staticKey: agentKey, gatewayKeys: [gatewayKey.publicKey] });
    const t0 = performance.now();
    client = await AgentClient.connect({ port: server.port, staticKey: gatewayKey, agentKey: agentKey.publicKey });
    const handshakeMs = performance.now() - t0;
    for (let i = 0; i < (opts.warmup ?? 3); i++) await client.quote({ selection, include: opts.include });
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      await client.quote({ selection, include: opts.include });
      samples.push(performance.now() - s);
    }
    samples.sort((a, b) => a - b);
    return {
      n,
      akAlg,
      selection: selection.map((s) => `${s.bank}:${s.pcrs.join(",")}`).join("+"),
      handshakeMs: round(handshakeMs),
      p50Ms: round(percentile(samples, 50)),
      p99Ms: round(percentile(samples, 99)),
      meanMs: round(samples.reduce((a, b) => a + b, 0) / n),
      minMs: round(samples[0] as number),
      maxMs: round(samples[samples.length - 1] as number),
    };
  } finally {
    client?.close();
    await server?.close();
    await agent?.stop();
    await tpm.stop();
    await rm(work, { recursive: true, force: true });
  }
}
