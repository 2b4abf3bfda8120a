/**
 * A tiny static server for the built dashboard (web/dist) plus /config.json, which tells
 * the page which RPC and contracts to use. Localhost only; read-only; no framework.
 */
import { createServer, type Server } from "node:http";
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import type { DeploymentFile } from "../chain/deployment-file.js";
import { TrustmeshError } from "../core/errors.js";

export interface WebConfig {
  rpc: string;
  deployment: DeploymentFile | null;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
};

export const WEB_ROOT = resolve(import.meta.dirname, "../../web");
export const WEB_DIST = join(WEB_ROOT, "dist");

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function newestMtime(path: string): Promise<number> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  const entries = await readdir(path);
  const times = await Promise.all(entries.map((e) => newestMtime(join(path, e))));
  return Math.max(st.mtimeMs, ...times);
}

/** The sources the bundle is made of: the page and the shared off-chain modules it imports. */
const BUNDLE_SOURCES = [join(WEB_ROOT, "index.html"), join(WEB_ROOT, "src"), resolve(WEB_ROOT, "../offchain/chain"), resolve(WEB_ROOT, "../offchain/core"), resolve(WEB_ROOT, "../offchain/cli/node-inputs.ts")];

/** Builds web/dist with Vite when it is missing or older than its sources. */
export async function ensureWebBuilt(onStep: (s: string) => void = () => {}): Promise<string> {
  const built = await newestMtime(join(WEB_DIST, "index.html"));
  if (built > 0) {
    const sources = Math.max(...(await Promise.all(BUNDLE_SOURCES.map(newestMtime))));
    if (sources <= built) return WEB_DIST;
  }
  onStep(built > 0 ? "rebuilding the dashboard with Vite (sources changed)" : "building the dashboard with Vite (first run)");
  const { build } = await import("vite");
  await build({ configFile: join(WEB_ROOT, "vite.config.ts"), logLevel: "warn" });
  return WEB_DIST;
}

export interface StartWebServerParameters {
  port: number;
  host?: string;
  root?: string;
  config: () => Promise<WebConfig> | WebConfig;
}

/** Starts the server; resolves once it listens. Port 0 picks a free port. */
export async function startWebServer({ port, host = "127.0.0.1", root = WEB_DIST, config }: StartWebServerParameters): Promise<{ server: Server; url: string }> {
  const base = resolve(root);
  const server = createServer((req, res) => {
    void (async () => {
      try {
        const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
        if (path === "/config.json") {
          const body = JSON.stringify(await config());
          res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
          res.end(body);
          return;
        }
        let file = normalize(join(base, path));
        // Refuse paths that climb out of the root (../ after decoding).
        if (file !== base && !file.startsWith(base + sep)) {
          res.writeHead(403).end("forbidden");
          return;
        }
        if (!(await exists(file)) || (await stat(file)).isDirectory()) file = join(base, "index.html");
        const data = await readFile(file);
        res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
        res.end(data);
      } catch {
        if (!res.headersSent) res.writeHead(500);
        res.end("internal error");
      }
    })();
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      fail(new TrustmeshError("WEB_LISTEN", `cannot listen on ${host}:${port}: ${e.code ?? e.message}`, { cause: e })),
    );
    server.listen(port, host, ok);
  });
  const addr = server.address();
  const actualPort = typeof addr === "object" && addr ? addr.port : port;
  return { server, url: `http://${host}:${actualPort}/` };
}
