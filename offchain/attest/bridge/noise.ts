/**
 * Noise_XX_25519_ChaChaPoly_SHA256 (Noise Protocol Framework rev. 34), both sides holding
 * static X25519 keys that the other side pins.
 *
 * Why Noise and not TLS 1.3: both ends are configured with raw 32-byte keys (the gateway
 * registers its key; the agent's key is provisioned into the boot image), so X.509
 * certificates would be ceremony around a pinned key; XX hides both static keys from
 * passive observers and authenticates both; the final handshake hash `h` is a channel
 * binding for free (the attested-TLS role of exported keying material); and rekeying is a
 * defined one-liner (REKEY). The whole handshake is ~150 lines over @noble/curves X25519
 * and node:crypto's ChaCha20-Poly1305, SHA-256, HMAC.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { BridgeError } from "./errors.js";

const PROTOCOL_NAME = Buffer.from("Noise_XX_25519_ChaChaPoly_SHA256", "latin1"); // exactly 32 bytes = HASHLEN
const DHLEN = 32;
const TAGLEN = 16;
const MAX_NONCE = (1n << 64n) - 1n;

export interface StaticKeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export function generateStaticKey(): StaticKeyPair {
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

export function staticKeyFromSecret(secretKey: Uint8Array): StaticKeyPair {
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

function dh(sk: Uint8Array, pk: Uint8Array): Buffer {
  try {
    return Buffer.from(x25519.getSharedSecret(sk, pk));
  } catch (cause) {
    throw new BridgeError("HANDSHAKE_FAILED", "invalid X25519 public key", { cause });
  }
}

function hkdf(ck: Buffer, ikm: Uint8Array): [Buffer, Buffer] {
  const temp = createHmac("sha256", ck).update(ikm).digest();
  const o1 = createHmac("sha256", temp).update(Buffer.from([1])).digest();
  const o2 = createHmac("sha256", temp).update(o1).update(Buffer.from([2])).digest();
  return [o1, o2];
}

function nonce12(n: bigint): Buffer {
  const b = Buffer.alloc(12);
  b.writeBigUInt64LE(n, 4);
  return b;
}

function aeadEncrypt(k: Buffer, n: bigint, ad: Uint8Array, plaintext: Uint8Array): Buffer {
  const c = createCipheriv("chacha20-poly1305", k, nonce12(n), { authTagLength: TAGLEN });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

function aeadDecrypt(k: Buffer, n: bigint, ad: Uint8Array, ciphertext: Uint8Array): Buffer {
  if (ciphertext.length < TAGLEN) throw new BridgeError("DECRYPT_FAILED", "ciphertext shorter than its tag");
  const body = ciphertext.subarray(0, ciphertext.length - TAGLEN);
  const d = createDecipheriv("chacha20-poly1305", k, nonce12(n), { authTagLength: TAGLEN });
  d.setAAD(ad, { plaintextLength: body.length });
  d.setAuthTag(ciphertext.subarray(ciphertext.length - TAGLEN));
  try {
    return Buffer.concat([d.update(body), d.final()]);
  } catch (cause) {
    throw new BridgeError("DECRYPT_FAILED", "message failed authentication", { cause });
  }
}

/** One direction of a transport: key, counter nonce, REKEY. */
export class CipherState {
  private n = 0n;
  constructor(private k: Buffer | undefined) {}

  get hasKey(): boolean {
    return this.k !== undefined;
  }

  encrypt(ad: Uint8Array, plaintext: Uint8Array): Buffer {
    if (!this.k) return Buffer.from(plaintext);
    if (this.n >= MAX_NONCE) throw new BridgeError("DECRYPT_FAILED", "nonce space exhausted; rekey or reconnect");
    const out = aeadEncrypt(this.k, this.n, ad, plaintext);
    this.n++;
    return out;
  }

  decrypt(ad: Uint8Array, ciphertext: Uint8Array): Buffer {
    if (!this.k) return Buffer.from(ciphertext);
    const out = aeadDecrypt(this.k, this.n, ad, ciphertext);
    this.n++;
    return out;
  }

  /** REKEY(k) = ENCRYPT(k, 2^64-1, empty, 32 zero bytes)[0:32]; the counter continues. */
  rekey(): void {
    if (!this.k) return;
    this.k = aeadEncrypt(this.k, MAX_NONCE, new Uint8Array(0), Buffer.alloc(32)).subarray(0, 32);
  }
}

class SymmetricState {
  ck: Buffer;
  h: Buffer;
  cipher = new CipherState(undefined);

  constructor(prologue: Uint8Array) {
    this.h = Buffer.from(PROTOCOL_NAME);
    this.ck = Buffer.from(this.h);
    this.mixHash(prologue);
  }

  mixHash(data: Uint8Array): void {
    this.h = createHash("sha256").update(this.h).update(data).digest();
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf(this.ck, ikm);
    this.ck = ck;
    this.cipher = new CipherState(k);
  }

  encryptAndHash(p: Uint8Array): Buffer {
    const c = this.cipher.encrypt(this.h, p);
    this.mixHash(c);
    return c;
  }

  decryptAndHash(c: Uint8Array): Buffer {
    const p = this.cipher.decrypt(this.h, c);
    this.mixHash(c);
    return p;
  }

  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.ck, new Uint8Array(0));
    return [new CipherState(k1), new CipherState(k2)];
  }
}

export interface HandshakeResult {
  send: CipherState;
  recv: CipherState;
  /** Final handshake hash: the channel binding. */
  handshakeHash: Buffer;
  remoteStatic: Buffer;
}

/**
 * XX:  -> e
 *      <- e, ee, s, es
 *      -> s, se
 * Used as a step machine: `writeMessage`/`readMessage` in the pattern's order.
 */
export class XXHandshake {
  private readonly ss: SymmetricState;
  private readonly e: StaticKeyPair;
  private re: Buffer | undefined;
  private rs: Buffer | undefined;
  private step = 0;

  constructor(
    readonly initiator: boolean,
    private readonly s: StaticKeyPair,
    prologue: Uint8Array,
    ephemeral?: StaticKeyPair,
  ) {
    this.ss = new SymmetricState(prologue);
    this.e = ephemeral ?? generateStaticKey();
  }

  private expect(initiatorWrites: boolean, step: number, writing: boolean): void {
    const mine = writing ? this.initiator === initiatorWrites : this.initiator !== initiatorWrites;
    if (this.step !== step || !mine) throw new BridgeError("HANDSHAKE_FAILED", `handshake message out of order (step ${this.step})`);
  }

  private need(): { re: Buffer; rs: Buffer } {
    if (!this.re || !this.rs) throw new BridgeError("HANDSHAKE_FAILED", "handshake state incomplete");
    return { re: this.re, rs: this.rs };
  }

  /** Writes the next handshake message (payload may be empty). */
  writeMessage(payload: Uint8Array = new Uint8Array(0)): Buffer {
    const ss = this.ss;
    if (this.step === 0) {
      this.expect(true, 0, true);
      ss.mixHash(this.e.publicKey);
      const out = Buffer.concat([Buffer.from(this.e.publicKey), ss.encryptAndHash(payload)]);
      this.step = 1;
      return out;
    }
    if (this.step === 1) {
      this.expect(false, 1, true);
      if (!this.re) throw new BridgeError("HANDSHAKE_FAILED", "no remote ephemeral");
      ss.mixHash(this.e.publicKey);
      ss.mixKey(dh(this.e.secretKey, this.re));
      const encS = ss.encryptAndHash(this.s.publicKey);
      ss.mixKey(dh(this.s.secretKey, this.re));
      const out = Buffer.concat([Buffer.from(this.e.publicKey), encS, ss.encryptAndHash(payload)]);
      this.step = 2;
      return out;
    }
    this.expect(true, 2, true);
    const { re } = this.need();
    const encS = ss.encryptAndHash(this.s.publicKey);
    ss.mixKey(dh(this.s.secretKey, re));
    const out = Buffer.concat([encS, ss.encryptAndHash(payload)]);
    this.step = 3;
    return out;
  }

  /** Reads the next handshake message; returns its payload. */
  readMessage(msg: Uint8Array): Buffer {
    const ss = this.ss;
    const m = Buffer.from(msg);
    if (this.step === 0) {
      this.expect(true, 0, false);
      if (m.length < DHLEN) throw new BridgeError("HANDSHAKE_FAILED", "handshake message 1 too short");
      this.re = m.subarray(0, DHLEN);
      ss.mixHash(this.re);
      const p = ss.decryptAndHash(m.subarray(DHLEN));
      this.step = 1;
      return p;
    }
    if (this.step === 1) {
      this.expect(false, 1, false);
      if (m.length < DHLEN + DHLEN + TAGLEN) throw new BridgeError("HANDSHAKE_FAILED", "handshake message 2 too short");
      this.re = m.subarray(0, DHLEN);
      ss.mixHash(this.re);
      ss.mixKey(dh(this.e.secretKey, this.re));
      this.rs = ss.decryptAndHash(m.subarray(DHLEN, DHLEN * 2 + TAGLEN));
      ss.mixKey(dh(this.e.secretKey, this.rs));
      const p = ss.decryptAndHash(m.subarray(DHLEN * 2 + TAGLEN));
      this.step = 2;
      return p;
    }
    this.expect(true, 2, false);
    if (m.length < DHLEN + TAGLEN) throw new BridgeError("HANDSHAKE_FAILED", "handshake message 3 too short");
    this.rs = ss.decryptAndHash(m.subarray(0, DHLEN + TAGLEN));
    ss.mixKey(dh(this.e.secretKey, this.rs));
    const p = ss.decryptAndHash(m.subarray(DHLEN + TAGLEN));
    this.step = 3;
    return p;
  }

  get complete(): boolean {
    return this.step === 3;
  }

  finish(): HandshakeResult {
    if (!this.complete) throw new BridgeError("HANDSHAKE_FAILED", "handshake not complete");
    const { rs } = this.need();
    const [c1, c2] = this.ss.split();
    return this.initiator
      ? { send: c1, recv: c2, handshakeHash: this.ss.h, remoteStatic: rs }
      : { send: c2, recv: c1, handshakeHash: this.ss.h, remoteStatic: rs };
  }
}
