import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import * as raw from "multiformats/codecs/raw";
import {
  EmbeddedStore,
  IpfsError,
  KuboStore,
  cidToHex,
  hexToCid,
  openContentStore,
  rawCid,
  toCid,
  verifyBlock,
} from "../../ipfs/adapter/index.js";
import type { ContentStore } from "../../ipfs/adapter/index.js";
import { startFakeKubo } from "./kubo-rpc-server.js";
import type { FakeKubo } from "./kubo-rpc-server.js";

const text = (s: string) => new TextEncoder().encode(s);

async function expectIpfsError(p: Promise<unknown>, code: string): Promise<IpfsError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(IpfsError);
    expect((e as IpfsError).code).to.equal(code);
    return e as IpfsError;
  }
  expect.fail(`expected IpfsError ${code}`);
}

describe("ipfs/cid", () => {
  it("rawCid matches multiformats' own raw/sha2-256 CIDv1", async () => {
    const bytes = text("trustmesh");
    const expected = CID.createV1(raw.code, await sha256.digest(bytes));
    expect(rawCid(bytes).equals(expected)).to.equal(true);
    expect(rawCid(bytes).toString()).to.match(/^bafkrei/);
  });

  it("cidToHex / hexToCid round-trip the binary CID bytes", () => {
    const cid = rawCid(text("x"));
    const hex = cidToHex(cid);
    expect(hex).to.match(/^0x01551220[0-9a-f]{64}$/);
    expect(hexToCid(hex).equals(cid)).to.equal(true);
  });

  it("rejects malformed hex, trailing bytes and CIDv0", () => {
    expect(() => hexToCid("0x0155")).to.throw(IpfsError).with.property("code", "CID_INVALID");
    expect(() => hexToCid("01551220")).to.throw(IpfsError).with.property("code", "CID_INVALID");
    expect(() => hexToCid(cidToHex(rawCid(text("a"))) + "00")).to.throw(IpfsError).with.property("code", "CID_INVALID");
    expect(() => toCid("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")).to.throw(IpfsError).with.property("code", "CID_INVALID");
  });

  it("verifyBlock accepts the right bytes and rejects one flipped bit", () => {
    const bytes = text("evidence bundle");
    const cid = rawCid(bytes);
    verifyBlock(cid, bytes);
    const flipped = bytes.slice();
    flipped[0] = flipped[0]! ^ 1;
    expect(() => verifyBlock(cid, flipped)).to.throw(IpfsError).with.property("code", "CID_MISMATCH");
  });
});

/** The contract every backend must meet. */
function contractSuite(name: string, open: () => Promise<{ store: ContentStore; cleanup: () => Promise<void> }>) {
  describe(`ContentStore contract: ${name}`, () => {
    let store: ContentStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ store, cleanup } = await open()));
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it("put returns the raw/sha2-256 CID and get returns the same bytes", async () => {
      const bytes = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
      const cid = await store.put(bytes);
      expect(cid.equals(rawCid(bytes))).to.equal(true);
      expect(await store.has(cid)).to.equal(true);
      expect(Buffer.from(await store.get(cid)).equals(Buffer.from(bytes))).to.equal(true);
    });

    it("has is false and get/pin are NOT_FOUND for an absent block", async () => {
      const cid = rawCid(text("never stored"));
      expect(await store.has(cid)).to.equal(false);
      await expectIpfsError(store.get(cid), "NOT_FOUND");
      await expectIpfsError(store.pin(cid), "NOT_FOUND");
    });

    it("pin succeeds for a held block and is idempotent", async () => {
      const cid = await store.put(text("pin me"));
      await store.pin(cid);
      await store.pin(cid);
    });

    it("an already aborted signal gives ABORTED", async () => {
      const cid = await store.put(text("abort"));
      await expectIpfsError(store.get(cid, { signal: AbortSignal.abort() }), "ABORTED");
    });
  });
}

contractSuite("embedded", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tm-ipfs-"));
  return { store: await openContentStore({ backend: "embedded", directory: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

contractSuite("kubo over HTTP", async () => {
  const kubo = await startFakeKubo();
  return { store: await openContentStore({ backend: "kubo", apiUrl: kubo.url }), cleanup: () => kubo.close() };
});

describe("EmbeddedStore", () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), "tm-ipfs-"))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("keeps blocks and pins across a restart", async () => {
    const a = await EmbeddedStore.open({ directory: dir });
    const cid = await a.put(text("durable"));
    await a.pin(cid);
    await a.close();
    const b = await EmbeddedStore.open({ directory: dir });
    expect(new TextDecoder().decode(await b.get(cid))).to.equal("durable");
    expect(await b.isPinned(cid)).to.equal(true);
    await b.close();
  });

  it("detects a block corrupted on disk (CID_MISMATCH, not wrong bytes)", async () => {
    const store = await EmbeddedStore.open({ directory: dir });
    const cid = await store.put(text("original content"));
    const files = await findFiles(join(dir, "blocks"));
    expect(files).to.have.length(1);
    await writeFile(files[0]!, "tampered content");
    await expectIpfsError(store.get(cid), "CID_MISMATCH");
    await store.close();
  });
});

async function findFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

describe("KuboStore against an HTTP RPC endpoint", () => {
  let kubo: FakeKubo;
  let store: KuboStore;
  beforeEach(async () => {
    kubo = await startFakeKubo();
    store = new KuboStore({ apiUrl: kubo.url });
  });
  afterEach(() => kubo.close());

  it("speaks the RPC paths with cid-codec=raw and offline stat", async () => {
    const cid = await store.put(text("hello kubo"));
    await store.pin(cid);
    expect(kubo.pins.has(cid.toString())).to.equal(true);
    expect(kubo.requests.some((r) => r.startsWith("POST /api/v0/block/put?") && r.includes("cid-codec=raw"))).to.equal(true);
    expect(kubo.requests.some((r) => r.startsWith("POST /api/v0/block/stat?") && r.includes("offline=true"))).to.equal(true);
  });

  it("rejects bytes from a lying daemon with CID_MISMATCH", async () => {
    const cid = await store.put(text("the real scoring function"));
    kubo.corruptGet = text("function score(){return {score:100,verdict:'trusted',reasons:[]}}");
    await expectIpfsError(store.get(cid), "CID_MISMATCH");
  });

  it("rejects a daemon that reports another CID for a put", async () => {
    kubo.lieOnPut = rawCid(text("something else")).toString();
    await expectIpfsError(store.put(text("mine")), "CID_MISMATCH");
  });

  it("maps an unreachable daemon to BACKEND", async () => {
    await kubo.close();
    const dead = new KuboStore({ apiUrl: kubo.url, timeoutMs: 2000 });
    await expectIpfsError(dead.get(rawCid(text("x"))), "BACKEND");
  });
});
