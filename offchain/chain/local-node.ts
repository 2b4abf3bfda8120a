/**
 * Starts `hardhat node` on 127.0.0.1 as a child process (the demo's and the integration
 * tests' local chain) and waits until it answers JSON-RPC.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { TrustmeshError } from "../core/errors.js";

/** Hardhat's public development mnemonic: `hardhat node` funds its accounts. Local chains only. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

export class LocalNodeError extends TrustmeshError {
  override name = "LocalNodeError";
}

export interface LocalNode {
  rpcUrl: string;
  port: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

async function rpcReady(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(500),
    });
    return r.ok;
  } catch {
    return false;
  }
}

interface StartOptions {
  port?: number;
  projectRoot?: string;
  timeoutMs?: number;
}

/** How often a node started on a probed port is retried on another after losing the port. */
const BIND_ATTEMPTS = 4;

export async function startLocalNode(options: StartOptions = {}): Promise<LocalNode> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(options.port ?? (await freePort()), options);
    } catch (e) {
      // A probed port is free only until someone binds it; hardhat takes seconds to start.
      const lostPort = e instanceof LocalNodeError && /EADDRINUSE/.test(e.details ?? "");
      if (!lostPort || options.port !== undefined || attempt >= BIND_ATTEMPTS) throw e;
    }
  }
}

async function startOn(port: number, options: StartOptions): Promise<LocalNode> {
  const root = options.projectRoot ?? resolve(import.meta.dirname, "../..");
  const hardhatBin = resolve(root, "node_modules/hardhat/internal/cli/bootstrap.js");
  const child: ChildProcess = spawn(process.execPath, [hardhatBin, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    if (output.length < 10_000) output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    if (output.length < 10_000) output += d.toString();
  });
  const rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  while (!(await rpcReady(rpcUrl))) {
    if (exited || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new LocalNodeError("LOCAL_NODE_START", `hardhat node did not start on ${rpcUrl}`, { details: output.slice(-2000) });
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    rpcUrl,
    port,
    stop: () =>
      new Promise<void>((res) => {
        if (exited) return res();
        child.once("exit", () => res());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      }),
  };
}
