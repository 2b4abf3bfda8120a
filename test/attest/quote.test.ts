import { expect } from "chai";
import { createPublicKey } from "node:crypto";
import { TPM_ALG } from "../../offchain/attest/tpm/constants.js";
import { parseTpmsAttest } from "../../offchain/attest/tpm/attest.js";
import { parsePcrReadOutput, parseSelectionSpec, type PcrBanks } from "../../offchain/attest/tpm/pcrs.js";
import { checkClock, clockStateOf, verifyQuote, type VerifyQuoteParameters } from "../../offchain/attest/quote.js";
import { AK_ATTRS, forgeAttest, signEcdsa, softEccAk } from "./helpers/forge.js";
import { GOOD, fx, nonceOf } from "./helpers/fixtures.js";
import { TPMA_OBJECT } from "../../offchain/attest/tpm/constants.js";

function params(dir: string, over: Partial<VerifyQuoteParameters> = {}): VerifyQuoteParameters {
  const quote = fx(dir, "quote.attest");
  return {
    quote,
    signature: fx(dir, "quote.sig"),
    akPublic: fx(dir, "ak.pub"),
    pcrs: parsePcrReadOutput(fx(dir, "pcrs.bin"), parseTpmsAttest(quote).pcrSelect),
    expectedNonce: nonceOf(dir),
    ...over,
  };
}

function codes(r: { findings: { code: string }[] }): string[] {
  return r.findings.map((f) => f.code);
}

describe("attest/verifyQuote", () => {
  for (const kind of GOOD) {
    it(`accepts the real ${kind} quote over sha1+sha256+sha384 banks`, () => {
      const r = verifyQuote(params(kind, { expectedSelection: parseSelectionSpec(fx(kind, "selection.txt").toString().trim()) }));
      expect(r.findings).to.deep.equal([]);
      expect(r.ok).to.equal(true);
      expect(r.attest?.pcrSelect.map((s) => s.hashAlg)).to.deep.equal([TPM_ALG.sha1, TPM_ALG.sha256, TPM_ALG.sha384]);
    });
  }

  it("accepts the AK as PEM text, PEM bytes and KeyObject", () => {
    const pem = fx("ecc", "ak.pem");
    for (const akPublic of [pem.toString(), pem, createPublicKey(pem)]) {
      expect(verifyQuote(params("ecc", { akPublic })).ok).to.equal(true);
    }
  });

  it("wrong nonce: a real quote over another nonce is NONCE_MISMATCH (fatal)", () => {
    const r = verifyQuote(params("tampered-wrong-nonce"));
    expect(r.ok).to.equal(false);
    expect(codes(r)).to.deep.equal(["NONCE_MISMATCH"]);
    expect(r.findings[0]!.severity).to.equal("fatal");
  });

  it("changed PCR: values read after an extend do not match the quoted digest", () => {
    const r = verifyQuote(params("tampered-pcr-changed"));
    expect(codes(r)).to.deep.equal(["PCR_DIGEST_MISMATCH"]);
    expect(r.ok).to.equal(false);
  });

  it("a flipped bit anywhere in the signed quote breaks the signature", () => {
    for (const at of [0, 10, 40, 80, fx("ecc", "quote.attest").length - 1]) {
      const q = Buffer.from(fx("ecc", "quote.attest"));
      q[at]! ^= 0x01;
      const r = verifyQuote(params("ecc", { quote: q }));
      expect(r.ok).to.equal(false);
      expect(codes(r).some((c) => c === "SIGNATURE_INVALID" || c === "QUOTE_MALFORMED"), `byte ${at}: ${codes(r)}`).to.equal(true);
    }
  });

  it("a quote checked with another machine's AK is SIGNATURE_INVALID", () => {
    expect(codes(verifyQuote(params("ecc", { akPublic: fx("ecc384", "ak.pub") })))).to.include("SIGNATURE_INVALID");
    expect(codes(verifyQuote(params("rsa", { akPublic: fx("rsapss", "ak.pub") })))).to.include("SIGNATURE_INVALID");
    // ECDSA signature against an RSA key: a mismatch, not an exception.
    expect(codes(verifyQuote(params("ecc", { akPublic: fx("rsa", "ak.pub") })))).to.include("SIGNATURE_INVALID");
  });

  it("checks the AK against the enrolled TPM name", () => {
    const name = fx("keys", "ecc", "ak.name");
    expect(verifyQuote(params("ecc", { expectedAkName: name })).findings).to.deep.equal([]);
    const other = verifyQuote(params("ecc", { expectedAkName: fx("keys", "rsa", "ak.name") }));
    expect(codes(other)).to.deep.equal(["AK_NAME_MISMATCH"]);
    expect(other.ok).to.equal(false);
    expect(codes(verifyQuote(params("ecc", { akPublic: fx("ecc", "ak.pem"), expectedAkName: name })))).to.deep.equal(["AK_NAME_UNKNOWN"]);
  });

  it("reports a selection other than the requested one", () => {
    const r = verifyQuote(params("ecc", { expectedSelection: parseSelectionSpec("sha256:0,1,2,3,4,5,6,7") }));
    expect(codes(r)).to.deep.equal(["SELECTION_MISMATCH"]);
    expect(r.ok).to.equal(false);
  });

  it("missing PCR values are an error; absent values only an info", () => {
    const sel = parseTpmsAttest(fx("ecc", "quote.attest")).pcrSelect;
    const pcrs = parsePcrReadOutput(fx("ecc", "pcrs.bin"), sel);
    pcrs.get(TPM_ALG.sha384)!.delete(9);
    expect(codes(verifyQuote(params("ecc", { pcrs })))).to.deep.equal(["PCR_VALUES_MISSING"]);
    const r = verifyQuote(params("ecc", { pcrs: undefined }));
    expect(codes(r)).to.deep.equal(["PCR_VALUES_ABSENT"]);
    expect(r.ok).to.equal(true);
  });

  it("collects several findings at once instead of stopping at the first", () => {
    const r = verifyQuote(params("tampered-pcr-changed", { expectedNonce: Buffer.from("00", "hex"), expectedSelection: parseSelectionSpec("sha256:0") }));
    expect(codes(r)).to.have.members(["NONCE_MISMATCH", "SELECTION_MISMATCH", "PCR_DIGEST_MISMATCH"]);
  });

  it("malformed inputs become fatal findings, not exceptions", () => {
    const r = verifyQuote(params("ecc", { quote: Buffer.from("ff5443", "hex"), signature: Buffer.alloc(3), akPublic: Buffer.from("0001ff", "hex") }));
    expect(codes(r)).to.have.members(["QUOTE_MALFORMED", "SIGNATURE_MALFORMED", "AK_INVALID"]);
    expect(r.ok).to.equal(false);
  });

  describe("with a software-signed structure (what a TPM would refuse to produce)", () => {
    const sel = parseSelectionSpec("sha256:0,1");
    const pcrs: PcrBanks = new Map([[TPM_ALG.sha256, new Map([[0, Buffer.alloc(32, 1)], [1, Buffer.alloc(32, 2)]])]]);
    const nonce = Buffer.from("0123456789abcdef", "hex");

    it("rejects TPMS_ATTEST without TPM_GENERATED_VALUE even when the signature verifies", () => {
      const ak = softEccAk();
      const quote = forgeAttest({ magic: 0x12345678, nonce, selection: sel, pcrs });
      const r = verifyQuote({ quote, signature: signEcdsa(ak.privateKey, quote), akPublic: ak.tpm2bPublic, pcrs, expectedNonce: nonce });
      expect(codes(r)).to.deep.equal(["MAGIC_INVALID"]);
    });

    it("rejects a quote signed by an unrestricted key", () => {
      const ak = softEccAk(AK_ATTRS & ~TPMA_OBJECT.restricted);
      const quote = forgeAttest({ nonce, selection: sel, pcrs });
      const r = verifyQuote({ quote, signature: signEcdsa(ak.privateKey, quote), akPublic: ak.tpm2bPublic, pcrs, expectedNonce: nonce });
      expect(codes(r)).to.deep.equal(["AK_NOT_RESTRICTED"]);
      expect(r.ok).to.equal(false);
    });

    it("accepts a well-formed restricted-key quote (the forge helper itself is sound)", () => {
      const ak = softEccAk();
      const quote = forgeAttest({ nonce, selection: sel, pcrs });
      expect(verifyQuote({ quote, signature: signEcdsa(ak.privateKey, quote), akPublic: ak.tpm2bPublic, pcrs, expectedNonce: nonce }).ok).to.equal(true);
    });

    it("reports an empty PCR selection", () => {
      const ak = softEccAk();
      const quote = forgeAttest({ nonce, selection: [{ hashAlg: TPM_ALG.sha256, pcrs: [] }], pcrs });
      const r = verifyQuote({ quote, signature: signEcdsa(ak.privateKey, quote), akPublic: ak.publicKey, pcrs, expectedNonce: nonce });
      expect(codes(r)).to.deep.equal(["SELECTION_EMPTY"]);
    });
  });

  describe("clock and reset counters", () => {
    const base = { clock: 5000n, resetCount: 4, restartCount: 1, firmwareVersion: 7n };
    const now = (o: Partial<{ clock: bigint; resetCount: number; restartCount: number; safe: boolean }>) => ({ clock: 6000n, resetCount: 4, restartCount: 1, safe: true, ...o });

    it("detects a reboot between two real quotes (resetCount went up)", () => {
      const prev = clockStateOf(parseTpmsAttest(fx("ecc", "quote.attest")));
      const r = verifyQuote(params("reboot", { previousClock: prev }));
      expect(codes(r)).to.deep.equal(["REBOOT_DETECTED"]);
      expect(r.findings[0]!.severity).to.equal("warning");
      expect(r.ok).to.equal(true);
    });
    it("a later quote of the same boot is clean", () => {
      const a = parseTpmsAttest(fx("ecc", "quote.attest"));
      const prev = { ...clockStateOf(a), clock: a.clockInfo.clock - 1n };
      expect(verifyQuote(params("ecc", { previousClock: prev })).findings).to.deep.equal([]);
    });
    it("flags rollbacks, resumes, clock going backwards and firmware changes", () => {
      expect(checkClock(base, now({ resetCount: 3 }), 7n).map((f) => f.code)).to.deep.equal(["RESET_COUNT_ROLLBACK"]);
      expect(checkClock(base, now({ restartCount: 0 }), 7n).map((f) => f.code)).to.deep.equal(["RESTART_COUNT_ROLLBACK"]);
      expect(checkClock(base, now({ restartCount: 2 }), 7n).map((f) => f.code)).to.deep.equal(["RESUME_DETECTED"]);
      expect(checkClock(base, now({ clock: 10n }), 7n).map((f) => [f.code, f.severity])).to.deep.equal([["CLOCK_ROLLBACK", "error"]]);
      expect(checkClock(base, now({ clock: 10n, safe: false }), 7n).map((f) => [f.code, f.severity])).to.deep.equal([["CLOCK_ROLLBACK_UNSAFE", "warning"]]);
      expect(checkClock(base, now({}), 8n).map((f) => f.code)).to.deep.equal(["TPM_FIRMWARE_CHANGED"]);
      expect(checkClock(base, now({}), 7n)).to.deep.equal([]);
    });
  });
});
