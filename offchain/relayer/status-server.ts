/**
 * The gateway's local status endpoint: GET /status (JSON) and GET /metrics (Prometheus
 * text), bound to 127.0.0.1 only. Read-only; nothing here can change the daemon.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.js";

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

export async function startStatusServer(options: {
  port: number;
  metrics: Metrics;
  status: () => Record<string, unknown>;
}): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/status") {
      const body = JSON.stringify({ ...options.status(), metrics: options.metrics.toJSON() }, (_k, v: unknown) =>
        typeof v === "bigint" ? v.toString() : v,
      );
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    } else if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(options.metrics.toPrometheus());
    } else {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
