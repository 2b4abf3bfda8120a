import { expect } from "chai";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  N,
  Point,
  VrfError,
  bytesToHex,
  computeFastVerifyParams,
  decodePoint,
  decodeProof,
  derivePublicKey,
  encodeCompressed,
  encodeProof,
  gammaToHash,
  hashToCurve,
  hexToBytes,
  pointFromCoordinates,
  proofToArray,
  proofToHash,
  prove,
  verify,
} from "../../offchain/core/vrf/index.js";
import { hashPoints } from "../../offchain/core/vrf/curve.js";
import { rfc6979Nonce } from "../../offchain/core/vrf/rfc6979.js";
import { big, vectors, vrfRsVector } from "./vectors.js";

function expectVrfError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(VrfError);
    expect((e as VrfError).code).to.equal(code);
    return;
  }
  expect.fail(`expected VrfError ${code}`);
}

const xy = (p: { x: string; y: string }): [bigint, bigint] => [big(p.x), big(p.y)];

describe("ECVRF secp256k1 suite 0xFE (witnet vectors)", () => {
  describe("decodeProof", () => {
    for (const [i, t] of vectors.proofs.valid.entries()) {
      it(`decodes valid proof ${i + 1} and re-encodes it`, () => {
        const d = decodeProof(hexToBytes(t.pi));
        expect(proofToArray(d)).to.deep.equal([big(t.gamma.x), big(t.gamma.y), big(t.c), big(t.s)]);
        expect(bytesToHex(encodeProof(d))).to.equal(t.pi.toLowerCase());
      });
    }
    for (const t of vectors.proofs.invalid) {
      it(`rejects a malformed proof (${t.description})`, () => {
        // "0x12345" has an odd digit count: that is already unusable hex.
        const code = t.pi.length % 2 === 1 ? "VRF_INVALID_HEX" : "VRF_PROOF_LENGTH";
        expectVrfError(() => decodeProof(hexToBytes(t.pi)), code);
      });
    }
    it("rejects a proof whose Gamma x is not on the curve", () => {
      const pi = hexToBytes(vectors.proofs.valid[0]!.pi);
      // x = 5 has no square root of x^3 + 7 on secp256k1.
      pi.set(new Uint8Array(32), 1);
      pi[32] = 5;
      expectVrfError(() => decodeProof(pi), "VRF_POINT_NOT_ON_CURVE");
    });
  });

  describe("points", () => {
    for (const [i, t] of vectors.points.valid.entries()) {
      it(`decodes and encodes compressed point ${i + 1}, and its uncompressed form`, () => {
        const p = decodePoint(hexToBytes(t.compressed));
        expect([p.x, p.y]).to.deep.equal(xy(t.uncompressed));
        expect(bytesToHex(encodeCompressed(pointFromCoordinates(...xy(t.uncompressed))))).to.equal(
          t.compressed.toLowerCase(),
        );
        const un = decodePoint(p.toBytes(false));
        expect(un.equals(p)).to.equal(true);
      });
    }
    for (const t of vectors.points.invalid) {
      it(`rejects a malformed compressed point (${t.description})`, () => {
        const hex = t.compressed;
        const expected = hex.length % 2 === 1 ? "VRF_INVALID_HEX" : t.revert.includes("prefix") ? "VRF_POINT_PREFIX" : "VRF_POINT_LENGTH";
        expectVrfError(() => decodePoint(hexToBytes(hex)), expected);
      });
    }
    it("rejects an uncompressed point off the curve", () => {
      const p = decodePoint(hexToBytes(vectors.points.valid[0]!.compressed)).toBytes(false);
      p[64] = (p[64]! ^ 1) & 0xff;
      expectVrfError(() => decodePoint(p), "VRF_POINT_NOT_ON_CURVE");
    });
  });

  describe("verify", () => {
    for (const [i, t] of vectors.verify.valid.entries()) {
      it(`verifies vector ${i + 1}${t.priv ? ` (sk=${t.priv.slice(0, 12)})` : ""} and outputs its hash`, () => {
        const r = verify(hexToBytes(t.pub), hexToBytes(t.pi), hexToBytes(t.message));
        expect(r.valid).to.equal(true);
        if (r.valid) expect(bytesToHex(r.beta)).to.equal(t.hash);
        expect(bytesToHex(proofToHash(hexToBytes(t.pi)))).to.equal(t.hash);
      });
    }
    for (const t of vectors.verify.invalid) {
      it(`returns invalid for ${t.description}`, () => {
        const r = verify(xy(t.publicKey), hexToBytes(t.pi), hexToBytes(t.message));
        expect(r.valid).to.equal(false);
      });
    }
  });

  describe("prove", () => {
    const withKeys = vectors.verify.valid.filter((t) => t.priv !== undefined);
    it("has 45 vectors with secret keys", () => expect(withKeys.length).to.equal(45));
    for (const t of withKeys) {
      it(`reproduces the vrf-solidity proof byte for byte (sk=${t.priv!.slice(0, 16)})`, () => {
        const sk = BigInt(t.priv!);
        expect(bytesToHex(derivePublicKey(sk))).to.equal(t.pub);
        expect(bytesToHex(prove(sk, hexToBytes(t.message), { nonce: "legacy" }))).to.equal(t.pi);
        // The default (hashed) nonce gives another valid proof with the same Gamma/output.
        const pi = prove(sk, hexToBytes(t.message));
        expect(bytesToHex(pi.subarray(0, 33))).to.equal(t.pi.slice(0, 68));
        const r = verify(hexToBytes(t.pub), pi, hexToBytes(t.message));
        expect(r.valid && bytesToHex(r.beta)).to.equal(t.hash);
      });
    }
    it("reproduces witnet/vrf-rs's published secp256k1 proof and verifies it", () => {
      const sk = hexToBytes(vrfRsVector.secretKey);
      const msg = hexToBytes(vrfRsVector.message);
      expect(bytesToHex(prove(sk, msg), false)).to.equal(vrfRsVector.pi);
      const r = verify(derivePublicKey(sk, false), hexToBytes(vrfRsVector.pi), msg);
      expect(r.valid).to.equal(true);
      // Same key and message as data.json vector 1, so the same output.
      if (r.valid) expect(bytesToHex(r.beta)).to.equal(vectors.verify.valid[0]!.hash);
    });
    it("RFC 6979 nonce matches the RFC's secp256k1-independent HMAC-DRBG on P-256's A.2.5 key", () => {
      // RFC 6979 A.2.5 (P-256, SHA-256, "sample"): k = A6E3C57D...AD60. Our function uses the
      // secp256k1 order for the range check only; for this k (< both orders) the DRBG output
      // is identical, so this pins the DRBG itself.
      const x = big("0xc9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
      const k = rfc6979Nonce(x, sha256(new TextEncoder().encode("sample")));
      expect(k.toString(16)).to.equal("a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60");
    });
    it("round-trips random keys and rejects every single-bit flip of c and s", () => {
      for (let i = 1; i <= 4; i++) {
        const sk = sha256(Uint8Array.of(i));
        const msg = sha256(Uint8Array.of(i, i));
        const pi = prove(sk, msg);
        const pk = derivePublicKey(sk);
        expect(verify(pk, pi, msg).valid).to.equal(true);
        for (let byte = 33; byte < 81; byte += 7) {
          const bad = pi.slice();
          bad[byte] = bad[byte]! ^ 0x01;
          expect(verify(pk, bad, msg).valid).to.equal(false);
        }
        expect(verify(pk, pi, Uint8Array.of(...msg, 0)).valid).to.equal(false);
      }
    });
    it("rejects s >= n (a malleated but otherwise valid proof)", () => {
      const t = vectors.verify.valid[0]!;
      const d = decodeProof(hexToBytes(t.pi));
      const malleated = [d.gamma.x, d.gamma.y, d.c, d.s + N] as const;
      expect(verify(hexToBytes(t.pub), malleated, hexToBytes(t.message)).valid).to.equal(false);
    });
    it("refuses secret keys out of range or of the wrong length", () => {
      expectVrfError(() => prove(0n, Uint8Array.of()), "VRF_SECRET_KEY");
      expectVrfError(() => prove(N, Uint8Array.of()), "VRF_SECRET_KEY");
      expectVrfError(() => prove(new Uint8Array(31).fill(1), Uint8Array.of()), "VRF_SECRET_KEY");
    });
  });

  describe("hash to curve, hash points, gammaToHash", () => {
    for (const t of vectors.hashToTryAndIncrement.valid) {
      it(`try-and-increment (${t.description})`, () => {
        expect(hashToCurve(xy(t.publicKey), hexToBytes(t.message))).to.deep.equal(xy(t.hashPoint));
      });
    }
    for (const [i, t] of vectors.hashPoints.valid.entries()) {
      it(`hashPoints ${i + 1}`, () => {
        const pts = [t.hPoint, t.gamma, t.uPoint, t.vPoint].map((p) => pointFromCoordinates(...xy(p)));
        const c = hashPoints(pts[0]!, pts[1]!, pts[2]!, pts[3]!);
        expect(`0x${c.toString(16).padStart(32, "0")}`).to.equal(t.hash);
      });
    }
    it("gammaToHash is sha256(0xFE || 0x03 || compressed Gamma)", () => {
      const t = vectors.verify.valid[0]!;
      const g = decodeProof(hexToBytes(t.pi)).gamma;
      expect(bytesToHex(gammaToHash(g))).to.equal(t.hash);
    });
  });

  describe("computeFastVerifyParams", () => {
    const expectedOf = (t: (typeof vectors.fastVerify.valid)[number]) => [
      big(t.uPoint.x),
      big(t.uPoint.y),
      big(t.vComponents.sH.x),
      big(t.vComponents.sH.y),
      big(t.vComponents.cGamma.x),
      big(t.vComponents.cGamma.y),
    ];
    const run = (t: (typeof vectors.fastVerify.valid)[number]) => {
      const p = computeFastVerifyParams(xy(t.publicKey), hexToBytes(t.pi), hexToBytes(t.message));
      return [...p.uPoint, ...p.vComponents];
    };
    for (const [i, t] of [...vectors.computeFastVerifyParams.valid, ...vectors.fastVerify.valid].entries()) {
      it(`computes the helper points of vector ${i + 1}`, () => expect(run(t)).to.deep.equal(expectedOf(t)));
    }
    for (const t of vectors.computeFastVerifyParams.invalid) {
      it(`differs exactly where expected (${t.description})`, () => {
        const got = run(t);
        const want = expectedOf(t);
        expect(got.map((v, i) => v === want[i])).to.deep.equal(t.asserts);
      });
    }
  });

  describe("curve arithmetic vectors (ecMul, ecMulSubMul, ecMulSubMulVerify)", () => {
    for (const [i, t] of vectors.ecMul.valid.entries()) {
      it(`ecMul ${i + 1}`, () => {
        const p = pointFromCoordinates(big(t.x), big(t.y)).multiply(big(t.scalar) % N);
        expect([p.x, p.y]).to.deep.equal(xy(t.output));
      });
    }
    for (const [i, t] of vectors.ecMulSubMul.valid.entries()) {
      it(`ecMulSubMul ${i + 1}`, () => {
        const a = pointFromCoordinates(big(t.a1), big(t.a2)).multiply(big(t.scalar1) % N);
        const b = pointFromCoordinates(big(t.b1), big(t.b2)).multiply(big(t.scalar2) % N);
        const r = a.subtract(b);
        expect([r.x, r.y]).to.deep.equal(xy(t.output));
      });
    }
    for (const [i, t] of vectors.ecMulSubMulVerify.valid.entries()) {
      it(`ecMulSubMulVerify ${i + 1} (s1*G - s2*P)`, () => {
        const r = Point.BASE.multiply(big(t.scalar1) % N).subtract(pointFromCoordinates(big(t.x), big(t.y)).multiply(big(t.scalar2) % N));
        expect([r.x, r.y]).to.deep.equal(xy(t.output));
      });
    }
  });
});
