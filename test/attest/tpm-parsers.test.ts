import { expect } from "chai";
import { createHash, generateKeyPairSync } from "node:crypto";
import { AttestError } from "../../offchain/attest/errors.js";
import { parseTpmsAttest } from "../../offchain/attest/tpm/attest.js";
import { TPMA_OBJECT, TPM_ALG, TPM_ECC_CURVE, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE } from "../../offchain/attest/tpm/constants.js";
import {
  encodePcrReadOutput, encodePcrSelection, formatSelection, parsePcrReadOutput, parsePcrSelection,
  parseSelectionSpec, pcrDigest,
} from "../../offchain/attest/tpm/pcrs.js";
import { parseTpm2bPublic, parseTpmtPublic } from "../../offchain/attest/tpm/public.js";
import { TpmReader } from "../../offchain/attest/tpm/reader.js";
import { parseTpmtSignature } from "../../offchain/attest/tpm/signature.js";
import { TpmWriter } from "../../offchain/attest/tpm/writer.js";
import { GOOD, fx } from "./helpers/fixtures.js";

function attestCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(AttestError);
    return (e as AttestError).code;
  }
  throw new Error("expected an AttestError");
}

describe("attest/tpm parsers", () => {
  describe("TpmReader", () => {
    it("reads big- and little-endian integers including the top bit", () => {
      const r = new TpmReader(Buffer.from("ff544347800000000000000102", "hex"));
      expect(r.u32()).to.equal(TPM_GENERATED_VALUE);
      expect(r.u64()).to.equal(0x8000000000000001n);
      expect(r.u8()).to.equal(2);
      r.assertEnd();
      const le = new TpmReader(Buffer.from("0100000002000300", "hex"));
      expect(le.u32le()).to.equal(1);
      expect(le.u16le()).to.equal(2);
      expect(le.u16le()).to.equal(3);
    });
    it("rejects truncation, oversized TPM2B and trailing bytes with TPM_PARSE", () => {
      expect(attestCode(() => new TpmReader(Buffer.from([1])).u16())).to.equal("TPM_PARSE");
      expect(attestCode(() => new TpmReader(Buffer.from("0005aabb", "hex")).tpm2b())).to.equal("TPM_PARSE");
      expect(attestCode(() => new TpmReader(Buffer.from("0003aabbcc", "hex")).tpm2b("x", 2))).to.equal("TPM_PARSE");
      const r = new TpmReader(Buffer.from([1, 2]));
      r.u8();
      expect(attestCode(() => r.assertEnd())).to.equal("TPM_PARSE");
    });
    it("raises the configured code", () => {
      expect(attestCode(() => new TpmReader(Buffer.alloc(0), { code: "EVENTLOG_PARSE" }).u32le())).to.equal("EVENTLOG_PARSE");
    });
  });

  describe("TPM2B_PUBLIC", () => {
    for (const kind of GOOD) {
      it(`${kind} AK: key and name match tpm2_createak's output`, () => {
        const pub = parseTpm2bPublic(fx("keys", kind, "ak.pub"));
        expect(pub.name.equals(fx("keys", kind, "ak.name"))).to.equal(true);
        expect(pub.objectAttributes & TPMA_OBJECT.restricted).to.not.equal(0);
        expect(pub.objectAttributes & TPMA_OBJECT.sign).to.not.equal(0);
        const pem = pub.keyObject.export({ type: "spki", format: "pem" }).toString();
        expect(pem.replace(/\s/g, "")).to.equal(fx("keys", kind, "ak.pem").toString().replace(/\s/g, ""));
        if (kind.startsWith("ecc")) {
          expect(pub.parameters.kind).to.equal("ecc");
          expect(pub.keyObject.asymmetricKeyDetails?.namedCurve).to.equal(kind === "ecc" ? "prime256v1" : "secp384r1");
        } else {
          expect(pub.parameters.kind).to.equal("rsa");
          expect(pub.keyObject.asymmetricKeyDetails?.modulusLength).to.equal(2048);
        }
      });
    }
    it("parses the RSA EK (storage parent with AES-128-CFB)", () => {
      const ek = parseTpm2bPublic(fx("ek.pub"));
      expect(ek.parameters.kind).to.equal("rsa");
      expect(ek.parameters.symmetric).to.deep.equal({ algorithm: TPM_ALG.aes, keyBits: 128, mode: TPM_ALG.cfb });
      expect(ek.authPolicy.length).to.equal(32);
    });
    it("TPMT_PUBLIC and TPM2B_PUBLIC agree", () => {
      const b = fx("keys", "ecc", "ak.pub");
      expect(parseTpmtPublic(b.subarray(2)).name.equals(parseTpm2bPublic(b).name)).to.equal(true);
    });
    it("rejects trailing bytes, truncation and a wrong size prefix", () => {
      const b = fx("keys", "ecc", "ak.pub");
      expect(attestCode(() => parseTpm2bPublic(Buffer.concat([b, Buffer.from([0])])))).to.equal("TPM_PARSE");
      expect(attestCode(() => parseTpm2bPublic(b.subarray(0, b.length - 1)))).to.equal("TPM_PARSE");
      expect(attestCode(() => parseTpmtPublic(Buffer.concat([b.subarray(2), Buffer.from([0])])))).to.equal("TPM_PARSE");
    });
    it("rejects an ECC point off the curve with TPM_BAD_KEY", () => {
      const b = Buffer.from(fx("keys", "ecc", "ak.pub"));
      b[b.length - 1]! ^= 1; // last byte of y
      expect(attestCode(() => parseTpm2bPublic(b))).to.equal("TPM_BAD_KEY");
    });
    it("rejects an unsupported type and curve", () => {
      const b = Buffer.from(fx("keys", "ecc", "ak.pub"));
      b.writeUInt16BE(TPM_ALG.keyedhash, 2);
      expect(attestCode(() => parseTpm2bPublic(b))).to.equal("TPM_UNSUPPORTED");
      const w = new TpmWriter().u16(TPM_ALG.ecc).u16(TPM_ALG.sha256).u32(0).tpm2b(Buffer.alloc(0))
        .u16(TPM_ALG.null).u16(TPM_ALG.ecdsa).u16(TPM_ALG.sha256).u16(TPM_ECC_CURVE.BN_P256).u16(TPM_ALG.null)
        .tpm2b(Buffer.alloc(32, 1)).tpm2b(Buffer.alloc(32, 1));
      expect(attestCode(() => parseTpmtPublic(w.toBuffer()))).to.equal("TPM_UNSUPPORTED");
    });
    it("builds an RSA key with a non-default exponent", () => {
      const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 });
      const jwk = publicKey.export({ format: "jwk" });
      const w = new TpmWriter().u16(TPM_ALG.rsa).u16(TPM_ALG.sha256).u32(0).tpm2b(Buffer.alloc(0))
        .u16(TPM_ALG.null).u16(TPM_ALG.null).u16(2048).u32(3).tpm2b(Buffer.from(jwk.n!, "base64url"));
      const pub = parseTpmtPublic(w.toBuffer());
      expect(pub.keyObject.asymmetricKeyDetails?.publicExponent).to.equal(3n);
      expect(pub.name.subarray(2).equals(createHash("sha256").update(w.toBuffer()).digest())).to.equal(true);
    });
  });

  describe("TPMS_ATTEST", () => {
    it("parses a real quote's fields", () => {
      const a = parseTpmsAttest(fx("ecc", "quote.attest"));
      expect(a.magic).to.equal(TPM_GENERATED_VALUE);
      expect(a.type).to.equal(TPM_ST_ATTEST_QUOTE);
      expect(a.extraData.toString("hex")).to.equal(fx("ecc", "nonce.hex").toString().trim());
      expect(formatSelection(a.pcrSelect)).to.equal(fx("ecc", "selection.txt").toString().trim());
      expect(a.pcrDigest.length).to.equal(32);
      expect(a.clockInfo.safe).to.equal(true);
      expect(parseTpmsAttest(fx("reboot", "quote.attest")).clockInfo.resetCount).to.equal(a.clockInfo.resetCount + 1);
    });
    it("rejects a non-quote type, a bad TPMI_YES_NO, trailing and missing bytes", () => {
      const q = Buffer.from(fx("ecc", "quote.attest"));
      const t = Buffer.from(q);
      t.writeUInt16BE(0x8017, 4);
      expect(attestCode(() => parseTpmsAttest(t))).to.equal("TPM_UNSUPPORTED");
      const signerLen = q.readUInt16BE(6);
      const extraLen = q.readUInt16BE(8 + signerLen);
      const safeAt = 8 + signerLen + 2 + extraLen + 16;
      const s = Buffer.from(q);
      s[safeAt] = 2;
      expect(attestCode(() => parseTpmsAttest(s))).to.equal("TPM_PARSE");
      expect(attestCode(() => parseTpmsAttest(Buffer.concat([q, Buffer.from([0])])))).to.equal("TPM_PARSE");
      expect(attestCode(() => parseTpmsAttest(q.subarray(0, q.length - 1)))).to.equal("TPM_PARSE");
    });
  });

  describe("TPMT_SIGNATURE", () => {
    const expected = { ecc: TPM_ALG.ecdsa, ecc384: TPM_ALG.ecdsa, rsa: TPM_ALG.rsassa, rsapss: TPM_ALG.rsapss } as const;
    for (const kind of GOOD) {
      it(`${kind}: parses the scheme tpm2_quote used`, () => {
        const s = parseTpmtSignature(fx(kind, "quote.sig"));
        expect(s.sigAlg).to.equal(expected[kind]);
        expect(s.hashAlg).to.equal(kind === "ecc384" ? TPM_ALG.sha384 : TPM_ALG.sha256);
      });
    }
    it("rejects unknown algorithms, NULL, non-hash hashes and trailing bytes", () => {
      const s = Buffer.from(fx("ecc", "quote.sig"));
      expect(attestCode(() => parseTpmtSignature(Buffer.concat([s, Buffer.from([0])])))).to.equal("TPM_PARSE");
      const u = Buffer.from(s);
      u.writeUInt16BE(0x7777, 0);
      expect(attestCode(() => parseTpmtSignature(u))).to.equal("TPM_PARSE");
      expect(attestCode(() => parseTpmtSignature(Buffer.from("0010", "hex")))).to.equal("TPM_UNSUPPORTED");
      const h = Buffer.from(s);
      h.writeUInt16BE(TPM_ALG.aes, 2);
      expect(attestCode(() => parseTpmtSignature(h))).to.equal("TPM_PARSE");
    });
  });

  describe("PCR selections and values", () => {
    it("round-trips TPML_PCR_SELECTION and the tpm2-tools syntax", () => {
      const sel = parseSelectionSpec("sha256:0,1,7+sha1:16-18+sha384:23");
      expect(formatSelection(sel)).to.equal("sha256:0,1,7+sha1:16,17,18+sha384:23");
      const enc = encodePcrSelection(sel);
      expect(enc.toString("hex")).to.equal("00000003" + "000b03830000" + "000403000007" + "000c03000080");
      const back = parsePcrSelection(enc);
      expect(formatSelection(back)).to.equal(formatSelection(sel));
      expect(encodePcrSelection(back).equals(enc)).to.equal(true);
    });
    it("rejects bad selection specs and duplicate banks", () => {
      for (const bad of ["sha256", "md5:1", "sha256:1+sha256:2", "sha256:3-1", "sha256:40", "sha256:a"]) {
        expect(attestCode(() => parseSelectionSpec(bad)), bad).to.equal("PCR_SELECTION");
      }
      expect(attestCode(() => parsePcrSelection(Buffer.from("00000002000b0301000000000b03010000", "hex")))).to.equal("TPM_PARSE");
      expect(attestCode(() => parsePcrSelection(Buffer.from("00000001000b05ffffffffff", "hex")))).to.equal("TPM_PARSE");
    });
    it("splits tpm2_pcrread -o output and recomputes the quoted digest for every fixture", () => {
      for (const kind of GOOD) {
        const a = parseTpmsAttest(fx(kind, "quote.attest"));
        const values = parsePcrReadOutput(fx(kind, "pcrs.bin"), a.pcrSelect);
        expect(values.get(TPM_ALG.sha384)?.get(9)?.length).to.equal(48);
        expect(values.get(TPM_ALG.sha1)?.get(7)?.equals(Buffer.alloc(20))).to.equal(true);
        const alg = parseTpmtSignature(fx(kind, "quote.sig")).hashAlg;
        expect(pcrDigest(a.pcrSelect, values, alg).equals(a.pcrDigest), kind).to.equal(true);
        expect(encodePcrReadOutput(a.pcrSelect, values).equals(fx(kind, "pcrs.bin"))).to.equal(true);
      }
    });
    it("rejects a PCR file of the wrong size and a digest with a missing value", () => {
      const sel = parseSelectionSpec("sha256:0,1");
      expect(attestCode(() => parsePcrReadOutput(Buffer.alloc(63), sel))).to.equal("PCR_SELECTION");
      expect(attestCode(() => pcrDigest(sel, new Map([[TPM_ALG.sha256, new Map([[0, Buffer.alloc(32)]])]]), TPM_ALG.sha256))).to.equal("PCR_MISSING");
    });
  });
});
