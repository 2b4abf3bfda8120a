import { expect } from "chai";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import {
  decryptKeystore,
  encryptKeystore,
  KeystoreErrorCode,
  LIGHT_SCRYPT,
  parseKeystore,
  readKeystoreFile,
  writeKeystoreFile,
} from "../../offchain/chain/keystore.js";
import { loadSigner } from "../../offchain/chain/signers.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("keystore (Web3 Secret Storage v3)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tm-ks-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips a key through encrypt, file and decrypt", async () => {
    const key = generatePrivateKey();
    const ks = await encryptKeystore({ privateKey: key, password: "correct horse", kdf: LIGHT_SCRYPT });
    expect(ks.version).to.equal(3);
    expect(ks.crypto.kdf).to.equal("scrypt");
    expect(ks.crypto.cipher).to.equal("aes-128-ctr");
    expect(ks.address).to.equal(privateKeyToAddress(key).slice(2).toLowerCase());
    const file = join(dir, "rt.json");
    await writeKeystoreFile(file, ks);
    expect(await readFile(file, "utf8")).not.to.contain(key.slice(2));
    expect(await decryptKeystore(await readKeystoreFile(file), "correct horse")).to.equal(key);
  });

  it("rejects a wrong password with a typed error and no key material", async () => {
    const key = generatePrivateKey();
    const ks = await encryptKeystore({ privateKey: key, password: "right", kdf: LIGHT_SCRYPT });
    const e = await rejects(decryptKeystore(ks, "wrong"));
    expect(isTrustmeshError(e, KeystoreErrorCode.WrongPassword)).to.equal(true);
    expect(String((e as Error).message)).not.to.contain(key.slice(2));
  });

  it("detects a tampered ciphertext as a MAC failure", async () => {
    const ks = await encryptKeystore({ privateKey: generatePrivateKey(), password: "pw", kdf: LIGHT_SCRYPT });
    const flipped = (parseInt(ks.crypto.ciphertext[0]!, 16) ^ 1).toString(16) + ks.crypto.ciphertext.slice(1);
    const e = await rejects(decryptKeystore({ ...ks, crypto: { ...ks.crypto, ciphertext: flipped } }, "pw"));
    expect(isTrustmeshError(e, KeystoreErrorCode.WrongPassword)).to.equal(true);
  });

  it("handles scrypt parameters OpenSSL refuses (r=1, n=2^16) through the pure-JS fallback", async () => {
    // Such files exist (the spec's own scrypt example uses r=1); node:crypto rejects N >= 2^(16r).
    const key = generatePrivateKey();
    const ks = await encryptKeystore({ privateKey: key, password: "pw", kdf: { kdf: "scrypt", n: 1 << 16, r: 1, p: 1 } });
    expect(ks.crypto.kdfparams).to.include({ n: 65536, r: 1, p: 1 });
    expect(await decryptKeystore(ks, "pw")).to.equal(key);
  });

  it("decrypts the Web3 Secret Storage pbkdf2 test vector", async () => {
    const vector = {
      crypto: {
        cipher: "aes-128-ctr",
        cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
        ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
        kdf: "pbkdf2",
        kdfparams: { c: 262144, dklen: 32, prf: "hmac-sha256", salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd" },
        mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
      },
      id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
      version: 3,
    };
    expect(await decryptKeystore(parseKeystore(vector), "testpassword")).to.equal("0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d");
  });

  it("rejects files that are not v3 keystores", async () => {
    const e = await rejects(Promise.resolve().then(() => parseKeystore({ version: 1 })));
    expect(isTrustmeshError(e, KeystoreErrorCode.Unsupported)).to.equal(true);
    const f = join(dir, "junk.json");
    await writeFile(f, "not json");
    expect(isTrustmeshError(await rejects(readKeystoreFile(f)), KeystoreErrorCode.BadFormat)).to.equal(true);
  });

  it("loads signers from a keystore and from an environment variable", async () => {
    const key = generatePrivateKey();
    const file = join(dir, "signer.json");
    await writeKeystoreFile(file, await encryptKeystore({ privateKey: key, password: "pw", kdf: LIGHT_SCRYPT }));
    const a = await loadSigner({ kind: "keystore", path: file, password: "pw" });
    expect(a.address).to.equal(privateKeyToAddress(key));
    const b = await loadSigner({ kind: "env", variable: "TM_TEST_KEY", env: { TM_TEST_KEY: key } });
    expect(b.address).to.equal(privateKeyToAddress(key));
    const e = await rejects(loadSigner({ kind: "env", variable: "TM_TEST_KEY", env: { TM_TEST_KEY: "0x1234" } }));
    expect(isTrustmeshError(e, "SIGNER_BAD_KEY")).to.equal(true);
    expect((e as Error).message).not.to.contain("1234");
  });
});
