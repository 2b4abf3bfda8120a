/**
 * The default backend: a Helia light node (no libp2p, no block brokers, no routers) over
 * blockstore-fs and datastore-fs in one directory. It never opens a socket: reads are
 * `offline: true`, so an absent block is NOT_FOUND at once instead of a network search.
 * Pins live in the datastore, so they survive restarts with the blocks.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { FsBlockstore } from "blockstore-fs";
import { FsDatastore } from "datastore-fs";
import { createHeliaLight } from "helia";
import type { Helia } from "helia";
import type { CID } from "multiformats/cid";
import type { ContentStore, GetOptions } from "./content-store.js";
import { rawCid, verifyBlock } from "./cid.js";
import { IpfsError } from "./errors.js";
import { checkSignal } from "./signal.js";

export interface EmbeddedStoreOptions {
  /** Directory holding `blocks/` and `datastore/`; created when missing. */
  directory: string;
}

export class EmbeddedStore implements ContentStore {
  readonly kind = "embedded" as const;
  private closed = false;

  private constructor(
    private readonly helia: Helia,
    private readonly blockstore: FsBlockstore,
    private readonly datastore: FsDatastore,
  ) {}

  static async open({ directory }: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    try {
      await mkdir(directory, { recursive: true });
      const blockstore = new FsBlockstore(join(directory, "blocks"));
      const datastore = new FsDatastore(join(directory, "datastore"));
      await blockstore.open();
      await datastore.open();
      const helia = createHeliaLight({ blockstore, datastore });
      await helia.start();
      return new EmbeddedStore(helia, blockstore, datastore);
    } catch (cause) {
      throw new IpfsError("BACKEND", `cannot open the embedded IPFS store in ${directory}`, { cause });
    }
  }

  async put(bytes: Uint8Array, options: GetOptions = {}): Promise<CID> {
    checkSignal(options.signal, "put");
    const cid = rawCid(bytes);
    try {
      await this.helia.blockstore.put(cid, bytes, { signal: options.signal });
    } catch (cause) {
      checkSignal(options.signal, "put");
      throw new IpfsError("BACKEND", `embedded put of ${cid} failed`, { cause });
    }
    return cid;
  }

  async get(cid: CID, options: GetOptions = {}): Promise<Uint8Array> {
    checkSignal(options.signal, "get");
    if (!(await this.has(cid, options))) {
      throw new IpfsError("NOT_FOUND", `block ${cid} is not in the embedded store`);
    }
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of this.helia.blockstore.get(cid, { offline: true, signal: options.signal })) {
        chunks.push(chunk);
      }
    } catch (cause) {
      checkSignal(options.signal, "get");
      throw new IpfsError("BACKEND", `embedded read of ${cid} failed`, { cause });
    }
    const bytes = concat(chunks);
    verifyBlock(cid, bytes);
    return bytes;
  }

  async pin(cid: CID, options: GetOptions = {}): Promise<void> {
    checkSignal(options.signal, "pin");
    if (!(await this.has(cid, options))) {
      throw new IpfsError("NOT_FOUND", `cannot pin ${cid}: block absent`);
    }
    try {
      if (await this.helia.pins.isPinned(cid, { signal: options.signal })) return;
      for await (const _ of this.helia.pins.add(cid, { signal: options.signal })) {
        // draining the generator performs the pin
      }
    } catch (cause) {
      checkSignal(options.signal, "pin");
      throw new IpfsError("BACKEND", `embedded pin of ${cid} failed`, { cause });
    }
  }

  async isPinned(cid: CID): Promise<boolean> {
    return this.helia.pins.isPinned(cid);
  }

  async has(cid: CID, options: GetOptions = {}): Promise<boolean> {
    checkSignal(options.signal, "has");
    try {
      return await this.blockstore.has(cid, { signal: options.signal });
    } catch (cause) {
      checkSignal(options.signal, "has");
      throw new IpfsError("BACKEND", `embedded has(${cid}) failed`, { cause });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.helia.stop();
    await this.blockstore.close();
    await this.datastore.close();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
