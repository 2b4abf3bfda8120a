/**
 * Capsule wire format, version 1 (documented in ./FORMAT.md). Pure encode/decode: no
 * crypto here beyond layout. All integers are big-endian.
 *
 *   "TMCP" | version u8 | kem u16 | kdf u16 | aead u16 | taskId 32 | roleLen u8 | role
 *   | commitment 32                                   <- end of the header (the AAD)
 *   | n u8 | n x (keyId 8 | enc 32 | wrappedKey 48)   <- one HPKE seal per recipient
 *   | nonce 12 | ctLen u32 | ciphertext ctLen
 */
import { CapsuleError } from "./errors.js";
import { KEY_ID_BYTES } from "./keys.js";
import { hexOf } from "../hex.js";

export const CAPSULE_MAGIC = new Uint8Array([0x54, 0x4d, 0x43, 0x50]); // "TMCP"
export const CAPSULE_VERSION = 1;
/** RFC 9180 identifiers: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305. */
export const SUITE = { kem: 0x0020, kdf: 0x0001, aead: 0x0003 } as const;
export const ENC_BYTES = 32;
/** The 32-byte content key sealed by HPKE, plus its 16-byte Poly1305 tag. */
export const WRAPPED_KEY_BYTES = 48;
export const NONCE_BYTES = 12;
export const MAX_ROLE_BYTES = 64;
export const MAX_RECIPIENTS = 255;
const U256_MAX = (1n << 256n) - 1n;

export interface CapsuleContext {
  /** The task (uint256, as TaskMarket numbers it) the capsule belongs to. */
  taskId: bigint;
  /** Its role in the task, e.g. "input" or "result" (1..64 bytes of UTF-8). */
  role: string;
}

export interface RecipientEntry {
  keyId: Uint8Array;
  enc: Uint8Array;
  wrappedKey: Uint8Array;
}

export interface Capsule extends CapsuleContext {
  version: number;
  /** sha256 commitment to the plaintext (see commitment.ts); what the chain records. */
  commitment: Uint8Array;
  recipients: RecipientEntry[];
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  /** The header bytes exactly as serialised: the AEAD associated data. */
  header: Uint8Array;
}

/** The header bytes for a context and commitment: bound into every AEAD operation. */
export function encodeHeader(ctx: CapsuleContext, commitment: Uint8Array): Uint8Array {
  const role = roleBytes(ctx.role);
  if (ctx.taskId < 0n || ctx.taskId > U256_MAX) throw new CapsuleError("CAPSULE_PARAMS", "taskId must fit in uint256");
  if (commitment.length !== 32) throw new CapsuleError("CAPSULE_PARAMS", "commitment must be 32 bytes");
  const out = new Uint8Array(4 + 1 + 6 + 32 + 1 + role.length + 32);
  const view = new DataView(out.buffer);
  out.set(CAPSULE_MAGIC, 0);
  out[4] = CAPSULE_VERSION;
  view.setUint16(5, SUITE.kem);
  view.setUint16(7, SUITE.kdf);
  view.setUint16(9, SUITE.aead);
  out.set(u256(ctx.taskId), 11);
  out[43] = role.length;
  out.set(role, 44);
  out.set(commitment, 44 + role.length);
  return out;
}

export function encodeCapsule(c: Omit<Capsule, "version">): Uint8Array {
  if (c.recipients.length < 1 || c.recipients.length > MAX_RECIPIENTS) {
    throw new CapsuleError("CAPSULE_PARAMS", `a capsule has 1..${MAX_RECIPIENTS} recipients`);
  }
  const entry = KEY_ID_BYTES + ENC_BYTES + WRAPPED_KEY_BYTES;
  const out = new Uint8Array(c.header.length + 1 + c.recipients.length * entry + NONCE_BYTES + 4 + c.ciphertext.length);
  let at = 0;
  out.set(c.header, at);
  at += c.header.length;
  out[at++] = c.recipients.length;
  for (const r of c.recipients) {
    out.set(r.keyId, at);
    out.set(r.enc, at + KEY_ID_BYTES);
    out.set(r.wrappedKey, at + KEY_ID_BYTES + ENC_BYTES);
    at += entry;
  }
  out.set(c.nonce, at);
  at += NONCE_BYTES;
  new DataView(out.buffer).setUint32(at, c.ciphertext.length);
  out.set(c.ciphertext, at + 4);
  return out;
}

export function decodeCapsule(bytes: Uint8Array): Capsule {
  const r = new Reader(bytes);
  const magic = r.take(4);
  if (!CAPSULE_MAGIC.every((b, i) => magic[i] === b)) throw malformed("bad magic (not a trustmesh capsule)");
  const version = r.u8();
  if (version !== CAPSULE_VERSION) throw new CapsuleError("CAPSULE_VERSION", `capsule format version ${version} is not supported (want ${CAPSULE_VERSION})`);
  const kem = r.u16();
  const kdf = r.u16();
  const aead = r.u16();
  if (kem !== SUITE.kem || kdf !== SUITE.kdf || aead !== SUITE.aead) {
    throw new CapsuleError("CAPSULE_SUITE", `HPKE suite kem=0x${kem.toString(16)} kdf=0x${kdf.toString(16)} aead=0x${aead.toString(16)} is not supported`);
  }
  const taskId = BigInt(hexOf(r.take(32)));
  const roleLen = r.u8();
  if (roleLen < 1 || roleLen > MAX_ROLE_BYTES) throw malformed(`role length ${roleLen}`);
  let role: string;
  try {
    role = new TextDecoder("utf-8", { fatal: true }).decode(r.take(roleLen));
  } catch {
    throw malformed("role is not UTF-8");
  }
  const commitment = r.take(32);
  const header = bytes.slice(0, r.at);
  const n = r.u8();
  if (n < 1) throw malformed("no recipients");
  const recipients: RecipientEntry[] = [];
  for (let i = 0; i < n; i++) {
    recipients.push({ keyId: r.take(KEY_ID_BYTES), enc: r.take(ENC_BYTES), wrappedKey: r.take(WRAPPED_KEY_BYTES) });
  }
  const nonce = r.take(NONCE_BYTES);
  const ctLen = r.u32();
  if (ctLen < 16) throw malformed("ciphertext shorter than its tag");
  const ciphertext = r.take(ctLen);
  if (r.at !== bytes.length) throw malformed(`${bytes.length - r.at} trailing bytes`);
  return { version, taskId, role, commitment, recipients, nonce, ciphertext, header };
}

export function roleBytes(role: string): Uint8Array {
  const b = new TextEncoder().encode(role);
  if (b.length < 1 || b.length > MAX_ROLE_BYTES) throw new CapsuleError("CAPSULE_PARAMS", `role must be 1..${MAX_ROLE_BYTES} bytes of UTF-8`);
  return b;
}

function u256(v: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(v.toString(16).padStart(64, "0"), "hex"));
}

function malformed(why: string): CapsuleError {
  return new CapsuleError("CAPSULE_MALFORMED", `malformed capsule: ${why}`);
}

class Reader {
  at = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number): void {
    if (this.at + n > this.bytes.length) throw malformed(`truncated at byte ${this.at} (need ${n} more)`);
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.at++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }
}
