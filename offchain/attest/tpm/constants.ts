/**
 * TPM 2.0 constants (TCG TPM 2.0 Library, Part 2: Structures) used by the verifier.
 * Only what we parse; values are the spec's, names follow the spec without the prefix.
 */
import { AttestError } from "../errors.js";

/** TPM_ALG_ID values. */
export const TPM_ALG = {
  error: 0x0000,
  rsa: 0x0001,
  tdes: 0x0003,
  sha1: 0x0004,
  hmac: 0x0005,
  aes: 0x0006,
  mgf1: 0x0007,
  keyedhash: 0x0008,
  xor: 0x000a,
  sha256: 0x000b,
  sha384: 0x000c,
  sha512: 0x000d,
  null: 0x0010,
  sm3_256: 0x0012,
  sm4: 0x0013,
  rsassa: 0x0014,
  rsaes: 0x0015,
  rsapss: 0x0016,
  oaep: 0x0017,
  ecdsa: 0x0018,
  ecdh: 0x0019,
  ecdaa: 0x001a,
  sm2: 0x001b,
  ecschnorr: 0x001c,
  ecmqv: 0x001d,
  kdf1_sp800_56a: 0x0020,
  kdf2: 0x0021,
  kdf1_sp800_108: 0x0022,
  ecc: 0x0023,
  symcipher: 0x0025,
  camellia: 0x0026,
  sha3_256: 0x0027,
  sha3_384: 0x0028,
  sha3_512: 0x0029,
  ctr: 0x0040,
  ofb: 0x0041,
  cbc: 0x0042,
  cfb: 0x0043,
  ecb: 0x0044,
} as const;
export type TpmAlgId = number;

/** The value a TPM puts first in every structure it signs itself (TPM_GENERATED_VALUE). */
export const TPM_GENERATED_VALUE = 0xff544347;

/** TPM_ST values for attestation structures. */
export const TPM_ST = {
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  ATTEST_NV_DIGEST: 0x801c,
} as const;
export const TPM_ST_ATTEST_QUOTE = TPM_ST.ATTEST_QUOTE;

/** TPM_ECC_CURVE values. */
export const TPM_ECC_CURVE = {
  NONE: 0x0000,
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
  BN_P256: 0x0010,
  BN_P638: 0x0011,
  SM2_P256: 0x0020,
} as const;

/** Curves we turn into KeyObjects: TPM id -> JWK/node name and coordinate size. */
export const SUPPORTED_CURVES: ReadonlyMap<number, { jwk: "P-256" | "P-384" | "P-521"; node: string; size: number }> =
  new Map([
    [TPM_ECC_CURVE.NIST_P256, { jwk: "P-256", node: "prime256v1", size: 32 }],
    [TPM_ECC_CURVE.NIST_P384, { jwk: "P-384", node: "secp384r1", size: 48 }],
    [TPM_ECC_CURVE.NIST_P521, { jwk: "P-521", node: "secp521r1", size: 66 }],
  ]);

/** TPMA_OBJECT bits. */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
  x509sign: 1 << 19,
} as const;

export type HashName = "sha1" | "sha256" | "sha384" | "sha512" | "sm3_256";

/** Hash algorithms a PCR bank or a signature may use; `node` is the node:crypto name. */
export const HASH_ALGS: ReadonlyMap<number, { name: HashName; node: string; size: number }> = new Map([
  [TPM_ALG.sha1, { name: "sha1", node: "sha1", size: 20 }],
  [TPM_ALG.sha256, { name: "sha256", node: "sha256", size: 32 }],
  [TPM_ALG.sha384, { name: "sha384", node: "sha384", size: 48 }],
  [TPM_ALG.sha512, { name: "sha512", node: "sha512", size: 64 }],
  [TPM_ALG.sm3_256, { name: "sm3_256", node: "sm3", size: 32 }],
]);

const HASH_BY_NAME: ReadonlyMap<string, number> = new Map(
  [...HASH_ALGS].map(([id, h]) => [h.name, id] as const),
);

/** Largest digest any supported hash produces (TPMU_HA). */
export const MAX_DIGEST_SIZE = 64;

export function isHashAlg(alg: number): boolean {
  return HASH_ALGS.has(alg);
}

/** Digest size of a TPM hash algorithm; raises TPM_UNSUPPORTED for anything else. */
export function hashInfo(alg: number): { name: HashName; node: string; size: number } {
  const h = HASH_ALGS.get(alg);
  if (!h) throw new AttestError("TPM_UNSUPPORTED", `unsupported hash algorithm 0x${hex16(alg)}`);
  return h;
}

/** TPM hash id from a name such as "sha256"; raises INPUT_INVALID for an unknown name. */
export function hashAlgByName(name: string): number {
  const id = HASH_BY_NAME.get(name.toLowerCase());
  if (id === undefined) throw new AttestError("INPUT_INVALID", `unknown hash algorithm "${name}"`);
  return id;
}

export function algName(alg: number): string {
  for (const [k, v] of Object.entries(TPM_ALG)) if (v === alg) return k;
  return `0x${hex16(alg)}`;
}

export function hex16(v: number): string {
  return v.toString(16).padStart(4, "0");
}
