import { expect } from "chai";
import { createServer, connect, type Server, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { XXHandshake, CipherState, generateStaticKey } from "../../offchain/attest/bridge/noise.js";
import { FrameReader, MAX_FRAME, SecureChannel, frame } from "../../offchain/attest/bridge/channel.js";
import { NonceCache } from "../../offchain/attest/bridge/nonce-cache.js";
import { parseRequest, quoteNonce } from "../../offchain/attest/bridge/messages.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";

function handshake() {
  const si = generateStaticKey();
  const sr = generateStaticKey();
  const i = new XXHandshake(true, si, Buffer.from("p"));
  const r = new XXHandshake(false, sr, Buffer.from("p"));
  r.readMessage(i.writeMessage());
  i.readMessage(r.writeMessage(Buffer.from("resp payload")));
  r.readMessage(i.writeMessage());
  return { si, sr, i: i.finish(), r: r.finish() };
}

function throwsCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(isTrustmeshError(e, code), String(e)).to.equal(true);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe("bridge: Noise XX", function () {
  it("both sides agree on the handshake hash and learn each other's static key", function () {
    const { si, sr, i, r } = handshake();
    expect(i.handshakeHash.equals(r.handshakeHash)).to.equal(true);
    expect(i.remoteStatic.equals(Buffer.from(sr.publicKey))).to.equal(true);
    expect(r.remoteStatic.equals(Buffer.from(si.publicKey))).to.equal(true);
    const c = i.send.encrypt(Buffer.alloc(0), Buffer.from("hello"));
    expect(r.recv.decrypt(Buffer.alloc(0), c).toString()).to.equal("hello");
    const d = r.send.encrypt(Buffer.alloc(0), Buffer.from("back"));
    expect(i.recv.decrypt(Buffer.alloc(0), d).toString()).to.equal("back");
  });

  it("interoperates with @libp2p/noise's XX state machine (same protocol name, same hash, same keys)", async function () {
    // libp2p's implementation is an independent Noise_XX_25519_ChaChaPoly_SHA256; its internals are
    // not a public export, so load them by path (the version is pinned in package-lock).
    const proto = await import("../../node_modules/@libp2p/noise/dist/src/protocol.js");
    const { defaultCrypto } = await import("../../node_modules/@libp2p/noise/dist/src/crypto/index.js");
    const { wrapCrypto } = await import("../../node_modules/@libp2p/noise/dist/src/crypto.js");
    const { Uint8ArrayList } = await import("uint8arraylist");
    const crypto = wrapCrypto(defaultCrypto);
    const toBytes = (x: Uint8Array | { subarray(): Uint8Array }): Uint8Array => (x instanceof Uint8Array ? x : x.subarray());
    const mine = new XXHandshake(true, generateStaticKey(), Buffer.from("trustmesh"));
    const theirs = new proto.XXHandshakeState({
      crypto,
      protocolName: "Noise_XX_25519_ChaChaPoly_SHA256",
      initiator: false,
      prologue: Buffer.from("trustmesh"),
      s: crypto.generateKeypair(),
    });
    theirs.readMessageA(new Uint8ArrayList(mine.writeMessage()));
    expect(Buffer.from(mine.readMessage(toBytes(theirs.writeMessageB(Buffer.from([1, 2, 3])))))).to.deep.equal(Buffer.from([1, 2, 3]));
    expect(Buffer.from(toBytes(theirs.readMessageC(new Uint8ArrayList(mine.writeMessage(Buffer.from("c"))))))).to.deep.equal(Buffer.from("c"));
    const r = mine.finish();
    expect(Buffer.from(theirs.ss.h).equals(r.handshakeHash)).to.equal(true);
    const [c1] = theirs.ss.split();
    const ct = r.send.encrypt(new Uint8Array(0), Buffer.from("transport"));
    expect(Buffer.from(toBytes(c1.decryptWithAd(new Uint8Array(0), ct))).toString()).to.equal("transport");
  });

  it("two sessions have different handshake hashes (fresh ephemerals)", function () {
    expect(handshake().i.handshakeHash.equals(handshake().i.handshakeHash)).to.equal(false);
  });

  it("a different prologue or a flipped handshake byte fails authentication", function () {
    const i = new XXHandshake(true, generateStaticKey(), Buffer.from("a"));
    const r = new XXHandshake(false, generateStaticKey(), Buffer.from("b"));
    r.readMessage(i.writeMessage());
    throwsCode(() => i.readMessage(r.writeMessage()), "DECRYPT_FAILED");
    const i2 = new XXHandshake(true, generateStaticKey(), Buffer.from("p"));
    const r2 = new XXHandshake(false, generateStaticKey(), Buffer.from("p"));
    r2.readMessage(i2.writeMessage());
    const m2 = r2.writeMessage();
    m2[40] = (m2[40] as number) ^ 1;
    throwsCode(() => i2.readMessage(m2), "DECRYPT_FAILED");
  });

  it("messages out of order are refused", function () {
    const i = new XXHandshake(true, generateStaticKey(), Buffer.alloc(0));
    throwsCode(() => i.readMessage(Buffer.alloc(64)), "HANDSHAKE_FAILED");
  });

  it("transport: tampering, replay and reordering are detected; rekey in step keeps working", function () {
    const { i, r } = handshake();
    const ad = Buffer.from([0]);
    const c1 = i.send.encrypt(ad, Buffer.from("one"));
    const c2 = i.send.encrypt(ad, Buffer.from("two"));
    throwsCode(() => r.recv.decrypt(ad, c2), "DECRYPT_FAILED"); // reordered
    const { i: i2, r: r2 } = handshake();
    const x = i2.send.encrypt(ad, Buffer.from("x"));
    expect(r2.recv.decrypt(ad, x).toString()).to.equal("x");
    throwsCode(() => r2.recv.decrypt(ad, x), "DECRYPT_FAILED"); // replayed
    i2.send.rekey();
    r2.recv.rekey();
    expect(r2.recv.decrypt(ad, i2.send.encrypt(ad, Buffer.from("after rekey"))).toString()).to.equal("after rekey");
    i2.send.rekey();
    throwsCode(() => r2.recv.decrypt(ad, i2.send.encrypt(ad, Buffer.from("one-sided"))), "DECRYPT_FAILED");
    expect(c1.length).to.equal(3 + 16);
  });

  it("CipherState without a key passes plaintext through (handshake message 1)", function () {
    expect(new CipherState(undefined).encrypt(Buffer.alloc(0), Buffer.from("p")).toString()).to.equal("p");
  });
});

describe("bridge: framing, channel, nonce cache, schema", function () {
  let server: Server;
  let port: number;
  const serverSockets: Socket[] = [];

  before(async function () {
    server = createServer((s) => serverSockets.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as { port: number }).port;
  });

  after(async function () {
    for (const s of serverSockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("frame reader reassembles split frames and refuses oversized ones", function () {
    const fr = new FrameReader();
    const f = Buffer.concat([frame(Buffer.from("abc")), frame(Buffer.from("defg"))]);
    expect(fr.push(f.subarray(0, 5)).map(String)).to.deep.equal([]);
    expect(fr.push(f.subarray(5)).map(String)).to.deep.equal(["abc", "defg"]);
    const big = Buffer.alloc(4);
    big.writeUInt32BE(MAX_FRAME + 1000);
    throwsCode(() => new FrameReader().push(big), "FRAME_INVALID");
  });

  it("secure channel over TCP: pinned keys, messages both ways, time-based rekey stays in sync", async function () {
    const agentKey = generateStaticKey();
    const gwKey = generateStaticKey();
    const accepted = new Promise<SecureChannel>((resolve, reject) => {
      server.once("connection", (s) => {
        SecureChannel.establish(s, false, { staticKey: agentKey, pinned: [gwKey.publicKey], rekeyIntervalMs: 1 }).then(resolve, reject);
      });
    });
    const sock = connect(port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    const gw = await SecureChannel.establish(sock, true, { staticKey: gwKey, pinned: [agentKey.publicKey], rekeyIntervalMs: 1 });
    const ag = await accepted;
    expect(gw.handshakeHash.equals(ag.handshakeHash)).to.equal(true);
    ag.onMessage((m) => ag.send(Buffer.concat([Buffer.from("echo:"), m])));
    const got: string[] = [];
    const done = new Promise<void>((resolve) =>
      gw.onMessage((m) => {
        got.push(m.toString());
        if (got.length === 5) resolve();
      }),
    );
    for (let k = 0; k < 5; k++) {
      gw.send(Buffer.from(`m${k}`));
      await new Promise((r) => setTimeout(r, 3));
    }
    await done;
    expect(got).to.deep.equal(["echo:m0", "echo:m1", "echo:m2", "echo:m3", "echo:m4"]);
    expect(gw.rekeys.send).to.be.greaterThanOrEqual(3);
    expect(ag.rekeys.recv).to.equal(gw.rekeys.send);
    gw.destroy();
  });

  it("a gateway that pins a different agent key refuses the handshake", async function () {
    const agentKey = generateStaticKey();
    const gwKey = generateStaticKey();
    server.once("connection", (s) => {
      SecureChannel.establish(s, false, { staticKey: agentKey, pinned: [gwKey.publicKey] }).catch(() => undefined);
    });
    const sock = connect(port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    let threw: unknown;
    try {
      await SecureChannel.establish(sock, true, { staticKey: gwKey, pinned: [generateStaticKey().publicKey] });
    } catch (e) {
      threw = e;
    }
    expect(isTrustmeshError(threw, "PEER_NOT_PINNED")).to.equal(true);
  });

  it("nonce cache: once only, within the window, forgets after 2 x TTL", function () {
    let t = 1_000_000;
    const c = new NonceCache(1000, () => t);
    c.check("aa", t);
    throwsCode(() => c.check("aa", t), "NONCE_REPLAYED");
    throwsCode(() => c.check("bb", t - 1001), "NONCE_STALE");
    throwsCode(() => c.check("cc", t + 1001), "NONCE_STALE");
    t += 2001;
    c.check("dd", t);
    expect(c.size).to.equal(1);
  });

  it("quote binding is H(tag || gateway nonce || handshake hash) and depends on both", function () {
    const n = randomBytes(32);
    const h = randomBytes(32);
    expect(quoteNonce(n, h)).to.have.length(32);
    expect(quoteNonce(n, h).equals(quoteNonce(n, randomBytes(32)))).to.equal(false);
    expect(quoteNonce(n, h).equals(quoteNonce(randomBytes(32), h))).to.equal(false);
  });

  it("request schema rejects unknown fields, versions, bad nonces and selections", function () {
    const ok = { v: 1, id: 1, type: "quote", nonce: "ab".repeat(16), issuedAt: 1, selection: [{ bank: "sha256", pcrs: [0, 7] }] };
    expect(parseRequest(Buffer.from(JSON.stringify(ok))).type).to.equal("quote");
    const bad = [
      { ...ok, v: 2 },
      { ...ok, extra: 1 },
      { ...ok, nonce: "AB".repeat(16) },
      { ...ok, nonce: "ab".repeat(40) },
      { ...ok, selection: [] },
      { ...ok, selection: [{ bank: "md5", pcrs: [0] }] },
      { ...ok, selection: [{ bank: "sha256", pcrs: [1, 1] }] },
      { ...ok, include: ["secrets"] },
      { ...ok, id: -1 },
      { v: 1, id: 2, type: "activate-credential", blob: "%%%" },
      [],
    ];
    for (const b of bad) throwsCode(() => parseRequest(Buffer.from(JSON.stringify(b))), "MESSAGE_INVALID");
    throwsCode(() => parseRequest(Buffer.from([0xff, 0xfe])), "MESSAGE_INVALID");
  });
});
