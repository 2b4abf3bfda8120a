/**
 * End to end on live software TPMs: two swtpm instances at once (one ECC AK, one RSA AK),
 * fresh nonces, a measured boot mirrored in an event log, and the verifier's verdicts on
 * good evidence, a wrong nonce, a PCR changed after the quote, a reboot and an unapproved
 * boot image.
 */
import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appraise } from "../../offchain/attest/appraise.js";
import { readEvidenceDir } from "../../offchain/attest/evidence-dir.js";
import { parsePolicy } from "../../offchain/attest/policy/evaluate.js";
import { clockStateOf, verifyQuote, type ClockState } from "../../offchain/attest/quote.js";
import { parseSelectionSpec } from "../../offchain/attest/tpm/pcrs.js";
import { bootEvents, createAk, createEk, measure, quoteTo, readPcrsTo, type AkKind } from "./helpers/evidence.js";
import { Swtpm } from "./helpers/swtpm.js";

const SELECTION = "sha1:0,4,8,9+sha256:0,4,8,9";
const APPROVED = Buffer.from("approved image");
const CONTAINER = Buffer.from("container");

interface Machine {
  tpm: Swtpm;
  kind: AkKind;
  handle: string;
  dir: string;
}

function codes(f: { code: string; severity: string }[]): string[] {
  return f.filter((x) => x.severity !== "info").map((x) => x.code);
}

describe("attest on live swtpm", function () {
  this.timeout(120_000);
  const machines: Machine[] = [];
  let work: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "tm-attest-live-"));
    const tpms = await Promise.all([Swtpm.start(), Swtpm.start()]);
    const kinds: AkKind[] = ["ecc", "rsa"];
    await Promise.all(tpms.map(async (tpm, i) => {
      const m: Machine = { tpm, kind: kinds[i]!, handle: "0x81010002", dir: join(work, kinds[i]!) };
      mkdirSync(m.dir, { recursive: true });
      await createEk(tpm, m.dir);
      await createAk(tpm, m.kind, m.handle, join(m.dir, "key"));
      await measure(tpm, bootEvents(APPROVED, "quiet", CONTAINER));
      machines.push(m);
    }));
  });

  after(async () => {
    await Promise.all(machines.map((m) => m.tpm.stop()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function fresh(m: Machine, name: string, nonce = randomBytes(32), image = APPROVED) {
    const dir = join(m.dir, name);
    await quoteTo(m.tpm, dir, { handle: m.handle, kind: m.kind, akDir: join(m.dir, "key"), selection: SELECTION, nonce, events: bootEvents(image, "quiet", CONTAINER) });
    return { dir, nonce, ev: readEvidenceDir(dir) };
  }

  it("verifies fresh quotes from both machines (ECC and RSA AKs)", async () => {
    for (const m of machines) {
      const { ev, nonce } = await fresh(m, "good");
      const r = appraise({ evidence: ev.evidence, akPublic: ev.akPublic, expectedNonce: nonce, expectedSelection: parseSelectionSpec(SELECTION) });
      expect(codes(r.findings), m.kind).to.deep.equal([]);
      expect(r.ok).to.equal(true);
    }
  });

  it("rejects a quote made for another nonce (replayed evidence)", async () => {
    for (const m of machines) {
      const { ev } = await fresh(m, "replay");
      const r = appraise({ evidence: ev.evidence, akPublic: ev.akPublic, expectedNonce: randomBytes(32) });
      expect(codes(r.findings)).to.deep.equal(["NONCE_MISMATCH"]);
    }
  });

  it("rejects PCR values that changed after the quote", async () => {
    const m = machines[0]!;
    const { dir, ev, nonce } = await fresh(m, "changed");
    await m.tpm.tool("tpm2_pcrextend", [`9:sha1=${createHash("sha1").update("x").digest("hex")},sha256=${createHash("sha256").update("x").digest("hex")}`]);
    await readPcrsTo(m.tpm, dir, SELECTION);
    const after = readEvidenceDir(dir);
    const r = appraise({ evidence: { ...ev.evidence, pcrs: after.evidence.pcrs }, akPublic: ev.akPublic, expectedNonce: nonce });
    expect(codes(r.findings)).to.include("PCR_DIGEST_MISMATCH");
    expect(r.ok).to.equal(false);
  });

  it("rejects a quote checked against the other machine's AK", async () => {
    const [a, b] = machines as [Machine, Machine];
    const { ev, nonce } = await fresh(a, "cross");
    const other = readEvidenceDir(join(b.dir, "good"));
    expect(codes(verifyQuote({ quote: ev.evidence.quote, signature: ev.evidence.signature, akPublic: other.akPublic, expectedNonce: nonce }).findings)).to.include("SIGNATURE_INVALID");
  });

  it("detects a reboot and then an unapproved boot image", async () => {
    const m = machines[1]!;
    const before = await fresh(m, "before-reboot");
    const prev: ClockState = clockStateOf(verifyQuote({ quote: before.ev.evidence.quote, signature: before.ev.evidence.signature, akPublic: before.ev.akPublic, expectedNonce: before.nonce }).attest!);
    await m.tpm.restart();
    const rogue = Buffer.from("rogue image");
    await measure(m.tpm, bootEvents(rogue, "quiet", CONTAINER));
    const { ev, nonce } = await fresh(m, "after-reboot", randomBytes(32), rogue);
    const policy = parsePolicy({
      version: 1,
      name: "live",
      rules: [{ kind: "eventlog_includes", bank: "sha256", pcr: 4, match: "any", digests: [createHash("sha256").update(APPROVED).digest("hex")] }],
    });
    const r = appraise({ evidence: ev.evidence, akPublic: ev.akPublic, expectedNonce: nonce, previousClock: prev, policy });
    expect(r.findings.filter((f) => f.severity !== "info").map((f) => [f.code, f.severity])).to.deep.equal([
      ["REBOOT_DETECTED", "warning"],
      ["POLICY_EVENTLOG_MISSING_DIGEST", "error"],
    ]);
    expect(r.attest!.clockInfo.resetCount).to.equal(prev.resetCount + 1);
  });
});
