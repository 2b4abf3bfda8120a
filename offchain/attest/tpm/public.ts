/**
 * TPMT_PUBLIC / TPM2B_PUBLIC (Part 2, 12.2) for RSA and ECC keys: the parsed template,
 * the public key as a node:crypto KeyObject, and the TPM name (nameAlg || H(TPMT_PUBLIC)),
 * which is what a quote's qualifiedSigner, credential activation and NodeRegistry refer to.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { AttestError } from "../errors.js";
import { SUPPORTED_CURVES, TPM_ALG, algName, hashInfo, hex16, isHashAlg } from "./constants.js";
import { TpmReader } from "./reader.js";

/** TPMT_SYM_DEF_OBJECT; `algorithm` is TPM_ALG.null for keys that are not storage parents. */
export interface SymDefObject {
  algorithm: number;
  keyBits?: number;
  mode?: number;
}

/** A TPMT_*_SCHEME / TPMT_KDF_SCHEME: scheme id and its hash (absent for NULL and RSAES). */
export interface Scheme {
  scheme: number;
  hashAlg?: number;
  /** ECDAA only. */
  count?: number;
}

export interface RsaParameters {
  kind: "rsa";
  symmetric: SymDefObject;
  scheme: Scheme;
  keyBits: number;
  /** The public exponent with the spec's 0 -> 65537 default applied. */
  exponent: number;
}

export interface EccParameters {
  kind: "ecc";
  symmetric: SymDefObject;
  scheme: Scheme;
  curveId: number;
  kdf: Scheme;
}

export type RsaUnique = { kind: "rsa"; n: Buffer };
export type EccUnique = { kind: "ecc"; x: Buffer; y: Buffer };

export interface TpmPublic {
  type: number;
  nameAlg: number;
  objectAttributes: number;
  authPolicy: Buffer;
  parameters: RsaParameters | EccParameters;
  unique: RsaUnique | EccUnique;
  keyObject: KeyObject;
  /** nameAlg (2 bytes, big-endian) || H_nameAlg(TPMT_PUBLIC bytes). */
  name: Buffer;
  /** The exact TPMT_PUBLIC bytes the name was computed over. */
  raw: Buffer;
}

const RSA_KEY_BITS = new Set([1024, 2048, 3072, 4096]);
/** Schemes whose details are a single TPMS_SCHEME_HASH. */
const HASH_SCHEMES = new Set<number>([
  TPM_ALG.rsassa, TPM_ALG.rsapss, TPM_ALG.oaep, TPM_ALG.ecdsa, TPM_ALG.ecdh, TPM_ALG.sm2,
  TPM_ALG.ecschnorr, TPM_ALG.ecmqv, TPM_ALG.hmac, TPM_ALG.mgf1, TPM_ALG.kdf1_sp800_56a,
  TPM_ALG.kdf2, TPM_ALG.kdf1_sp800_108,
]);

function readHashAlg(r: TpmReader, field: string): number {
  const alg = r.u16(field);
  if (!isHashAlg(alg)) r.fail(`${field} 0x${hex16(alg)} is not a hash algorithm`);
  return alg;
}

function readSymDef(r: TpmReader): SymDefObject {
  const algorithm = r.u16("symmetric.algorithm");
  if (algorithm === TPM_ALG.null) return { algorithm };
  if (algorithm !== TPM_ALG.aes && algorithm !== TPM_ALG.sm4 && algorithm !== TPM_ALG.camellia) {
    r.fail(`symmetric algorithm ${algName(algorithm)} is not a block cipher`);
  }
  return { algorithm, keyBits: r.u16("symmetric.keyBits"), mode: r.u16("symmetric.mode") };
}

function readScheme(r: TpmReader, field: string): Scheme {
  const scheme = r.u16(`${field}.scheme`);
  if (scheme === TPM_ALG.null || scheme === TPM_ALG.rsaes) return { scheme };
  if (scheme === TPM_ALG.ecdaa) {
    return { scheme, hashAlg: readHashAlg(r, `${field}.hashAlg`), count: r.u16(`${field}.count`) };
  }
  if (!HASH_SCHEMES.has(scheme)) r.fail(`${field} ${algName(scheme)} is not a known scheme`);
  return { scheme, hashAlg: readHashAlg(r, `${field}.hashAlg`) };
}

function b64u(b: Buffer): string {
  return b.toString("base64url");
}

function leftPad(b: Buffer, size: number): Buffer {
  if (b.length === size) return b;
  const out = Buffer.alloc(size);
  b.copy(out, size - b.length);
  return out;
}

function rsaKeyObject(n: Buffer, exponent: number): KeyObject {
  const e = Buffer.alloc(4);
  e.writeUInt32BE(exponent);
  let i = 0;
  while (i < 3 && e[i] === 0) i++;
  try {
    return createPublicKey({ key: { kty: "RSA", n: b64u(n), e: b64u(e.subarray(i)) }, format: "jwk" });
  } catch (cause) {
    throw new AttestError("TPM_BAD_KEY", "RSA public key rejected by node:crypto", { cause });
  }
}

function eccKeyObject(curveId: number, x: Buffer, y: Buffer): KeyObject {
  const curve = SUPPORTED_CURVES.get(curveId);
  if (!curve) throw new AttestError("TPM_UNSUPPORTED", `unsupported ECC curve 0x${hex16(curveId)}`);
  if (x.length > curve.size || y.length > curve.size) {
    throw new AttestError("TPM_PARSE", `ECC point coordinate longer than ${curve.size} bytes for ${curve.jwk}`);
  }
  try {
    return createPublicKey({
      key: { kty: "EC", crv: curve.jwk, x: b64u(leftPad(x, curve.size)), y: b64u(leftPad(y, curve.size)) },
      format: "jwk",
    });
  } catch (cause) {
    throw new AttestError("TPM_BAD_KEY", `ECC point is not on ${curve.jwk}`, { cause });
  }
}

function readTpmtPublic(r: TpmReader): Omit<TpmPublic, "keyObject" | "name" | "raw"> {
  const type = r.u16("type");
  const nameAlg = readHashAlg(r, "nameAlg");
  const objectAttributes = r.u32("objectAttributes");
  const authPolicy = r.tpm2b("authPolicy", 64);
  if (type === TPM_ALG.rsa) {
    const symmetric = readSymDef(r);
    const scheme = readScheme(r, "scheme");
    const keyBits = r.u16("keyBits");
    if (!RSA_KEY_BITS.has(keyBits)) r.fail(`unsupported RSA key size ${keyBits}`);
    const rawExp = r.u32("exponent");
    const exponent = rawExp === 0 ? 65537 : rawExp;
    const n = r.tpm2b("unique.rsa", 512);
    if (n.length !== keyBits / 8) r.fail(`RSA modulus is ${n.length} bytes, keyBits says ${keyBits / 8}`);
    return {
      type, nameAlg, objectAttributes, authPolicy,
      parameters: { kind: "rsa", symmetric, scheme, keyBits, exponent },
      unique: { kind: "rsa", n },
    };
  }
  if (type === TPM_ALG.ecc) {
    const symmetric = readSymDef(r);
    const scheme = readScheme(r, "scheme");
    const curveId = r.u16("curveID");
    const kdf = readScheme(r, "kdf");
    const x = r.tpm2b("unique.ecc.x", 128);
    const y = r.tpm2b("unique.ecc.y", 128);
    return {
      type, nameAlg, objectAttributes, authPolicy,
      parameters: { kind: "ecc", symmetric, scheme, curveId, kdf },
      unique: { kind: "ecc", x, y },
    };
  }
  throw new AttestError("TPM_UNSUPPORTED", `unsupported public key type ${algName(type)}`);
}

/** TPM name of a TPMT_PUBLIC: nameAlg id then the nameAlg digest of the encoded structure. */
export function tpmName(nameAlg: number, tpmtPublic: Uint8Array): Buffer {
  const h = hashInfo(nameAlg);
  const id = Buffer.alloc(2);
  id.writeUInt16BE(nameAlg);
  return Buffer.concat([id, createHash(h.node).update(tpmtPublic).digest()]);
}

function finish(fields: Omit<TpmPublic, "keyObject" | "name" | "raw">, raw: Buffer): TpmPublic {
  const keyObject =
    fields.unique.kind === "rsa" && fields.parameters.kind === "rsa"
      ? rsaKeyObject(fields.unique.n, fields.parameters.exponent)
      : fields.unique.kind === "ecc" && fields.parameters.kind === "ecc"
        ? eccKeyObject(fields.parameters.curveId, fields.unique.x, fields.unique.y)
        : (() => { throw new AttestError("TPM_PARSE", "public key parameters and unique disagree"); })();
  return { ...fields, keyObject, name: tpmName(fields.nameAlg, raw), raw };
}

/** Parses a TPMT_PUBLIC occupying the whole buffer. */
export function parseTpmtPublic(buf: Uint8Array): TpmPublic {
  const r = new TpmReader(buf, { what: "TPMT_PUBLIC" });
  const fields = readTpmtPublic(r);
  r.assertEnd();
  return finish(fields, Buffer.from(buf));
}

/** Parses a TPM2B_PUBLIC (u16 size + TPMT_PUBLIC), as `tpm2_createak -u` writes it. */
export function parseTpm2bPublic(buf: Uint8Array): TpmPublic {
  const outer = new TpmReader(buf, { what: "TPM2B_PUBLIC" });
  const inner = outer.tpm2b("publicArea");
  outer.assertEnd();
  if (inner.length === 0) throw new AttestError("TPM_PARSE", "TPM2B_PUBLIC: empty publicArea");
  const r = new TpmReader(inner, { what: "TPM2B_PUBLIC.publicArea" });
  const fields = readTpmtPublic(r);
  r.assertEnd();
  return finish(fields, inner);
}
