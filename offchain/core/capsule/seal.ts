/**
 * Sealing and opening capsules. A random 32-byte content key encrypts the payload once
 * (ChaCha20-Poly1305); the content key is sealed to each recipient with HPKE (RFC 9180,
 * base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305). The header
 * (format, suite, task id, role, commitment) is the associated data of every AEAD
 * operation, so a capsule moved to another task or role, or with a changed commitment,
 * fails authentication.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { SALT_BYTES, capsuleCommitment, verifyCommitment } from "./commitment.js";
import { CapsuleError } from "./errors.js";
import { decodeCapsule, encodeCapsule, encodeHeader, NONCE_BYTES, MAX_RECIPIENTS } from "./format.js";
import type { CapsuleContext, RecipientEntry } from "./format.js";
import { capsulePublicKey, keyId, X25519_KEY_BYTES } from "./keys.js";

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
/** HPKE `info`: separates capsule key wrapping from any other use of the same keys. */
const HPKE_INFO = new TextEncoder().encode("trustmesh capsule v1 content key");
const TAG_BYTES = 16;

export interface SealParameters extends CapsuleContext {
  payload: Uint8Array;
  /** X25519 public keys (32 bytes each) of everyone allowed to open the capsule. */
  recipients: Uint8Array[];
}

export interface SealedCapsule {
  /** The serialised capsule (what goes into IPFS). */
  bytes: Uint8Array;
  /** The plaintext commitment (what the chain records beside the CID). */
  commitment: Uint8Array;
}

export interface OpenedCapsule extends CapsuleContext {
  payload: Uint8Array;
  salt: Uint8Array;
  commitment: Uint8Array;
}

export async function sealCapsule({ payload, recipients, taskId, role }: SealParameters): Promise<SealedCapsule> {
  if (recipients.length < 1 || recipients.length > MAX_RECIPIENTS) {
    throw new CapsuleError("CAPSULE_PARAMS", `a capsule has 1..${MAX_RECIPIENTS} recipients, got ${recipients.length}`);
  }
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const commitment = capsuleCommitment(salt, payload);
  const header = encodeHeader({ taskId, role }, commitment);
  const contentKey = new Uint8Array(randomBytes(32));
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));

  const cipher = createCipheriv("chacha20-poly1305", contentKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(header, { plaintextLength: SALT_BYTES + payload.length });
  const ciphertext = new Uint8Array(Buffer.concat([cipher.update(salt), cipher.update(payload), cipher.final(), cipher.getAuthTag()]));

  const entries: RecipientEntry[] = await Promise.all(
    recipients.map(async (publicKey) => {
      const id = keyId(publicKey);
      let recipientPublicKey: CryptoKey;
      try {
        recipientPublicKey = await suite.kem.deserializePublicKey(publicKey);
      } catch (cause) {
        throw new CapsuleError("CAPSULE_KEY", "a recipient public key is not a valid X25519 key", { cause });
      }
      const { ct, enc } = await suite.seal({ recipientPublicKey, info: HPKE_INFO }, contentKey, header);
      return { keyId: id, enc: new Uint8Array(enc), wrappedKey: new Uint8Array(ct) };
    }),
  );
  contentKey.fill(0);
  return { bytes: encodeCapsule({ taskId, role, commitment, recipients: entries, nonce, ciphertext, header }), commitment };
}

/**
 * Opens a capsule with one recipient's private key, checking it belongs to `expected`
 * (task id and role) and that the payload matches the commitment.
 */
export async function openCapsule(bytes: Uint8Array, privateKey: Uint8Array, expected: CapsuleContext): Promise<OpenedCapsule> {
  const capsule = decodeCapsule(bytes);
  if (capsule.taskId !== expected.taskId || capsule.role !== expected.role) {
    throw new CapsuleError("CAPSULE_CONTEXT", "the capsule belongs to another task or role", {
      metaMessages: [`capsule: task ${capsule.taskId} role ${JSON.stringify(capsule.role)}`, `expected: task ${expected.taskId} role ${JSON.stringify(expected.role)}`],
    });
  }
  const publicKey = capsulePublicKey(privateKey);
  const id = keyId(publicKey);
  const mine = capsule.recipients.filter((r) => r.keyId.every((b, i) => b === id[i]));
  if (mine.length === 0) throw new CapsuleError("CAPSULE_NOT_RECIPIENT", "this key is not a recipient of the capsule");

  let recipientKey: CryptoKey;
  try {
    recipientKey = await suite.kem.importKey("raw", toArrayBuffer(privateKey), false);
  } catch (cause) {
    throw new CapsuleError("CAPSULE_KEY", "the private key is not a valid X25519 key", { cause });
  }
  let contentKey: Uint8Array | undefined;
  for (const entry of mine) {
    try {
      contentKey = new Uint8Array(await suite.open({ recipientKey, enc: entry.enc, info: HPKE_INFO }, entry.wrappedKey, capsule.header));
      break;
    } catch {
      // another entry may share the 8-byte key id; try it before giving up
    }
  }
  if (contentKey === undefined || contentKey.length !== X25519_KEY_BYTES) {
    throw new CapsuleError("CAPSULE_DECRYPT", "the content key does not open for this recipient (tampered capsule or wrong key)");
  }

  let plain: Buffer;
  try {
    const body = capsule.ciphertext.subarray(0, capsule.ciphertext.length - TAG_BYTES);
    const tag = capsule.ciphertext.subarray(capsule.ciphertext.length - TAG_BYTES);
    const decipher = createDecipheriv("chacha20-poly1305", contentKey, capsule.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(capsule.header, { plaintextLength: body.length });
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (cause) {
    throw new CapsuleError("CAPSULE_DECRYPT", "the payload does not authenticate (tampered ciphertext or header)", { cause });
  } finally {
    contentKey.fill(0);
  }
  if (plain.length < SALT_BYTES) throw new CapsuleError("CAPSULE_MALFORMED", "decrypted payload shorter than its salt");
  const salt = new Uint8Array(plain.subarray(0, SALT_BYTES));
  const payload = new Uint8Array(plain.subarray(SALT_BYTES));
  if (!verifyCommitment(capsule.commitment, salt, payload)) {
    throw new CapsuleError("CAPSULE_COMMITMENT", "the payload does not match the capsule's commitment");
  }
  return { taskId: capsule.taskId, role: capsule.role, payload, salt, commitment: capsule.commitment };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
