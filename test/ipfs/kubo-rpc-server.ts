/**
 * A small HTTP server speaking the part of Kubo's RPC API the KuboStore uses
 * (/api/v0/block/put, block/get, block/stat, pin/add), with Kubo's response shapes and
 * error envelope. Kubo cannot be installed here; this lets the real kubo-rpc-client
 * talk HTTP to something, and lets a test make the "daemon" lie about content.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";

export interface FakeKubo {
  url: string;
  blocks: Map<string, Uint8Array>;
  pins: Set<string>;
  /** When set, block/get returns these bytes instead of the stored ones. */
  corruptGet: Uint8Array | undefined;
  /** When set, block/put answers with this CID string instead of the real one. */
  lieOnPut: string | undefined;
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeKubo(): Promise<FakeKubo> {
  const state: FakeKubo = {
    url: "",
    blocks: new Map(),
    pins: new Set(),
    corruptGet: undefined,
    lieOnPut: undefined,
    requests: [],
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    handle(state, req, res).catch((err: unknown) => kuboError(res, 500, String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

async function handle(state: FakeKubo, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://x");
  state.requests.push(`${req.method} ${url.pathname}?${url.searchParams}`);
  const body = await readBody(req);
  if (req.method !== "POST") return kuboError(res, 405, "method not allowed");
  const arg = url.searchParams.get("arg") ?? "";
  switch (url.pathname) {
    case "/api/v0/block/put": {
      if (url.searchParams.get("cid-codec") !== "raw") return kuboError(res, 400, "expected cid-codec=raw");
      const data = multipartFile(body, req.headers["content-type"] ?? "");
      const cid = CID.createV1(raw.code, await sha256.digest(data));
      state.blocks.set(cid.toString(), data);
      return json(res, { Key: state.lieOnPut ?? cid.toString(), Size: data.length });
    }
    case "/api/v0/block/get": {
      const data = state.blocks.get(CID.parse(arg).toString());
      if (data === undefined) return kuboError(res, 500, `block was not found locally (offline): ipld: could not find ${arg}`);
      res.writeHead(200, { "Content-Type": "text/plain" });
      return void res.end(state.corruptGet ?? data);
    }
    case "/api/v0/block/stat": {
      const data = state.blocks.get(CID.parse(arg).toString());
      if (data === undefined) return kuboError(res, 500, `block was not found locally (offline): ipld: could not find ${arg}`);
      return json(res, { Key: arg, Size: data.length });
    }
    case "/api/v0/pin/add": {
      const key = CID.parse(arg).toString();
      if (!state.blocks.has(key)) return kuboError(res, 500, `pin: block was not found locally (offline): ipld: could not find ${arg}`);
      state.pins.add(key);
      res.writeHead(200, { "Content-Type": "application/json", "X-Chunked-Output": "1" });
      return void res.end(`${JSON.stringify({ Pins: [key] })}\n`);
    }
    default:
      return kuboError(res, 404, `404 page not found`);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** The single file part of a multipart/form-data body. */
function multipartFile(body: Buffer, contentType: string): Uint8Array {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (boundary === null) throw new Error("no multipart boundary");
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const first = body.indexOf(delimiter);
  const headersEnd = body.indexOf("\r\n\r\n", first);
  const end = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), headersEnd);
  return new Uint8Array(body.subarray(headersEnd + 4, end));
}

function json(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify(value));
}

function kuboError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ Message: message, Code: 0, Type: "error" }));
}
