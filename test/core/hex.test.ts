import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { bytesToHex as viemBytesToHex } from "viem";
import { hexDigits, hexOf } from "../../offchain/core/hex.js";
import { bytesToHex, hexToBytes } from "../../offchain/core/vrf/encoding.js";

describe("flat hex", function () {
  it("writes what viem writes, for views into larger buffers too", function () {
    for (const n of [0, 1, 20, 32, 65, 97]) {
      const backing = randomBytes(n + 7);
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 3, n);
      expect(hexOf(view)).to.equal(viemBytesToHex(view));
      expect(hexDigits(view)).to.equal(viemBytesToHex(view).slice(2));
      expect(bytesToHex(view)).to.equal(viemBytesToHex(view));
      expect(bytesToHex(view, false)).to.equal(viemBytesToHex(view).slice(2));
    }
  });

  it("reads back with or without 0x, in either case, and refuses odd or non-hex text", function () {
    const bytes = Uint8Array.from(randomBytes(33));
    expect(hexToBytes(hexOf(bytes))).to.deep.equal(bytes);
    expect(hexToBytes(hexDigits(bytes).toUpperCase())).to.deep.equal(bytes);
    expect(hexToBytes("0x")).to.deep.equal(new Uint8Array(0));
    expect(() => hexToBytes("0xabc")).to.throw(/not valid hex/);
    expect(() => hexToBytes("0xzz")).to.throw(/not valid hex/);
  });
});
