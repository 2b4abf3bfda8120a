import { expect } from "chai";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SwDriver } from "../../firmware/agent/drivers/sw.js";
import { appraise } from "../../offchain/attest/appraise.js";
import { parsePolicy } from "../../offchain/attest/policy/evaluate.js";
import { clockStateOf } from "../../offchain/attest/quote.js";
import { parseTpmsAttest } from "../../offchain/attest/tpm/attest.js";
import {
  AgentClient,
  checkBinding,
  enrolOverBridge,
  evidenceToVerifierInput,
  generateStaticKey,
  quoteNonce,
  type QuoteReply,
  type SelectionJson,
} from "../../offchain/attest/bridge/index.js";
import { makeCredential, parsePemBundle, validateEkCertificate } from "../../offchain/attest/enrol/index.js";
import { parseTpm2bPublic } from "../../offchain/attest/tpm/public.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { hasFailure, type Finding } from "../../offchain/attest/errors.js";
import { APPROVED_CONTAINER, BOOT_IMAGE, bootInputs, startRig, type Rig } from "./helpers.js";

const SEL: SelectionJson = [{ bank: "sha256", pcrs: [8, 9, 10, 11] }, { bank: "sha1", pcrs: [9] }];
const sha256 = (b: Uint8Array): Buffer => createHash("sha256").update(b).digest();

const POLICY = parsePolicy({
  version: 1,
  name: "hpc-v1",
  rules: [
    { kind: "pcr_matches", bank: "sha256", pcr: 9, label: "boot image", value: sha256(Buffer.concat([Buffer.alloc(32), sha256(BOOT_IMAGE)])).toString("hex") },
    { kind: "eventlog_includes", bank: "sha256", pcr: 9, digests: [sha256(BOOT_IMAGE).toString("hex")] },
    { kind: "eventlog_equals", bank: "sha256", pcr: 10, label: "containers", digests: [sha256(APPROVED_CONTAINER).toString("hex")] },
  ],
});

function appraiseReply(rig: Rig, r: QuoteReply, extra: { previousClock?: ReturnType<typeof clockStateOf>; expectedNonce?: Buffer } = {}) {
  const v = evidenceToVerifierInput(r.evidence);
  return appraise({
    evidence: { quote: v.quote, signature: v.signature, pcrs: Buffer.from(r.evidence.pcrs, "hex"), eventLog: v.eventLog },
    akPublic: akOf(rig),
    expectedNonce: extra.expectedNonce ?? r.quoteNonce,
    expectedSelection: v.selection,
    previousClock: extra.previousClock,
    policy: POLICY,
  });
}

const akCache = new Map<Rig, Buffer>();
function akOf(rig: Rig): Buffer {
  const k = akCache.get(rig);
  if (!k) throw new Error("test: AK not fetched");
  return k;
}

const codes = (f: Finding[]): string[] => f.filter((x) => x.severity === "fatal" || x.severity === "error").map((x) => x.code);

async function expectAgentError(p: Promise<unknown>, code: string): Promise<void> {
  let threw: unknown;
  try {
    await p;
  } catch (e) {
    threw = e;
  }
  expect(isTrustmeshError(threw, "AGENT_ERROR"), String(threw)).to.equal(true);
  expect((threw as { details?: string }).details).to.equal(code);
}

describe("HPC agent over the attested bridge (swtpm)", function () {
  let a: Rig;
  let b: Rig;
  let gw: AgentClient;

  before(async function () {
    // Two machines at once, each with its own swtpm and EK CA.
    [a, b] = await Promise.all([
      startRig({ swtpm: { ekCert: true }, boot: bootInputs(randomBytes(16)) }),
      startRig({ swtpm: { ekCert: true }, boot: bootInputs(randomBytes(16)) }),
    ]);
    for (const r of [a, b]) akCache.set(r, await r.driver.akPublic());
    gw = await a.connect();
  });

  after(async function () {
    gw?.close();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("hello reports driver and security tier", async function () {
    const h = await gw.hello();
    expect(h.driver).to.equal("tpm");
    expect(h.tier).to.equal("tpm-emulator");
    expect(Buffer.from(h.akPublic, "hex").equals(akOf(a))).to.equal(true);
  });

  it("good quote: verified with the verifier library, event log replays, golden policy passes", async function () {
    const r = await gw.quote({ selection: SEL, include: ["eventlog", "fingerprint", "scratch", "counters"] });
    const res = appraiseReply(a, r);
    expect(codes(res.findings), JSON.stringify(res.findings)).to.deep.equal([]);
    expect(res.ok).to.equal(true);
    expect(r.evidence.tier).to.equal("tpm-emulator");
    expect(r.evidence.counters?.resetCount).to.be.a("number");
    expect(r.evidence.fingerprint?.length).to.be.greaterThan(0);
    // The quote nonce commits to the gateway nonce and this channel.
    expect(r.quoteNonce.equals(quoteNonce(r.gatewayNonce, gw.channelBinding))).to.equal(true);
  });

  it("wrong nonce: evidence checked against another nonce fails NONCE_MISMATCH", async function () {
    const r = await gw.quote({ selection: SEL });
    const res = appraiseReply(a, r, { expectedNonce: quoteNonce(randomBytes(32), gw.channelBinding) });
    expect(res.ok).to.equal(false);
    expect(codes(res.findings)).to.include("NONCE_MISMATCH");
  });

  it("relay: evidence taken on one channel does not bind to another channel", async function () {
    const other = await a.connect();
    try {
      const r = await other.quote({ selection: SEL });
      expect(() => checkBinding(r.evidence, quoteNonce(r.gatewayNonce, gw.channelBinding))).to.throw().with.property("code", "BINDING_MISMATCH");
      // ... nor does machine B's evidence for the same gateway nonce bind to A's channel.
      const gwB = await b.connect();
      try {
        const rb = await gwB.quote({ selection: SEL, nonce: r.gatewayNonce });
        expect(() => checkBinding(rb.evidence, quoteNonce(r.gatewayNonce, other.channelBinding))).to.throw().with.property("code", "BINDING_MISMATCH");
      } finally {
        gwB.close();
      }
    } finally {
      other.close();
    }
  });

  it("changed PCR: reported PCR values that differ from the quoted digest are caught", async function () {
    const r = await gw.quote({ selection: SEL });
    const pcrs = Buffer.from(r.evidence.pcrs, "hex");
    pcrs[5] = (pcrs[5] as number) ^ 0xff;
    const tampered = { ...r, evidence: { ...r.evidence, pcrs: pcrs.toString("hex") } };
    const res = appraiseReply(a, tampered);
    expect(codes(res.findings)).to.include("PCR_DIGEST_MISMATCH");
  });

  it("replayed nonce is rejected by the agent, stale ones too, and the agent keeps serving", async function () {
    const nonce = randomBytes(32);
    await gw.quote({ selection: SEL, nonce });
    await expectAgentError(gw.quote({ selection: SEL, nonce }), "NONCE_REPLAYED");
    await expectAgentError(gw.quote({ selection: SEL, issuedAt: Date.now() - 10 * 60_000 }), "NONCE_STALE");
    expect((await gw.hello()).type).to.equal("hello");
  });

  it("bad messages get error replies and the agent keeps serving", async function () {
    const r1 = await gw.sendRaw(Buffer.from("this is not json"));
    expect(r1).to.include({ type: "error", code: "MESSAGE_INVALID" });
    const r2 = await gw.request({ type: "format-disk" });
    expect(r2).to.include({ type: "error", code: "MESSAGE_INVALID" });
    const r3 = await gw.request({ type: "quote", nonce: "00", issuedAt: Date.now(), selection: SEL });
    expect(r3).to.include({ type: "error", code: "MESSAGE_INVALID" });
    const r4 = await gw.request({ type: "quote", nonce: randomBytes(32).toString("hex"), issuedAt: Date.now(), selection: [{ bank: "sha256", pcrs: [99] }] });
    expect(r4).to.include({ type: "error", code: "MESSAGE_INVALID" });
    const r5 = await gw.request({ type: "activate-credential", blob: Buffer.from("junk").toString("base64") });
    expect(r5).to.include({ type: "error", code: "TPM_TOOL_FAILED" });
    expect((await gw.quote({ selection: SEL })).evidence.type).to.equal("evidence");
  });

  it("an unpinned gateway key cannot connect; a tampered frame kills only that connection", async function () {
    let threw: unknown;
    try {
      const rogue = await a.connect({ key: generateStaticKey() });
      await rogue.hello(); // the agent drops the connection after the handshake
    } catch (e) {
      threw = e;
    }
    expect(isTrustmeshError(threw), String(threw)).to.equal(true);
    const victim = await a.connect();
    const closed = new Promise<void>((resolve) => victim.channel.onClose(() => resolve()));
    victim.channel.sendRawFrameForTest(Buffer.concat([Buffer.from([0]), randomBytes(40)]));
    await closed;
    expect(a.connectionErrors.map((e) => (e as { code?: string }).code)).to.include.members(["PEER_NOT_PINNED", "DECRYPT_FAILED"]);
    expect((await gw.hello()).type).to.equal("hello");
  });

  it("keys rotate on the configured period and quotes still verify", async function () {
    const c = await a.connect({ rekeyAfterMessages: 2 });
    try {
      for (let i = 0; i < 5; i++) expect(appraiseReply(a, await c.quote({ selection: SEL })).ok).to.equal(true);
      expect(c.channel.rekeys.send).to.be.greaterThanOrEqual(2);
    } finally {
      c.close();
    }
  });

  it("enrols over the bridge: EK chain + credential activation; unknown CA and foreign EK fail", async function () {
    const caA = a.tpm?.ownCa();
    const caB = b.tpm?.ownCa();
    if (!caA || !caB) throw new Error("test: no CA");
    const bundle = async (ca: typeof caA): Promise<X509Certificate[]> =>
      parsePemBundle((await readFile(ca.rootCertPath, "utf8")) + (await readFile(ca.issuerCertPath, "utf8")));
    const rec = await enrolOverBridge(gw, { caBundle: await bundle(caA) });
    expect(rec.akDigest).to.equal(`0x${sha256(parseTpm2bPublic(akOf(a)).name).toString("hex")}`);
    let threw: unknown;
    try {
      await enrolOverBridge(gw, { caBundle: await bundle(caB) });
    } catch (e) {
      threw = e;
    }
    expect(isTrustmeshError(threw, "EK_CHAIN_UNTRUSTED")).to.equal(true);
    // AK not activated: a credential for B's EK naming A's AK does not open on A.
    const ekB = validateEkCertificate((await b.driver.activator?.ekCertificate()) as Buffer, { caBundle: await bundle(caB) }).ek;
    const blob = makeCredential({ ekPublicKey: ekB.publicKey, akName: parseTpm2bPublic(akOf(a)).name, secret: randomBytes(32) });
    await expectAgentError(gw.activateCredential(blob), "TPM_TOOL_FAILED");
  });

  it("unapproved image in the event log fails the golden policy (PCR 10)", async function () {
    await a.agent.loadContainer("cryptominer:latest", Buffer.from("not on the approved list"));
    const r = await gw.quote({ selection: SEL });
    const res = appraiseReply(a, r);
    expect(res.ok).to.equal(false);
    expect(codes(res.findings)).to.deep.equal(["POLICY_EVENTLOG_MISMATCH"]);
  });

  it("reboot detected: swtpm restart raises resetCount, fresh boot log verifies again", async function () {
    const before = await gw.quote({ selection: SEL });
    const prev = clockStateOf(parseTpmsAttest(Buffer.from(before.evidence.quote, "hex")));
    gw.close();
    await a.reboot(randomBytes(16));
    expect(a.agent.freshBoot).to.equal(true);
    gw = await a.connect();
    const after = await gw.quote({ selection: SEL });
    const now = parseTpmsAttest(Buffer.from(after.evidence.quote, "hex")).clockInfo;
    expect(now.resetCount).to.equal(prev.resetCount + 1);
    const res = appraiseReply(a, after, { previousClock: prev });
    expect(res.findings.map((f) => f.code)).to.include("REBOOT_DETECTED");
    expect(hasFailure(res.findings), JSON.stringify(res.findings)).to.equal(false); // new boot, clean log
  });

  it("agent restart without reboot resumes the journaled event log", async function () {
    const startBefore = (await gw.quote({ selection: SEL })).evidence.eventLog;
    gw.close();
    // Restart the agent process only: same TPM boot, same resetCount.
    await a.server.close();
    await a.agent.stop();
    const { Agent } = await import("../../firmware/agent/agent.js");
    const { TpmDriver } = await import("../../firmware/agent/drivers/tpm.js");
    const { AgentServer } = await import("../../firmware/agent/server.js");
    a.agent = await Agent.start({ driver: new TpmDriver({ tcti: a.tpm!.tcti, stateDir: join(a.work, "tpm") }), stateDir: join(a.work, "agent"), boot: bootInputs(randomBytes(16)) });
    a.server = await AgentServer.listen({ agent: a.agent, staticKey: a.agentKey, gatewayKeys: [a.gatewayKey.publicKey] });
    expect(a.agent.freshBoot).to.equal(false);
    gw = await a.connect();
    const r = await gw.quote({ selection: SEL });
    expect(r.evidence.eventLog).to.equal(startBefore);
    expect(appraiseReply(a, r).ok).to.equal(true);
  });
});

describe("HPC agent with the software driver (development tier)", function () {
  let rig: Rig;
  let gw: AgentClient;

  before(async function () {
    rig = await startRig({ driver: (work) => new SwDriver({ stateDir: join(work, "sw") }), boot: bootInputs(randomBytes(16)) });
    akCache.set(rig, await rig.driver.akPublic());
    gw = await rig.connect();
  });

  after(async function () {
    gw?.close();
    await rig?.stop();
  });

  it("is always reported as tier 'software' and its quotes never pass as TPM quotes", async function () {
    expect((await gw.hello()).tier).to.equal("software");
    const r = await gw.quote({ selection: SEL });
    expect(r.evidence.tier).to.equal("software");
    const res = appraiseReply(rig, r);
    // Same structures: signature, nonce, PCR digest, event log and policy all check out ...
    expect(res.findings.filter((f) => ["SIGNATURE_INVALID", "NONCE_MISMATCH", "PCR_DIGEST_MISMATCH"].includes(f.code))).to.deep.equal([]);
    expect(res.findings.some((f) => f.code === "POLICY_PCR_MISMATCH")).to.equal(false);
    // ... but the AK is not fixedTPM, so the verifier refuses it as TPM evidence.
    expect(codes(res.findings)).to.deep.equal(["AK_NOT_FIXED_TPM"]);
  });

  it("cannot be enrolled (no EK, no credential activation)", async function () {
    await expectAgentError(gw.enrolmentInfo(), "BAD_REQUEST");
  });
});
