/**
 * TPMT_SIGNATURE (Part 2, 11.3.4) as `tpm2_quote -s` writes it, and its verification with
 * node:crypto. ECDSA r and s are left-padded to the curve size and checked as IEEE P1363,
 * which avoids building DER by hand; RSAPSS accepts any salt length because TPMs differ
 * (most use the digest length, the spec allows the maximum).
 */
import { constants, verify, type KeyObject } from "node:crypto";
import { AttestError } from "../errors.js";
import { SUPPORTED_CURVES, TPM_ALG, algName, hashInfo, isHashAlg } from "./constants.js";
import { TpmReader } from "./reader.js";

export type TpmSignature =
  | { sigAlg: typeof TPM_ALG.ecdsa; hashAlg: number; r: Buffer; s: Buffer }
  | { sigAlg: typeof TPM_ALG.rsassa | typeof TPM_ALG.rsapss; hashAlg: number; sig: Buffer }
  | { sigAlg: typeof TPM_ALG.hmac; hashAlg: number; digest: Buffer };

/** sizeof(TPMU_PUBLIC_ID.rsa): MAX_RSA_KEY_BYTES for 4096-bit keys. */
const MAX_RSA_BYTES = 512;
/** MAX_ECC_KEY_BYTES for P-521. */
const MAX_ECC_BYTES = 66;

export function parseTpmtSignature(buf: Uint8Array): TpmSignature {
  const r: TpmReader = new TpmReader(buf, { what: "TPMT_SIGNATURE" });
  const sigAlg = r.u16("sigAlg");
  let out: TpmSignature;
  if (sigAlg === TPM_ALG.null) {
    throw new AttestError("TPM_UNSUPPORTED", "TPMT_SIGNATURE: NULL signature (the key could not sign)");
  }
  const hashAlg = r.u16("hash");
  if (!isHashAlg(hashAlg)) r.fail(`signature hash ${algName(hashAlg)} is not a hash algorithm`);
  if (sigAlg === TPM_ALG.ecdsa) {
    const rr = r.tpm2b("signatureR", MAX_ECC_BYTES);
    const ss = r.tpm2b("signatureS", MAX_ECC_BYTES);
    out = { sigAlg, hashAlg, r: rr, s: ss };
  } else if (sigAlg === TPM_ALG.rsassa || sigAlg === TPM_ALG.rsapss) {
    out = { sigAlg, hashAlg, sig: r.tpm2b("sig", MAX_RSA_BYTES) };
  } else if (sigAlg === TPM_ALG.hmac) {
    out = { sigAlg, hashAlg, digest: r.bytes(hashInfo(hashAlg).size, "digest") };
  } else if (
    sigAlg === TPM_ALG.ecdaa || sigAlg === TPM_ALG.sm2 || sigAlg === TPM_ALG.ecschnorr
  ) {
    throw new AttestError("TPM_UNSUPPORTED", `TPMT_SIGNATURE: ${algName(sigAlg)} signatures are not supported`);
  } else {
    r.fail(`unknown signature algorithm ${algName(sigAlg)}`);
  }
  r.assertEnd();
  return out;
}

function stripAndPad(v: Buffer, size: number): Buffer | undefined {
  let i = 0;
  while (i < v.length - size && v[i] === 0) i++;
  const t = v.subarray(i);
  if (t.length > size) return undefined;
  if (t.length === size) return t;
  const out = Buffer.alloc(size);
  t.copy(out, size - t.length);
  return out;
}

/**
 * Verifies `sig` over `message` with `key`. Returns false for a wrong signature and for a
 * signature whose algorithm does not fit the key (an ECDSA signature against an RSA key);
 * throws only for a signature kind we cannot check at all (HMAC needs the secret).
 */
export function verifyTpmSignature(sig: TpmSignature, key: KeyObject, message: Uint8Array): boolean {
  const hash = hashInfo(sig.hashAlg).node;
  if (sig.sigAlg === TPM_ALG.ecdsa) {
    if (key.asymmetricKeyType !== "ec") return false;
    const curveName = key.asymmetricKeyDetails?.namedCurve;
    const curve = [...SUPPORTED_CURVES.values()].find((c) => c.node === curveName);
    if (!curve) return false;
    const rr = stripAndPad(sig.r, curve.size);
    const ss = stripAndPad(sig.s, curve.size);
    if (!rr || !ss) return false;
    try {
      return verify(hash, message, { key, dsaEncoding: "ieee-p1363" }, Buffer.concat([rr, ss]));
    } catch {
      return false;
    }
  }
  if (sig.sigAlg === TPM_ALG.rsassa || sig.sigAlg === TPM_ALG.rsapss) {
    if (key.asymmetricKeyType !== "rsa") return false;
    try {
      return sig.sigAlg === TPM_ALG.rsassa
        ? verify(hash, message, { key, padding: constants.RSA_PKCS1_PADDING }, sig.sig)
        : verify(hash, message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig.sig);
    } catch {
      return false;
    }
  }
  throw new AttestError("TPM_UNSUPPORTED", "HMAC signatures cannot be verified with a public key");
}
