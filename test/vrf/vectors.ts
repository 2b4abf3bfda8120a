/** Typed access to the vectors shipped in the npm package vrf-solidity (test/data.json). */
import { createRequire } from "node:module";

const require_ = createRequire(import.meta.url);

interface Xy {
  x: string;
  y: string;
}
interface FastCase {
  description?: string;
  asserts?: boolean[];
  pi: string;
  publicKey: Xy;
  message: string;
  uPoint: Xy;
  vComponents: { sH: Xy; cGamma: Xy };
}

export interface VrfVectors {
  proofs: {
    valid: { pi: string; gamma: Xy; c: string; s: string }[];
    invalid: { description: string; revert: string; pi: string }[];
  };
  points: {
    valid: { compressed: string; uncompressed: Xy }[];
    invalid: { description: string; revert: string; compressed: string }[];
  };
  computeFastVerifyParams: { valid: FastCase[]; invalid: FastCase[] };
  verify: {
    valid: { hash: string; pi: string; pub: string; message: string; priv?: string }[];
    invalid: { description: string; pi: string; publicKey: Xy; message: string }[];
  };
  fastVerify: { valid: FastCase[]; invalid: FastCase[] };
  hashToTryAndIncrement: { valid: { description: string; publicKey: Xy; message: string; hashPoint: Xy }[] };
  hashPoints: { valid: { hPoint: Xy; gamma: Xy; uPoint: Xy; vPoint: Xy; hash: string }[] };
  ecMulSubMul: { valid: { scalar1: string; a1: string; a2: string; scalar2: string; b1: string; b2: string; output: Xy }[] };
  ecMul: { valid: { scalar: string; x: string; y: string; output: Xy }[] };
  ecMulSubMulVerify: { valid: { scalar1: string; scalar2: string; x: string; y: string; output: Xy }[] };
}

export const vectors = require_("vrf-solidity/test/data.json") as VrfVectors;

/**
 * witnet/vrf-rs src/openssl/mod.rs, test_prove_secp256k1_sha256_tai: secret key
 * c9afa9...6721, alpha "sample". Same Gamma as data.json's first vector, different (c, s)
 * because vrf-rs now hashes H before the RFC 6979 nonce. Its test_verify_secp256k1_sha256_tai
 * checks the other proof (c = 14faa896...) and beta 612065e3..., which is data.json's
 * verify.valid[0], covered with the data.json vectors.
 */
export const vrfRsVector = {
  secretKey: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
  message: "73616d706c65",
  pi: "031f4dbca087a1972d04a07a779b7df1caa99e0f5db2aa21f3aecc4f9e10e85d08748c9fbe6b95d17359707bfb8e8ab0c93ba0c515333adcb8b64f372c535e115ccf66ebf5abe6fadb01b5efb37c0a0ec9",
} as const;

export function big(v: string): bigint {
  return BigInt(v);
}
