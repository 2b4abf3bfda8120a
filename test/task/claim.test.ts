import { expect } from "chai";
import type { Hex } from "viem";
import { keyClaimSigner, signKeyClaim, claimShapeProblem } from "../../offchain/task/claim.js";
import { DOMAIN, makeNode } from "./fixtures.js";

describe("key claims (EIP-712, TaskMarket domain)", () => {
  const n = makeNode(5n);
  const body = { taskId: 3n, node: 5n, proof: `0x${"ab".repeat(81)}` as Hex, ephemeralKey: `0x${"cd".repeat(32)}` as Hex };

  it("recovers the gateway that signed", async () => {
    const c = await signKeyClaim(n.account, DOMAIN, body);
    expect(claimShapeProblem(c)).to.equal(null);
    expect(await keyClaimSigner(DOMAIN, c)).to.equal(n.account.address);
  });

  it("binds every field and the domain: any change recovers someone else", async () => {
    const c = await signKeyClaim(n.account, DOMAIN, body);
    const others = [
      { ...c, taskId: 4n },
      { ...c, node: 6n },
      { ...c, ephemeralKey: `0x${"ce".repeat(32)}` as Hex },
      { ...c, proof: `0x${"ac".repeat(81)}` as Hex },
    ];
    for (const o of others) expect(await keyClaimSigner(DOMAIN, o)).to.not.equal(n.account.address);
    expect(await keyClaimSigner({ ...DOMAIN, chainId: 1 }, c)).to.not.equal(n.account.address);
    expect(await keyClaimSigner({ ...DOMAIN, taskMarket: "0x00000000000000000000000000000000000000bb" }, c)).to.not.equal(n.account.address);
  });

  it("a signature that does not recover is null, not a throw", async () => {
    const c = await signKeyClaim(n.account, DOMAIN, body);
    expect(await keyClaimSigner(DOMAIN, { ...c, signature: `0x${"00".repeat(65)}` })).to.equal(null);
  });
});
