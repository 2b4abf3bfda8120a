/**
 * Backend for a Kubo daemon, reached through kubo-rpc-client when an API URL is
 * configured. The daemon is not trusted for content: `put` checks the CID it reports
 * against the one computed here, and `get` hashes what it returns.
 */
import { create } from "kubo-rpc-client";
import type { KuboRPCClient } from "kubo-rpc-client";
import type { CID } from "multiformats/cid";
import type { ContentStore, GetOptions } from "./content-store.js";
import { rawCid, verifyBlock } from "./cid.js";
import { IpfsError } from "./errors.js";
import { checkSignal } from "./signal.js";

export interface KuboStoreOptions {
  /** RPC API base, e.g. http://127.0.0.1:5001 (the client appends /api/v0). */
  apiUrl: string;
  /** Per-request timeout in ms; default 30 s. */
  timeoutMs?: number;
}

/** Kubo's phrasing for a block it does not hold (offline) or cannot find. */
const NOT_FOUND = /not found|could not find|no such block/i;

export class KuboStore implements ContentStore {
  readonly kind = "kubo" as const;
  private readonly client: KuboRPCClient;

  constructor({ apiUrl, timeoutMs = 30_000 }: KuboStoreOptions) {
    try {
      this.client = create({ url: apiUrl, timeout: timeoutMs });
    } catch (cause) {
      throw new IpfsError("BACKEND", `invalid Kubo API URL ${JSON.stringify(apiUrl)}`, { cause });
    }
  }

  async put(bytes: Uint8Array, options: GetOptions = {}): Promise<CID> {
    checkSignal(options.signal, "put");
    const expected = rawCid(bytes);
    // cid-codec is Kubo's (>= 0.13) name for the codec; the client kebab-cases the key.
    const putOptions = { cidCodec: "raw", mhtype: "sha2-256", signal: options.signal };
    const got = await this.call("put", expected, () => this.client.block.put(bytes, putOptions), options.signal);
    if (!got.equals(expected)) {
      throw new IpfsError("CID_MISMATCH", `Kubo stored the block as ${got}, expected ${expected}`);
    }
    return expected;
  }

  async get(cid: CID, options: GetOptions = {}): Promise<Uint8Array> {
    checkSignal(options.signal, "get");
    const bytes = await this.call("get", cid, () => this.client.block.get(cid, { signal: options.signal }), options.signal);
    verifyBlock(cid, bytes);
    return bytes;
  }

  async pin(cid: CID, options: GetOptions = {}): Promise<void> {
    checkSignal(options.signal, "pin");
    // Pin only what the daemon holds: an unpinned CID must not start a network search.
    if (!(await this.has(cid, options))) {
      throw new IpfsError("NOT_FOUND", `cannot pin ${cid}: block absent from the Kubo daemon`);
    }
    await this.call("pin", cid, () => this.client.pin.add(cid, { recursive: false, signal: options.signal }), options.signal);
  }

  async has(cid: CID, options: GetOptions = {}): Promise<boolean> {
    checkSignal(options.signal, "has");
    try {
      // offline: a block the daemon lacks must not start a DHT search.
      const statOptions = { offline: true, signal: options.signal };
      await this.client.block.stat(cid, statOptions);
      return true;
    } catch (cause) {
      checkSignal(options.signal, "has");
      if (cause instanceof Error && NOT_FOUND.test(cause.message)) return false;
      throw new IpfsError("BACKEND", `Kubo block/stat ${cid} failed`, { cause });
    }
  }

  async close(): Promise<void> {
    // kubo-rpc-client holds no resources beyond keep-alive sockets that close on idle.
  }

  private async call<T>(op: string, cid: CID, fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      checkSignal(signal, op);
      if (cause instanceof Error && NOT_FOUND.test(cause.message)) {
        throw new IpfsError("NOT_FOUND", `Kubo ${op} ${cid}: not found`, { cause });
      }
      throw new IpfsError("BACKEND", `Kubo ${op} ${cid} failed`, {
        cause,
        metaMessages: [cause instanceof Error ? cause.message : String(cause)],
      });
    }
  }
}
