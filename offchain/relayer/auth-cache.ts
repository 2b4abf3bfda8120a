/**
 * PBFT message authentication with memoised verification. A replica checks each signed
 * message once per receipt, but the same message comes back inside proofs (prepared
 * certificates, view changes), and in a devnet every gateway of the process checks it.
 * Verification is a pure function of (key, bytes, signature), so its result is kept in a
 * bounded process-wide table; signing is unchanged.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Hex } from "viem";
import { secp256k1Authenticator } from "../core/pbft/index.js";

type Authenticator = ReturnType<typeof secp256k1Authenticator>;

const verified = new Map<string, boolean>();
const MAX_ENTRIES = 8192;

export function cachedSecp256k1Authenticator(secretKey: Hex, publicKeys: readonly Hex[]): Authenticator {
  const inner = secp256k1Authenticator(secretKey, publicKeys);
  return {
    sign: (bytes) => inner.sign(bytes),
    async verify(replica, bytes, sig) {
      const pk = publicKeys[replica];
      if (pk === undefined) return false;
      const key = `${pk}:${bytesToHex(keccak_256(bytes))}:${sig}`;
      const hit = verified.get(key);
      if (hit !== undefined) return hit;
      const ok = await inner.verify(replica, bytes, sig);
      if (verified.size >= MAX_ENTRIES) verified.delete(verified.keys().next().value as string);
      verified.set(key, ok);
      return ok;
    },
  };
}
