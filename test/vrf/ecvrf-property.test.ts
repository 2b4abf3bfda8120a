import { expect } from "chai";
import fc from "fast-check";
import {
  N,
  Point,
  computeFastVerifyParams,
  decodeProof,
  derivePublicKey,
  encodeProof,
  evaluate,
  hashToCurve,
  proofToHash,
  prove,
  verify,
} from "../../offchain/core/vrf/index.js";

const scalar = fc.bigInt({ min: 1n, max: N - 1n });
const message = fc.uint8Array({ minLength: 0, maxLength: 96 });

describe("ECVRF properties (fast-check, seeded)", function () {
  this.timeout(120_000);
  const params = { numRuns: 25, seed: 0x7e57 };

  it("prove/verify round-trip; output = evaluate = proofToHash; both nonce modes agree on Gamma", () => {
    fc.assert(
      fc.property(scalar, message, (sk, msg) => {
        const pi = prove(sk, msg);
        const legacy = prove(sk, msg, { nonce: "legacy" });
        const r = verify(derivePublicKey(sk, false), pi, msg);
        expect(r.valid).to.equal(true);
        expect(verify(derivePublicKey(sk), legacy, msg).valid).to.equal(true);
        expect(legacy.subarray(0, 33)).to.deep.equal(pi.subarray(0, 33));
        if (r.valid) {
          expect(r.beta).to.deep.equal(evaluate(sk, msg));
          expect(r.beta).to.deep.equal(proofToHash(pi));
        }
        expect(encodeProof(decodeProof(pi))).to.deep.equal(pi);
      }),
      params,
    );
  });

  it("a proof does not verify under another key, another message, or with Gamma negated", () => {
    fc.assert(
      fc.property(scalar, scalar, message, fc.uint8Array({ minLength: 1, maxLength: 8 }), (sk, other, msg, extra) => {
        fc.pre(sk !== other);
        const pi = prove(sk, msg);
        expect(verify(derivePublicKey(other), pi, msg).valid).to.equal(false);
        expect(verify(derivePublicKey(sk), pi, new Uint8Array([...msg, ...extra])).valid).to.equal(false);
        const negated = pi.slice();
        negated[0] = negated[0] === 0x02 ? 0x03 : 0x02;
        expect(verify(derivePublicKey(sk), negated, msg).valid).to.equal(false);
      }),
      params,
    );
  });

  it("fastVerify helpers equal U = sG - cY, sH and cGamma computed independently", () => {
    fc.assert(
      fc.property(scalar, message, (sk, msg) => {
        const pi = prove(sk, msg);
        const { c, s, gamma } = decodeProof(pi);
        const fp = computeFastVerifyParams(derivePublicKey(sk), pi, msg);
        const y = Point.BASE.multiply(sk);
        const u = Point.BASE.multiply(s).subtract(y.multiply(c));
        const [hx, hy] = hashToCurve(y, msg);
        const sH = Point.fromAffine({ x: hx, y: hy }).multiply(s);
        const cGamma = gamma.multiply(c);
        expect(fp.uPoint).to.deep.equal([u.x, u.y]);
        expect(fp.vComponents).to.deep.equal([sH.x, sH.y, cGamma.x, cGamma.y]);
        // V = sH - cGamma = kH must differ from U = kG unless H = G (never for a hash point).
        expect(sH.subtract(cGamma).equals(u)).to.equal(false);
      }),
      { ...params, numRuns: 10 },
    );
  });
});
