/**
 * The two implementations of raw secp256k1 ECDSA over a 32-byte digest: libsecp256k1 through
 * the `secp256k1` package's N-API build (~50 us sign, ~65 us verify or recover on this
 * machine) and @noble/curves in pure JS (~1 ms sign, ~2 ms verify), the fallback where the
 * native build cannot load. Both sign deterministically (RFC 6979) with low s, so they
 * produce the same bytes; the tests hold them to that.
 *
 * Node's own crypto (OpenSSL) was measured too and not used: it signs only after hashing
 * with a digest it knows (no keccak-256 in OpenSSL 3.0), which would change every signature
 * format the chain checks, and it was slower (~450 us sign, ~300 us verify).
 */
import { createRequire } from "node:module";
import { secp256k1 as noble } from "@noble/curves/secp256k1.js";

export interface EcdsaBackend {
  readonly name: "native" | "noble";
  /** 64-byte r||s (low s) and the recovery id; throws on an invalid secret key. */
  sign(digest: Uint8Array, secretKey: Uint8Array): { signature: Uint8Array; recovery: number };
  /** Low-s signatures only; throws on a public key that does not parse. */
  verify(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean;
  /** Uncompressed (65-byte) public key; throws when nothing recovers. */
  recover(signature: Uint8Array, recovery: number, digest: Uint8Array): Uint8Array;
  /** Re-encode a SEC1 public key; throws when it does not parse. */
  convert(publicKey: Uint8Array, compressed: boolean): Uint8Array;
  /** Throws on an invalid secret key. */
  publicKey(secretKey: Uint8Array, compressed: boolean): Uint8Array;
}

/** The part of the `secp256k1` package's API used here (it ships no types). */
export interface NativeSecp256k1 {
  ecdsaSign(message: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  ecdsaRecover(signature: Uint8Array, recid: number, message: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyConvert(publicKey: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyCreate(privateKey: Uint8Array, compressed: boolean): Uint8Array;
  /** Point arithmetic, used by the VRF (offchain/core/vrf/native.ts). */
  publicKeyTweakMul(publicKey: Uint8Array, tweak: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyCombine(publicKeys: Uint8Array[], compressed: boolean): Uint8Array;
  publicKeyVerify(publicKey: Uint8Array): boolean;
}

function nativeBackend(lib: NativeSecp256k1): EcdsaBackend {
  return {
    name: "native",
    sign(digest, secretKey) {
      const { signature, recid } = lib.ecdsaSign(digest, secretKey);
      return { signature, recovery: recid };
    },
    verify: (signature, digest, publicKey) => lib.ecdsaVerify(signature, digest, publicKey),
    recover: (signature, recovery, digest) => lib.ecdsaRecover(signature, recovery, digest, false),
    convert: (publicKey, compressed) => lib.publicKeyConvert(publicKey, compressed),
    publicKey: (secretKey, compressed) => lib.publicKeyCreate(secretKey, compressed),
  };
}

export const nobleBackend: EcdsaBackend = {
  name: "noble",
  sign(digest, secretKey) {
    const rec = noble.sign(digest, secretKey, { prehash: false, format: "recovered" });
    return { signature: rec.subarray(1), recovery: rec[0]! };
  },
  verify(signature, digest, publicKey) {
    const point = noble.Point.fromBytes(publicKey); // throws on a bad key, like the native parse
    try {
      return noble.verify(signature, digest, point.toBytes(true), { prehash: false, lowS: true });
    } catch {
      return false;
    }
  },
  recover(signature, recovery, digest) {
    const rec = new Uint8Array(65);
    rec[0] = recovery;
    rec.set(signature, 1);
    return noble.Point.fromBytes(noble.recoverPublicKey(rec, digest, { prehash: false })).toBytes(false);
  },
  convert: (publicKey, compressed) => noble.Point.fromBytes(publicKey).toBytes(compressed),
  publicKey: (secretKey, compressed) => noble.getPublicKey(secretKey, compressed),
};

function loadNativeLibrary(): NativeSecp256k1 | null {
  try {
    // bindings.js throws when no native build loads (the package's index.js would silently
    // fall back to elliptic, slower than noble); we choose the fallback ourselves.
    return createRequire(import.meta.url)("secp256k1/bindings.js") as NativeSecp256k1;
  } catch {
    return null;
  }
}

const nativeLibrary = loadNativeLibrary();

/** The native backend when it loads (tests cross-check it against noble), else null. */
export const nativeBackendOrNull: EcdsaBackend | null = nativeLibrary ? nativeBackend(nativeLibrary) : null;

/** The backend in use: native unless it cannot load or TRUSTMESH_SECP256K1=noble. */
export const defaultBackend: EcdsaBackend = process.env.TRUSTMESH_SECP256K1 === "noble" ? nobleBackend : (nativeBackendOrNull ?? nobleBackend);

/** libsecp256k1 itself where the default backend is native (same rule), for its point arithmetic; else null. */
export const nativeLibraryInUse: NativeSecp256k1 | null = defaultBackend === nobleBackend ? null : nativeLibrary;
