/**
 * Builds TPM structures signed by a software key, for the checks a real TPM can never be
 * made to fail (bad magic, an unrestricted "AK", clock values of our choosing). Encodes
 * with TpmWriter so the parsers see the exact wire layout.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { TPMA_OBJECT, TPM_ALG, TPM_ECC_CURVE, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE } from "../../../offchain/attest/tpm/constants.js";
import { writePcrSelection, type PcrBanks, type PcrSelection, pcrDigest } from "../../../offchain/attest/tpm/pcrs.js";
import { TpmWriter } from "../../../offchain/attest/tpm/writer.js";

export const AK_ATTRS = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.restricted | TPMA_OBJECT.sign;

export interface SoftAk {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** TPM2B_PUBLIC of the key with the given attributes. */
  tpm2bPublic: Buffer;
}

export function softEccAk(attributes = AK_ATTRS): SoftAk {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const jwk = publicKey.export({ format: "jwk" });
  const area = new TpmWriter().u16(TPM_ALG.ecc).u16(TPM_ALG.sha256).u32(attributes).tpm2b(Buffer.alloc(0))
    .u16(TPM_ALG.null).u16(TPM_ALG.ecdsa).u16(TPM_ALG.sha256).u16(TPM_ECC_CURVE.NIST_P256).u16(TPM_ALG.null)
    .tpm2b(Buffer.from(jwk.x!, "base64url")).tpm2b(Buffer.from(jwk.y!, "base64url")).toBuffer();
  return { privateKey, publicKey, tpm2bPublic: new TpmWriter().tpm2b(area).toBuffer() };
}

export interface ForgeQuote {
  magic?: number;
  nonce: Buffer;
  selection: PcrSelection[];
  pcrs: PcrBanks;
  clock?: bigint;
  resetCount?: number;
  restartCount?: number;
  safe?: boolean;
  firmwareVersion?: bigint;
}

export function forgeAttest(q: ForgeQuote): Buffer {
  const w = new TpmWriter()
    .u32(q.magic ?? TPM_GENERATED_VALUE).u16(TPM_ST_ATTEST_QUOTE)
    .tpm2b(Buffer.concat([Buffer.from([0, 0x0b]), createHash("sha256").update("signer").digest()]))
    .tpm2b(q.nonce)
    .u64(q.clock ?? 1000n).u32(q.resetCount ?? 1).u32(q.restartCount ?? 0).u8(q.safe === false ? 0 : 1)
    .u64(q.firmwareVersion ?? 0x2021n);
  writePcrSelection(w, q.selection);
  w.tpm2b(pcrDigest(q.selection, q.pcrs, TPM_ALG.sha256));
  return w.toBuffer();
}

/** TPMT_SIGNATURE (ECDSA/SHA-256) over `message`. */
export function signEcdsa(key: KeyObject, message: Buffer): Buffer {
  const rs = sign("sha256", message, { key, dsaEncoding: "ieee-p1363" });
  return new TpmWriter().u16(TPM_ALG.ecdsa).u16(TPM_ALG.sha256).tpm2b(rs.subarray(0, 32)).tpm2b(rs.subarray(32)).toBuffer();
}
