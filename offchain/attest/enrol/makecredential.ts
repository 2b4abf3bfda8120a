/**
 * TPM2_MakeCredential done by the registrar in software (TPM 2.0 Part 1, 24: "Credential
 * Protection"), producing the blob `tpm2_activatecredential -i` reads:
 *
 *   u32 0xBADCC0DE || u32 1 || TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET
 *   TPM2B_ID_OBJECT = u16 size || TPM2B_DIGEST(outerHMAC) || encIdentity
 *
 * with, for an RSA EK of nameAlg H and symmetric AES-128-CFB (the TCG EK template):
 *   seed        random, |H| bytes, RSA-OAEP(H) encrypted to the EK with label "IDENTITY\0"
 *   symKey      = KDFa(H, seed, "STORAGE", akName, "", 128)
 *   encIdentity = AES-128-CFB(symKey, IV = 0, TPM2B_DIGEST(secret))
 *   hmacKey     = KDFa(H, seed, "INTEGRITY", "", "", |H| * 8)
 *   outerHMAC   = HMAC_H(hmacKey, encIdentity || akName)
 *
 * Only the TPM holding the EK private key recovers the seed, and it only releases the
 * secret when the object named akName is loaded in it: that is what binds AK to EK.
 */
import { constants, createCipheriv, createHmac, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";
import { EnrolError } from "./errors.js";
import { kdfa } from "./kdfa.js";

export const CREDENTIAL_BLOB_MAGIC = 0xbadcc0de;
export const CREDENTIAL_BLOB_VERSION = 1;

export interface MakeCredentialParams {
  /** The EK public key (RSA). Take it from the validated EK certificate. */
  ekPublicKey: KeyObject;
  /** EK name algorithm (node hash name); sha256 for the TCG EK templates. */
  ekNameAlg?: "sha256" | "sha384";
  /** EK symmetric key size: 128 for the low-range TCG templates. */
  symKeyBits?: 128 | 256;
  /** TPM name of the AK (nameAlg || digest). */
  akName: Uint8Array;
  /** The secret the agent must recover (at most the EK nameAlg digest size). */
  secret: Uint8Array;
  /** Seed override for deterministic tests; random otherwise. */
  seed?: Uint8Array;
}

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

export function makeCredential(p: MakeCredentialParams): Buffer {
  if (p.ekPublicKey.asymmetricKeyType !== "rsa") {
    throw new EnrolError("EK_KEY_UNSUPPORTED", `EK key type ${p.ekPublicKey.asymmetricKeyType} not supported`, {
      metaMessages: ["credential protection with an ECC EK (ECDH seed) is not implemented; use the RSA EK"],
    });
  }
  const hash = p.ekNameAlg ?? "sha256";
  const digestSize = hash === "sha256" ? 32 : 48;
  const symBits = p.symKeyBits ?? 128;
  if (p.secret.length === 0 || p.secret.length > digestSize) {
    throw new EnrolError("INPUT_INVALID", `credential secret must be 1..${digestSize} bytes, got ${p.secret.length}`);
  }
  const seed = Buffer.from(p.seed ?? randomBytes(digestSize));
  const encSeed = publicEncrypt(
    { key: p.ekPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash, oaepLabel: Buffer.from("IDENTITY\0", "latin1") },
    seed,
  );
  const symKey = kdfa(hash, seed, "STORAGE", p.akName, new Uint8Array(0), symBits);
  const cipher = createCipheriv(symBits === 128 ? "aes-128-cfb" : "aes-256-cfb", symKey, Buffer.alloc(16));
  const plain = Buffer.concat([u16(p.secret.length), Buffer.from(p.secret)]);
  const encIdentity = Buffer.concat([cipher.update(plain), cipher.final()]);
  const hmacKey = kdfa(hash, seed, "INTEGRITY", new Uint8Array(0), new Uint8Array(0), digestSize * 8);
  const outerHmac = createHmac(hash, hmacKey).update(encIdentity).update(p.akName).digest();
  const idObject = Buffer.concat([u16(outerHmac.length), outerHmac, encIdentity]);
  return Buffer.concat([
    u32(CREDENTIAL_BLOB_MAGIC),
    u32(CREDENTIAL_BLOB_VERSION),
    u16(idObject.length),
    idObject,
    u16(encSeed.length),
    encSeed,
  ]);
}
