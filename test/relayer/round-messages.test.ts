import { expect } from "chai";
import { decodeRoundPayload, encodeRoundPayload } from "../../offchain/relayer/round-messages.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";

function refusal(bytes: Uint8Array): string {
  try {
    decodeRoundPayload(bytes);
  } catch (e) {
    expect(isTrustmeshError(e), String(e)).to.equal(true);
    return (e as Error).message;
  }
  throw new Error("payload accepted");
}

const json = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));

describe("round messages", () => {
  it("a decline round-trips and carries nothing but its target", () => {
    const decoded = decodeRoundPayload(encodeRoundPayload({ kind: "decline", target: "5" }));
    expect(decoded).to.deep.equal({ kind: "decline", target: "5" });
    // Extra fields are not carried over into the decoded payload.
    expect(decodeRoundPayload(json({ kind: "decline", target: "5", proof: "0x00" }))).to.deep.equal({ kind: "decline", target: "5" });
  });

  it("refuses a decline without a decimal node id, and unknown kinds", () => {
    expect(refusal(json({ kind: "decline" }))).to.match(/target must be a decimal node id/);
    expect(refusal(json({ kind: "decline", target: "0x05" }))).to.match(/target must be a decimal node id/);
    expect(refusal(json({ kind: "declined", target: "5" }))).to.match(/unknown payload kind/);
    expect(refusal(new Uint8Array([0xff, 0xfe]))).to.match(/not UTF-8 JSON/);
  });
});
