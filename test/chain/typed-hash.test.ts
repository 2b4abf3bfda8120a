import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { getAddress, hashTypedData, recoverTypedDataAddress, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { trustBoardDomain, voteTypes, vrfClaimTypes, type Vote } from "../../offchain/chain/eip712.js";
import { TypedDataError, voteTypedHash, vrfClaimTypedHash } from "../../offchain/chain/typed-hash.js";
import { claimSigner, signVrfClaim } from "../../offchain/relayer/vrf-claims.js";

const hex = (n: number): Hex => `0x${randomBytes(n).toString("hex")}`;
const randomUint = (bits: number): bigint => BigInt(hex(Math.ceil(bits / 8))) & ((1n << BigInt(bits)) - 1n);
const randomAddress = (): Address => getAddress(hex(20));

function randomVote(): Vote {
  return {
    round: randomUint(256),
    node: randomUint(64),
    verdict: Number(randomUint(8)),
    score: Number(randomUint(8)),
    // Lengths 0..99: the empty byte string and ones across keccak's 136-byte block are covered by the extremes below.
    evidenceCid: hex(Math.floor(Math.random() * 100)),
    policyCid: hex(Math.floor(Math.random() * 300)),
  };
}

describe("EIP-712 digests of Vote and VrfClaim (typed-hash.ts)", () => {
  it("equal viem's hashTypedData for random votes, claims and domains", () => {
    for (let i = 0; i < 200; i++) {
      const domain = i % 2 === 0 ? trustBoardDomain(Number(randomUint(32)), randomAddress()) : { name: `test ${i}`, version: String(i), chainId: randomUint(256), verifyingContract: randomAddress() };
      const vote = randomVote();
      expect(voteTypedHash(domain, vote), `vote ${i}`).to.equal(hashTypedData({ domain, types: voteTypes, primaryType: "Vote", message: vote }));
      const claim = { round: randomUint(256), role: Number(randomUint(8)), proof: hex(81) };
      expect(vrfClaimTypedHash(domain, claim), `claim ${i}`).to.equal(hashTypedData({ domain, types: vrfClaimTypes, primaryType: "VrfClaim", message: claim }));
    }
  });

  it("equal viem's at the edges: empty and block-sized bytes, zero and maximal integers", () => {
    const domain = trustBoardDomain(31337, randomAddress());
    for (const [evidenceLen, max] of [
      [0, false],
      [136, true],
      [137, false],
      [1000, true],
    ] as const) {
      const vote: Vote = { round: max ? 2n ** 256n - 1n : 0n, node: max ? 2n ** 64n - 1n : 0n, verdict: max ? 255 : 0, score: max ? 255 : 0, evidenceCid: hex(evidenceLen), policyCid: "0x" };
      expect(voteTypedHash(domain, vote)).to.equal(hashTypedData({ domain, types: voteTypes, primaryType: "Vote", message: vote }));
    }
  });

  it("refuses values outside their types with a TypedDataError", () => {
    const domain = trustBoardDomain(1, randomAddress());
    const good = randomVote();
    const bad: [string, Partial<Record<keyof Vote, unknown>>][] = [
      ["uint64 overflow", { node: 2n ** 64n }],
      ["negative", { round: -1n }],
      ["uint8 overflow", { score: 256 }],
      ["fraction", { verdict: 1.5 }],
      ["odd hex", { evidenceCid: "0xabc" }],
      ["no 0x", { policyCid: "abcd" }],
      ["not a string", { evidenceCid: 7 }],
    ];
    for (const [what, change] of bad) {
      expect(() => voteTypedHash(domain, { ...good, ...change } as Vote), what).to.throw(TypedDataError);
    }
    expect(() => voteTypedHash({ ...domain, verifyingContract: "0x1234" as Address }, good)).to.throw(TypedDataError, "verifyingContract");
  });

  it("signVrfClaim makes the signature viem makes, and claimSigner recovers its address", async () => {
    const secret = generatePrivateKey();
    const account = privateKeyToAccount(secret);
    const ctx = { chainId: 31337, board: randomAddress() };
    const proof = hex(81);
    const ours = signVrfClaim(secret, ctx, 42n, proof);
    const domain = trustBoardDomain(ctx.chainId, ctx.board);
    const message = { round: 42n, role: 1, proof };
    expect(ours).to.equal(await account.signTypedData({ domain, types: vrfClaimTypes, primaryType: "VrfClaim", message }));
    expect(await recoverTypedDataAddress({ domain, types: vrfClaimTypes, primaryType: "VrfClaim", message, signature: ours })).to.equal(account.address);
    expect(await claimSigner(ctx, 42n, proof, ours)).to.equal(account.address);
    expect(await claimSigner(ctx, 43n, proof, ours)).to.not.equal(account.address);
  });
});
