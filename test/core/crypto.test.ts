import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { secp256k1 as noble } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { hashTypedData, recoverAddress, recoverMessageAddress, verifyTypedData, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { trustBoardDomain, voteTypes, type Vote } from "../../offchain/chain/eip712.js";
import {
  CryptoErrorCode,
  SECP256K1_N,
  addressOfPublicKey,
  addressOfSecretKey,
  defaultBackend,
  eip191Hash32,
  isCanonicalSignature,
  nativeBackendOrNull,
  nobleBackend,
  normaliseSignature,
  publicKeyFromSecret,
  recoverAddressFromHash,
  recoverDigest,
  signDigest,
  signHash,
  verifyDigest,
  type EcdsaBackend,
} from "../../offchain/core/crypto/index.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { secp256k1Authenticator, publicKeyOf, secretKeyVoteSigner, viemVoteSigner, viemVoteVerifier } from "../../offchain/core/pbft/index.js";
import { secretKeyGatewaySigner } from "../../offchain/p2p/signer.js";
import { peerBindingTypes } from "../../offchain/p2p/binding.js";
import { Verdict } from "../../offchain/core/protocol.js";

const native = nativeBackendOrNull;
const backends: EcdsaBackend[] = native === null ? [nobleBackend] : [native, nobleBackend];

function highS(sig: Uint8Array): Uint8Array {
  const s = BigInt(`0x${bytesToHex(sig.subarray(32))}`);
  const out = new Uint8Array(64);
  out.set(sig.subarray(0, 32));
  out.set(hexToBytes((SECP256K1_N - s).toString(16).padStart(64, "0")), 32);
  return out;
}

function flipBit(b: Uint8Array, i: number): Uint8Array {
  const c = Uint8Array.from(b); // a copy: Buffer#slice would be a view
  c[i] = c[i]! ^ 1;
  return c;
}

const errCode = (code: string) => (e: unknown) => isTrustmeshError(e, code);

describe("core/crypto secp256k1", () => {
  it("loads the native libsecp256k1 backend on this machine (the fast path the benchmark measures)", () => {
    expect(native, "secp256k1 N-API build did not load").to.not.equal(null);
    expect(defaultBackend.name).to.equal(process.env.TRUSTMESH_SECP256K1 === "noble" ? "noble" : "native");
  });

  it("native and noble make identical RFC 6979 signatures and each verifies the other's", () => {
    expect(native).to.not.equal(null);
    if (native === null) return;
    for (let i = 0; i < 40; i++) {
      const sk = randomBytes(32);
      const digest = randomBytes(32);
      const a = signDigest(sk, digest, native);
      const b = signDigest(sk, digest, nobleBackend);
      expect(bytesToHex(a.signature)).to.equal(bytesToHex(b.signature));
      expect(a.recovery).to.equal(b.recovery);
      // and noble's own API agrees with both
      expect(bytesToHex(noble.sign(digest, sk, { prehash: false }))).to.equal(bytesToHex(a.signature));
      const pkC = publicKeyFromSecret(sk, true, native);
      const pkU = publicKeyFromSecret(sk, false, nobleBackend);
      expect(verifyDigest(pkU, digest, a.signature, nobleBackend)).to.equal(true);
      expect(verifyDigest(pkC, digest, b.signature, native)).to.equal(true);
      expect(noble.verify(a.signature, digest, pkC, { prehash: false })).to.equal(true);
      expect(bytesToHex(recoverDigest(digest, a, nobleBackend)!)).to.equal(bytesToHex(pkU));
      expect(bytesToHex(recoverDigest(digest, b, native)!)).to.equal(bytesToHex(pkU));
    }
  });

  for (const backend of backends) {
    describe(`${backend.name} backend`, () => {
      const sk = randomBytes(32);
      const pk = publicKeyFromSecret(sk, true, backend);
      const digest = randomBytes(32);
      const sig = signDigest(sk, digest, backend);

      it("signs low s and verifies", () => {
        expect(isCanonicalSignature(sig.signature)).to.equal(true);
        expect(verifyDigest(pk, digest, sig.signature, backend)).to.equal(true);
      });

      it("rejects a wrong key, a wrong message and tampered signatures", () => {
        const other = publicKeyFromSecret(randomBytes(32), true, backend);
        expect(verifyDigest(other, digest, sig.signature, backend)).to.equal(false);
        expect(verifyDigest(pk, flipBit(digest, 5), sig.signature, backend)).to.equal(false);
        for (const i of [0, 31, 32, 63]) expect(verifyDigest(pk, digest, flipBit(sig.signature, i), backend)).to.equal(false);
        expect(verifyDigest(pk, digest, sig.signature.subarray(0, 63), backend)).to.equal(false);
        expect(verifyDigest(pk, digest, new Uint8Array(64), backend)).to.equal(false);
        expect(verifyDigest(pk, digest, new Uint8Array(64).fill(0xff), backend)).to.equal(false);
        // a different recovery id recovers some other key (or none), never the signer's
        const wrong = recoverDigest(digest, { signature: sig.signature, recovery: sig.recovery ^ 1 }, backend);
        expect(wrong === null || bytesToHex(wrong) !== bytesToHex(publicKeyFromSecret(sk, false, backend))).to.equal(true);
        expect(recoverDigest(digest, { signature: sig.signature, recovery: 2 }, backend)).to.equal(null);
      });

      it("refuses the high-s twin in verify and recover; normaliseSignature maps it back", () => {
        const twin = { signature: highS(sig.signature), recovery: sig.recovery ^ 1 };
        expect(isCanonicalSignature(twin.signature)).to.equal(false);
        // the twin is mathematically valid (noble accepts it when told to allow high s) ...
        expect(noble.verify(twin.signature, digest, pk, { prehash: false, lowS: false })).to.equal(true);
        // ... but not here, as on chain (OpenZeppelin ECDSA.recover reverts on it)
        expect(verifyDigest(pk, digest, twin.signature, backend)).to.equal(false);
        expect(recoverDigest(digest, twin, backend)).to.equal(null);
        const back = normaliseSignature(twin);
        expect(bytesToHex(back.signature)).to.equal(bytesToHex(sig.signature));
        expect(back.recovery).to.equal(sig.recovery);
        expect(normaliseSignature(sig)).to.deep.equal(sig);
      });

      it("malformed keys and digests throw typed errors; bad signatures never throw", () => {
        expect(() => verifyDigest(new Uint8Array(33), digest, sig.signature, backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidPublicKey));
        expect(() => verifyDigest(pk.subarray(0, 32), digest, sig.signature, backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidPublicKey));
        const offCurve = new Uint8Array(65);
        offCurve[0] = 4;
        offCurve[64] = 7;
        expect(() => verifyDigest(offCurve, digest, sig.signature, backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidPublicKey));
        expect(() => signDigest(new Uint8Array(32), digest, backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidSecretKey));
        expect(() => signDigest(hexToBytes(SECP256K1_N.toString(16)), digest, backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidSecretKey));
        expect(() => signDigest(sk.subarray(0, 31), digest, backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidSecretKey));
        expect(() => publicKeyFromSecret(new Uint8Array(32), true, backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidSecretKey));
        expect(() => signDigest(sk, new Uint8Array(31), backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidDigest));
        expect(() => verifyDigest(pk, new Uint8Array(33), sig.signature, backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidDigest));
        expect(() => addressOfPublicKey(new Uint8Array(33), backend)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidPublicKey));
        expect(recoverAddressFromHash(digest, new Uint8Array(64), backend)).to.equal(null);
        expect(recoverAddressFromHash(digest, "0x1234", backend)).to.equal(null);
        expect(recoverAddressFromHash(digest, "not hex" as Hex, backend)).to.equal(null);
      });
    });
  }
});

describe("core/crypto Ethereum conventions (byte-compatible with viem)", () => {
  const sk = generatePrivateKey();
  const account = privateKeyToAccount(sk);
  const skBytes = hexToBytes(sk.slice(2));

  it("addresses and signHash match viem's account", async () => {
    expect(addressOfSecretKey(skBytes)).to.equal(account.address);
    for (let i = 0; i < 10; i++) {
      const hash = `0x${bytesToHex(randomBytes(32))}` as Hex;
      const mine = signHash(skBytes, hexToBytes(hash.slice(2)));
      expect(mine).to.equal(await account.sign({ hash }));
      expect(recoverAddressFromHash(hash, mine)).to.equal(account.address);
      expect(await recoverAddress({ hash, signature: mine })).to.equal(account.address);
      // v as 0/1 is accepted too
      const v01 = `${mine.slice(0, 130)}0${Number.parseInt(mine.slice(130), 16) - 27}` as Hex;
      expect(recoverAddressFromHash(hash, v01)).to.equal(account.address);
    }
  });

  it("the secret-key gateway signer makes viem's personal_sign and typed-data signatures", async () => {
    const signer = secretKeyGatewaySigner(sk);
    expect(signer.address).to.equal(account.address);
    const digest = randomBytes(32);
    const sig = await signer.signMessage({ message: { raw: digest } });
    expect(sig).to.equal(await account.signMessage({ message: { raw: digest } }));
    expect(await recoverMessageAddress({ message: { raw: digest }, signature: sig })).to.equal(account.address);
    expect(recoverAddressFromHash(eip191Hash32(digest), sig)).to.equal(account.address);
    const binding = {
      domain: { name: "trustmesh-p2p", version: "1", chainId: 31337 },
      types: peerBindingTypes,
      primaryType: "PeerBinding" as const,
      message: { peerId: "12D3KooWtest", nodeId: 3n, chainId: 31337n, expiry: 99n },
    };
    expect(await signer.signTypedData(binding as never)).to.equal(await account.signTypedData(binding as never));
  });

  it("secretKeyVoteSigner equals viemVoteSigner; the vote verifier matches viem and refuses high s", async () => {
    const domain = trustBoardDomain(31337, "0x00000000000000000000000000000000000000b0");
    const vote: Vote = { round: 7n, node: 42n, verdict: Verdict.Trusted, score: 88, evidenceCid: "0x01551220aa", policyCid: "0x01551220bb" };
    const fast = await secretKeyVoteSigner(sk, domain).signVote(vote);
    const viemSig = await viemVoteSigner(account, domain).signVote(vote);
    expect(fast).to.equal(viemSig);
    const verifier = viemVoteVerifier(domain);
    expect(await verifier.verifyVote(vote, fast, account.address)).to.equal(true);
    expect(await verifyTypedData({ address: account.address, domain, types: voteTypes, primaryType: "Vote", message: vote, signature: fast })).to.equal(true);
    expect(await verifier.verifyVote({ ...vote, score: 89 }, fast, account.address)).to.equal(false);
    expect(await verifier.verifyVote(vote, fast, privateKeyToAccount(generatePrivateKey()).address)).to.equal(false);
    const raw = hexToBytes(fast.slice(2));
    const twin = highS(raw.subarray(0, 64));
    const twinHex = `0x${bytesToHex(twin)}${(raw[64]! === 27 ? 28 : 27).toString(16)}` as Hex;
    const hash = hashTypedData({ domain, types: voteTypes, primaryType: "Vote", message: vote });
    // viem alone would recover the signer from the high-s twin; the contract would not
    expect(await recoverAddress({ hash, signature: twinHex })).to.equal(account.address);
    expect(await verifier.verifyVote(vote, twinHex, account.address)).to.equal(false);
  });

  it("the PBFT authenticator keeps its format (64-byte r||s over keccak256) and checks keys once", async () => {
    const sks = [generatePrivateKey(), generatePrivateKey()];
    const pks = sks.map(publicKeyOf);
    const a0 = secp256k1Authenticator(sks[0]!, pks);
    const bytes = randomBytes(100);
    const sig = (await a0.sign(bytes)) as Hex;
    expect(sig).to.equal(`0x${bytesToHex(noble.sign(keccak_256(bytes), hexToBytes(sks[0]!.slice(2)), { prehash: false }))}`);
    expect(await a0.verify(0, bytes, sig)).to.equal(true);
    expect(await a0.verify(1, bytes, sig)).to.equal(false);
    expect(await a0.verify(0, flipBit(bytes, 3), sig)).to.equal(false);
    expect(await a0.verify(0, bytes, "0x12" as Hex)).to.equal(false);
    expect(await a0.verify(5, bytes, sig)).to.equal(false);
    // a malformed member key disables that member only; a malformed own key is a config error
    const withBadMember = secp256k1Authenticator(sks[0]!, [pks[0]!, "0x02deadbeef" as Hex]);
    expect(await withBadMember.verify(0, bytes, sig)).to.equal(true);
    expect(await withBadMember.verify(1, bytes, sig)).to.equal(false);
    expect(() => secp256k1Authenticator(`0x${"00".repeat(32)}` as Hex, pks)).to.throw().satisfy(errCode(CryptoErrorCode.InvalidSecretKey));
  });
});
