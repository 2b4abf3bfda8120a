import { expect } from "chai";
import { createHash, createHmac, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Swtpm } from "../../firmware/agent/swtpm.js";
import { TpmDriver } from "../../firmware/agent/drivers/tpm.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { parseTpm2bPublic } from "../../offchain/attest/tpm/public.js";
import {
  finishEnrolment,
  kdfa,
  makeCredential,
  parsePemBundle,
  startEnrolment,
  validateEkCertificate,
} from "../../offchain/attest/enrol/index.js";

interface Node {
  tpm: Swtpm;
  driver: TpmDriver;
  bundle: X509Certificate[];
  ekCert: Buffer;
}

async function node(work: string, name: string): Promise<Node> {
  const tpm = await Swtpm.start({ ekCert: true });
  const driver = new TpmDriver({ tcti: tpm.tcti, stateDir: join(work, name) });
  await driver.init();
  const ca = tpm.ownCa();
  if (!ca) throw new Error("test setup: swtpm has no CA");
  const bundle = parsePemBundle((await readFile(ca.rootCertPath, "utf8")) + (await readFile(ca.issuerCertPath, "utf8")));
  const ekCert = await driver.activator.ekCertificate();
  if (!ekCert) throw new Error("test setup: no EK certificate in NV");
  return { tpm, driver, bundle, ekCert };
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(isTrustmeshError(e, code), `expected ${code}, got ${String(e)}`).to.equal(true);
    return;
  }
  expect.fail(`expected ${code}, nothing thrown`);
}

describe("enrolment (registrar) against swtpm", function () {
  let work: string;
  let a: Node;
  let b: Node;

  before(async function () {
    work = await mkdtemp(join(tmpdir(), "trustmesh-enrol-"));
    // Two TPMs, each manufactured by its own local CA: B's CA is "unknown" to A's registrar.
    [a, b] = await Promise.all([node(work, "a"), node(work, "b")]);
  });

  after(async function () {
    await Promise.all([a?.tpm.stop(), b?.tpm.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it("KDFa is SP800-108 counter-mode HMAC with a NUL-terminated label", function () {
    const key = Buffer.alloc(32, 7);
    const out = kdfa("sha256", key, "STORAGE", Buffer.from("ctx"), Buffer.alloc(0), 128);
    const expected = createHmac("sha256", key)
      .update(Buffer.from([0, 0, 0, 1]))
      .update(Buffer.from("STORAGE\0"))
      .update(Buffer.from("ctx"))
      .update(Buffer.from([0, 0, 0, 128]))
      .digest()
      .subarray(0, 16);
    expect(out.equals(expected)).to.equal(true);
    expect(kdfa("sha256", key, "INTEGRITY", Buffer.alloc(0), Buffer.alloc(0), 512)).to.have.length(64);
  });

  it("validates the swtpm EK certificate chain up to the local CA root", function () {
    const r = validateEkCertificate(a.ekCert, { caBundle: a.bundle });
    expect(r.chain.length).to.be.greaterThanOrEqual(2);
    expect(r.ekCertDigest).to.equal(`0x${createHash("sha256").update(r.ek.raw).digest("hex")}`);
  });

  it("enrols: MakeCredential in TypeScript, tpm2_activatecredential in swtpm recovers the secret", async function () {
    const akPublic = await a.driver.akPublic();
    const { challenge, pending } = startEnrolment({
      ekCertificate: a.ekCert,
      caBundle: a.bundle,
      akPublic,
      ekPublic: await a.driver.activator.ekPublic(),
    });
    const recovered = await a.driver.activator.activateCredential(challenge);
    expect(recovered.equals(pending.secret)).to.equal(true);
    const rec = finishEnrolment(pending, recovered);
    const name = parseTpm2bPublic(akPublic).name;
    expect(rec.akDigest).to.equal(`0x${createHash("sha256").update(name).digest("hex")}`);
    expect(rec.ekCertDigest).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("rejects a wrong secret (finishEnrolment)", async function () {
    const { pending } = startEnrolment({ ekCertificate: a.ekCert, caBundle: a.bundle, akPublic: await a.driver.akPublic() });
    expectCode(() => finishEnrolment(pending, Buffer.alloc(32)), "ACTIVATION_FAILED");
  });

  it("AK not activated: a credential made for another TPM's EK does not activate", async function () {
    // B's registrar challenge names A's AK but encrypts to B's EK: A cannot open it.
    const akA = await a.driver.akPublic();
    const { challenge } = startEnrolment({ ekCertificate: b.ekCert, caBundle: b.bundle, akPublic: akA });
    let threw: unknown;
    try {
      await a.driver.activator.activateCredential(challenge);
    } catch (e) {
      threw = e;
    }
    expect(isTrustmeshError(threw, "TPM_TOOL_FAILED")).to.equal(true);
    // ... and B, which owns the EK, does not hold A's AK, so it cannot open it either.
    threw = undefined;
    try {
      await b.driver.activator.activateCredential(challenge);
    } catch (e) {
      threw = e;
    }
    expect(isTrustmeshError(threw, "TPM_TOOL_FAILED")).to.equal(true);
  });

  it("a tampered credential blob fails the TPM's integrity check", async function () {
    const name = parseTpm2bPublic(await a.driver.akPublic()).name;
    const ek = validateEkCertificate(a.ekCert, { caBundle: a.bundle }).ek;
    const blob = makeCredential({ ekPublicKey: ek.publicKey, akName: name, secret: Buffer.alloc(16, 1) });
    blob[20] = (blob[20] as number) ^ 1; // inside the outer HMAC
    let threw: unknown;
    try {
      await a.driver.activator.activateCredential(blob);
    } catch (e) {
      threw = e;
    }
    expect(isTrustmeshError(threw, "TPM_TOOL_FAILED")).to.equal(true);
  });

  it("EK certificate from an unknown CA is rejected", function () {
    expectCode(() => validateEkCertificate(b.ekCert, { caBundle: a.bundle }), "EK_CHAIN_UNTRUSTED");
    expectCode(() => validateEkCertificate(a.ekCert, { caBundle: [] }), "EK_CHAIN_UNTRUSTED");
  });

  it("an intermediate alone (root missing) anchors only when the operator put it in the bundle", function () {
    const [root, issuer] = a.bundle;
    expect(validateEkCertificate(a.ekCert, { caBundle: [issuer as X509Certificate] }).chain).to.have.length(2);
    // The node may send intermediates, but they are not anchors on their own.
    expectCode(() => validateEkCertificate(a.ekCert, { caBundle: [b.bundle[0] as X509Certificate], intermediates: [issuer as X509Certificate] }), "EK_CHAIN_UNTRUSTED");
    expect(root).to.not.equal(undefined);
  });

  it("rejects an EK certificate outside its validity period", function () {
    expectCode(() => validateEkCertificate(a.ekCert, { caBundle: a.bundle, now: new Date("2001-01-01T00:00:00Z") }), "EK_CERT_EXPIRED");
  });

  it("rejects an AK that is not a restricted TPM-resident signing key (the EK itself)", async function () {
    const ekPub = await a.driver.activator.ekPublic();
    expectCode(() => startEnrolment({ ekCertificate: a.ekCert, caBundle: a.bundle, akPublic: ekPub }), "AK_ATTRIBUTES");
  });

  it("rejects a reported EK public key that is not the certified one, and malformed public areas", async function () {
    const akPublic = await a.driver.akPublic();
    const ekPublicB = await b.driver.activator.ekPublic();
    expectCode(() => startEnrolment({ ekCertificate: a.ekCert, caBundle: a.bundle, akPublic, ekPublic: ekPublicB }), "EK_KEY_UNSUPPORTED");
    expectCode(() => startEnrolment({ ekCertificate: a.ekCert, caBundle: a.bundle, akPublic: Buffer.alloc(3) }), "INPUT_INVALID");
  });
});
