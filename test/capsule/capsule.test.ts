import { createCipheriv, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { expect } from "chai";
import fc from "fast-check";
import { EmbeddedStore, IpfsError, hexToCid } from "../../ipfs/adapter/index.js";
import {
  CapsuleError,
  capsuleCommitment,
  capsulePublicKey,
  decodeCapsule,
  encodeCapsule,
  generateCapsuleKeyPair,
  keyFromHex,
  keyId,
  keyToHex,
  openCapsule,
  openFromStore,
  sealCapsule,
  sealToStore,
  verifyCommitment,
} from "../../offchain/capsule/index.js";
import type { CapsuleErrorCode } from "../../offchain/capsule/index.js";
import { encodeHeader } from "../../offchain/core/capsule/format.js";

const enc = (s: string) => new TextEncoder().encode(s);
const ctx = { taskId: 42n, role: "input" };

async function expectCapsuleError(p: Promise<unknown> | (() => unknown), code: CapsuleErrorCode): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(CapsuleError);
    expect((e as CapsuleError).code, (e as Error).message).to.equal(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe("capsule: keys", () => {
  it("generates X25519 pairs whose public key derives from the private key", () => {
    const a = generateCapsuleKeyPair();
    expect(a.publicKey).to.have.length(32);
    expect(Buffer.from(capsulePublicKey(a.privateKey)).equals(Buffer.from(a.publicKey))).to.equal(true);
    expect(Buffer.from(generateCapsuleKeyPair().privateKey).equals(Buffer.from(a.privateKey))).to.equal(false);
  });

  it("round-trips keys through hex and rejects bad text or lengths", async () => {
    const { publicKey } = generateCapsuleKeyPair();
    expect(Buffer.from(keyFromHex(keyToHex(publicKey))).equals(Buffer.from(publicKey))).to.equal(true);
    await expectCapsuleError(() => keyFromHex("0x1234"), "CAPSULE_KEY");
    await expectCapsuleError(() => keyFromHex(Buffer.from(publicKey).toString("hex")), "CAPSULE_KEY");
    await expectCapsuleError(() => keyToHex(new Uint8Array(31)), "CAPSULE_KEY");
    await expectCapsuleError(() => keyId(new Uint8Array(33)), "CAPSULE_KEY");
  });
});

describe("capsule: seal and open", () => {
  const b = generateCapsuleKeyPair();
  const c = generateCapsuleKeyPair();
  const outsider = generateCapsuleKeyPair();

  it("every recipient opens the payload; the commitment matches", async () => {
    for (const payload of [new Uint8Array(0), enc("alice\nbob\ncarol"), new Uint8Array(randomBytes(100 * 1024))]) {
      const sealed = await sealCapsule({ payload, recipients: [b.publicKey, c.publicKey], ...ctx });
      for (const k of [b, c]) {
        const opened = await openCapsule(sealed.bytes, k.privateKey, ctx);
        expect(Buffer.from(opened.payload).equals(Buffer.from(payload))).to.equal(true);
        expect(Buffer.from(opened.commitment).equals(Buffer.from(sealed.commitment))).to.equal(true);
        expect(verifyCommitment(sealed.commitment, opened.salt, payload)).to.equal(true);
        expect(verifyCommitment(sealed.commitment, opened.salt, enc("something else"))).to.equal(false);
      }
    }
  });

  it("has the documented size: payload + 141 + role bytes + 88 per recipient", async () => {
    for (const n of [1, 2, 5]) {
      const recipients = Array.from({ length: n }, () => generateCapsuleKeyPair().publicKey);
      const sealed = await sealCapsule({ payload: new Uint8Array(1000), recipients, taskId: 1n, role: "result" });
      expect(sealed.bytes.length).to.equal(1000 + 141 + 6 + 88 * n);
      expect(decodeCapsule(sealed.bytes).recipients).to.have.length(n);
    }
  });

  it("salts the commitment: the same payload sealed twice gives different commitments and bytes", async () => {
    const one = await sealCapsule({ payload: enc("yes"), recipients: [b.publicKey], ...ctx });
    const two = await sealCapsule({ payload: enc("yes"), recipients: [b.publicKey], ...ctx });
    expect(Buffer.from(one.commitment).equals(Buffer.from(two.commitment))).to.equal(false);
    expect(Buffer.from(one.commitment).equals(Buffer.from(capsuleCommitment(new Uint8Array(32), enc("yes"))))).to.equal(false);
  });

  it("rejects a key that is not a recipient", async () => {
    const sealed = await sealCapsule({ payload: enc("secret"), recipients: [b.publicKey, c.publicKey], ...ctx });
    await expectCapsuleError(openCapsule(sealed.bytes, outsider.privateKey, ctx), "CAPSULE_NOT_RECIPIENT");
  });

  it("rejects an outsider who copies a recipient's key id into the list", async () => {
    const sealed = await sealCapsule({ payload: enc("secret"), recipients: [b.publicKey], ...ctx });
    const forged = sealed.bytes.slice();
    const at = decodeCapsule(sealed.bytes).header.length + 1;
    forged.set(keyId(outsider.publicKey), at);
    await expectCapsuleError(openCapsule(forged, outsider.privateKey, ctx), "CAPSULE_DECRYPT");
  });

  it("rejects another task or role than the opener expects", async () => {
    const sealed = await sealCapsule({ payload: enc("secret"), recipients: [b.publicKey], ...ctx });
    await expectCapsuleError(openCapsule(sealed.bytes, b.privateKey, { ...ctx, taskId: 43n }), "CAPSULE_CONTEXT");
    await expectCapsuleError(openCapsule(sealed.bytes, b.privateKey, { ...ctx, role: "result" }), "CAPSULE_CONTEXT");
  });

  it("a header edited to name another task, role or commitment does not open (AAD binding)", async () => {
    const sealed = await sealCapsule({ payload: enc("secret"), recipients: [b.publicKey], ...ctx });
    const otherTask = sealed.bytes.slice();
    otherTask[11 + 31] = 43; // task id is a 32-byte big-endian field at offset 11
    expect(decodeCapsule(otherTask).taskId).to.equal(43n);
    await expectCapsuleError(openCapsule(otherTask, b.privateKey, { ...ctx, taskId: 43n }), "CAPSULE_DECRYPT");

    const otherRole = sealed.bytes.slice();
    otherRole.set(enc("inpux"), 44);
    await expectCapsuleError(openCapsule(otherRole, b.privateKey, { ...ctx, role: "inpux" }), "CAPSULE_DECRYPT");

    const otherCommitment = sealed.bytes.slice();
    otherCommitment[44 + 5]! ^= 0xff;
    await expectCapsuleError(openCapsule(otherCommitment, b.privateKey, ctx), "CAPSULE_DECRYPT");
  });

  it("property: a flipped byte never yields other data, and always stops at least one recipient", async () => {
    // Entries are per recipient: damaging C's entry does not stop B (the CID guards the
    // whole capsule); everything shared (header, nonce, ciphertext) stops both.
    const payload = new Uint8Array(randomBytes(1024));
    const sealed = await sealCapsule({ payload, recipients: [b.publicKey, c.publicKey], ...ctx });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: sealed.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (pos, x) => {
        const bad = sealed.bytes.slice();
        bad[pos]! ^= x;
        let failures = 0;
        for (const k of [b, c]) {
          try {
            const opened = await openCapsule(bad, k.privateKey, ctx);
            expect(Buffer.from(opened.payload).equals(Buffer.from(payload)), `byte ${pos} ^ ${x} changed the payload`).to.equal(true);
          } catch (e) {
            expect(e, `byte ${pos} ^ ${x}`).to.be.instanceOf(CapsuleError);
            failures++;
          }
        }
        expect(failures, `byte ${pos} ^ ${x} stopped nobody`).to.be.greaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects a sender's capsule whose commitment does not match its payload", async () => {
    // A dishonest sender builds a well-encrypted capsule around a commitment to other data.
    const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
    const salt = new Uint8Array(randomBytes(32));
    const header = encodeHeader(ctx, capsuleCommitment(salt, enc("what the chain was told")));
    const key = new Uint8Array(randomBytes(32));
    const nonce = new Uint8Array(randomBytes(12));
    const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    cipher.setAAD(header, { plaintextLength: 32 + 9 });
    const ciphertext = new Uint8Array(Buffer.concat([cipher.update(salt), cipher.update(enc("real data")), cipher.final(), cipher.getAuthTag()]));
    const sealedKey = await suite.seal(
      { recipientPublicKey: await suite.kem.deserializePublicKey(b.publicKey), info: enc("trustmesh capsule v1 content key") },
      key,
      header,
    );
    const bytes = encodeCapsule({
      ...ctx,
      commitment: header.subarray(header.length - 32),
      header,
      nonce,
      ciphertext,
      recipients: [{ keyId: keyId(b.publicKey), enc: new Uint8Array(sealedKey.enc), wrappedKey: new Uint8Array(sealedKey.ct) }],
    });
    await expectCapsuleError(openCapsule(bytes, b.privateKey, ctx), "CAPSULE_COMMITMENT");
  });

  it("rejects malformed bytes with typed errors", async () => {
    const sealed = await sealCapsule({ payload: enc("x"), recipients: [b.publicKey], ...ctx });
    const open = (bytes: Uint8Array) => openCapsule(bytes, b.privateKey, ctx);
    await expectCapsuleError(open(sealed.bytes.subarray(0, sealed.bytes.length - 1)), "CAPSULE_MALFORMED");
    await expectCapsuleError(open(new Uint8Array([...sealed.bytes, 0])), "CAPSULE_MALFORMED");
    await expectCapsuleError(open(new Uint8Array(3)), "CAPSULE_MALFORMED");
    await expectCapsuleError(open(enc("TMCX")), "CAPSULE_MALFORMED");
    const v2 = sealed.bytes.slice();
    v2[4] = 2;
    await expectCapsuleError(open(v2), "CAPSULE_VERSION");
    const aes = sealed.bytes.slice();
    aes[10] = 0x01; // AEAD id 0x0001 = AES-128-GCM
    await expectCapsuleError(open(aes), "CAPSULE_SUITE");
  });

  it("rejects bad seal parameters", async () => {
    await expectCapsuleError(sealCapsule({ payload: enc("x"), recipients: [], ...ctx }), "CAPSULE_PARAMS");
    await expectCapsuleError(sealCapsule({ payload: enc("x"), recipients: [b.publicKey], taskId: 1n, role: "" }), "CAPSULE_PARAMS");
    await expectCapsuleError(sealCapsule({ payload: enc("x"), recipients: [b.publicKey], taskId: 1n, role: "r".repeat(65) }), "CAPSULE_PARAMS");
    await expectCapsuleError(sealCapsule({ payload: enc("x"), recipients: [b.publicKey], taskId: -1n, role: "input" }), "CAPSULE_PARAMS");
    await expectCapsuleError(sealCapsule({ payload: enc("x"), recipients: [new Uint8Array(31)], ...ctx }), "CAPSULE_KEY");
  });
});

describe("capsule: in IPFS", () => {
  let dir: string;
  let store: EmbeddedStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tm-capsule-"));
    store = await EmbeddedStore.open({ directory: dir });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores a capsule; the chain's CID and commitment lead back to the payload", async () => {
    const b = generateCapsuleKeyPair();
    const c = generateCapsuleKeyPair();
    const names = enc(["ada", "grace", "linus"].join("\n"));
    const rec = await sealToStore(store, { payload: names, recipients: [b.publicKey, c.publicKey], taskId: 7n, role: "result" });
    expect(rec.chain.cid).to.match(/^0x01551220[0-9a-f]{64}$/);
    expect(rec.chain.commitment).to.match(/^0x[0-9a-f]{64}$/);
    for (const k of [b, c]) {
      const opened = await openFromStore(store, hexToCid(rec.chain.cid), k.privateKey, { taskId: 7n, role: "result" });
      expect(new TextDecoder().decode(opened.payload)).to.equal("ada\ngrace\nlinus");
      expect(`0x${Buffer.from(opened.commitment).toString("hex")}`).to.equal(rec.chain.commitment);
    }
  });

  it("an absent capsule CID is NOT_FOUND from the store", async () => {
    const b = generateCapsuleKeyPair();
    const sealed = await sealCapsule({ payload: enc("x"), recipients: [b.publicKey], ...ctx });
    const { rawCid } = await import("../../ipfs/adapter/index.js");
    try {
      await openFromStore(store, rawCid(sealed.bytes), b.privateKey, ctx);
      expect.fail("expected NOT_FOUND");
    } catch (e) {
      expect(e).to.be.instanceOf(IpfsError);
      expect((e as IpfsError).code).to.equal("NOT_FOUND");
    }
  });
});
