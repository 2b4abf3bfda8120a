/**
 * Loads an attestation key's public part from what callers have: a KeyObject, a PEM
 * (what `tpm2_createak -f pem` or OpenSSL write), or TPM2B_PUBLIC/TPMT_PUBLIC bytes
 * (`tpm2_createak -u`). The TPM form is preferred: it carries the object attributes, so
 * the verifier can insist on a restricted signing key.
 */
import { createPublicKey, KeyObject } from "node:crypto";
import { AttestError } from "./errors.js";
import { parseTpm2bPublic, parseTpmtPublic, type TpmPublic } from "./tpm/public.js";

export type AkPublicInput = KeyObject | Uint8Array | string;

export interface LoadedAk {
  keyObject: KeyObject;
  /** Present when the key came in TPM form. */
  tpmPublic?: TpmPublic;
}

function looksPem(b: Uint8Array): boolean {
  const head = Buffer.from(b.subarray(0, 64)).toString("latin1");
  return head.trimStart().startsWith("-----BEGIN");
}

function fromPem(pem: string): LoadedAk {
  try {
    const keyObject = createPublicKey(pem);
    return { keyObject };
  } catch (cause) {
    throw new AttestError("INPUT_INVALID", "AK PEM is not a public key", { cause });
  }
}

export function loadAkPublic(input: AkPublicInput): LoadedAk {
  if (input instanceof KeyObject) {
    if (input.type !== "public") throw new AttestError("INPUT_INVALID", `AK KeyObject is ${input.type}, need public`);
    return { keyObject: input };
  }
  if (typeof input === "string") return fromPem(input);
  if (looksPem(input)) return fromPem(Buffer.from(input).toString("latin1"));
  // A TPM2B_PUBLIC starts with its own size: the first two bytes equal length - 2.
  const tpmPublic =
    input.length >= 2 && ((input[0]! << 8) | input[1]!) === input.length - 2
      ? parseTpm2bPublic(input)
      : parseTpmtPublic(input);
  return { keyObject: tpmPublic.keyObject, tpmPublic };
}
