import { expect } from "chai";
import fc from "fast-check";
import {
  bytesToHex,
  evaluate,
  evaluatePortable,
  hexToBytes,
  nativeVrfAvailable,
  prove,
  provePortable,
  proofToHash,
  verify,
  verifyPortable,
  derivePublicKey,
  N,
} from "../../offchain/core/vrf/index.js";
import { vectors } from "./vectors.js";

describe("ECVRF native fast path (libsecp256k1) against the pure-JS reference", () => {
  it("is in use on this machine (the package's prebuilt N-API binary loads)", () => {
    expect(nativeVrfAvailable).to.equal(true);
  });

  const withKeys = vectors.verify.valid.filter((t) => t.priv !== undefined);
  it("reproduces every vrf-solidity proof byte for byte (legacy nonce) and matches the portable prover (hashed nonce)", () => {
    expect(withKeys.length).to.be.greaterThan(40);
    for (const t of withKeys) {
      const sk = BigInt(t.priv!);
      const msg = hexToBytes(t.message);
      expect(bytesToHex(prove(sk, msg, { nonce: "legacy" }))).to.equal(t.pi);
      expect(bytesToHex(prove(sk, msg))).to.equal(bytesToHex(provePortable(sk, msg)));
      expect(bytesToHex(evaluate(sk, msg))).to.equal(t.hash);
    }
  });

  it("verifies every vrf-solidity vector (valid and invalid) exactly as the portable verifier does", () => {
    for (const t of vectors.verify.valid) {
      const r = verify(hexToBytes(t.pub), hexToBytes(t.pi), hexToBytes(t.message));
      expect(r.valid && bytesToHex(r.beta)).to.equal(t.hash);
    }
    for (const t of vectors.verify.invalid) {
      const pk = [BigInt(t.publicKey.x), BigInt(t.publicKey.y)] as const;
      let portable: boolean | string;
      try {
        portable = verifyPortable(pk, hexToBytes(t.pi), hexToBytes(t.message)).valid;
      } catch (e) {
        portable = (e as Error).name;
      }
      let native: boolean | string;
      try {
        native = verify(pk, hexToBytes(t.pi), hexToBytes(t.message)).valid;
      } catch (e) {
        native = (e as Error).name;
      }
      expect(native, t.description).to.equal(portable);
      expect(native, t.description).to.not.equal(true);
    }
  });

  it("agrees with the portable prover and evaluator on random keys and messages, and its proofs verify", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: N - 1n }), fc.uint8Array({ minLength: 0, maxLength: 96 }), (sk, msg) => {
        const pi = prove(sk, msg);
        expect(bytesToHex(pi)).to.equal(bytesToHex(provePortable(sk, msg)));
        expect(bytesToHex(evaluate(sk, msg))).to.equal(bytesToHex(evaluatePortable(sk, msg)));
        const pk = derivePublicKey(sk);
        const r = verify(pk, pi, msg);
        expect(r.valid && bytesToHex(r.beta)).to.equal(bytesToHex(proofToHash(pi)));
        // Any corrupted proof or other message: both verifiers say invalid.
        const bad = pi.slice();
        bad[40 + (msg.length % 40)]! ^= 1;
        expect(verify(pk, bad, msg).valid).to.equal(false);
        expect(verifyPortable(pk, bad, msg).valid).to.equal(false);
        const other = Uint8Array.of(...msg, 1);
        expect(verify(pk, pi, other).valid).to.equal(false);
      }),
      { numRuns: 150 },
    );
  });
});
