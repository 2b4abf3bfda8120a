import { expect } from "chai";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { hexToBytes, type Address, type Hex } from "viem";
import { EquivocationWatch } from "../../offchain/relayer/equivocation.js";
import type { GatewayChain } from "../../offchain/relayer/chain-context.js";
import { createLogger } from "../../offchain/relayer/logger.js";
import { Metrics } from "../../offchain/relayer/metrics.js";
import { trustBoardDomain, type Vote } from "../../offchain/chain/eip712.js";
import { voteTypedHash } from "../../offchain/chain/typed-hash.js";
import { signHash } from "../../offchain/core/crypto/index.js";
import { encodeRoundId } from "../../offchain/core/protocol.js";

const CHAIN_ID = 31337;
const BOARD = "0x00000000000000000000000000000000000000b0" as Address;

describe("EquivocationWatch", function () {
  const secret = generatePrivateKey();
  const signer = privateKeyToAccount(secret).address;
  const sign = (vote: Vote): Hex => signHash(hexToBytes(secret), hexToBytes(voteTypedHash(trustBoardDomain(CHAIN_ID, BOARD), vote)));
  const vote = (epoch: bigint, score: number): Vote => ({
    round: encodeRoundId({ epoch, node: 3n, sequence: 1n }),
    node: 3n,
    verdict: 1,
    score,
    evidenceCid: "0x01",
    policyCid: "0x02",
  });

  function watch(floor: { epoch: bigint }) {
    const disputes: { a: Vote; b: Vote; opening: { signers: Address[] } }[] = [];
    const chain = {
      chainId: CHAIN_ID,
      addresses: { board: BOARD },
      disputeEquivocation: async (a: Vote, _sa: Hex, b: Vote, _sb: Hex, opening: { signers: Address[] }) => {
        disputes.push({ a, b, opening });
        return "0xtx";
      },
    } as unknown as GatewayChain;
    const metrics = new Metrics();
    const w = new EquivocationWatch(chain, createLogger({ name: "equivocation", level: "silent" }), metrics, () => floor.epoch);
    return { w, disputes, metrics };
  }

  it("disputes two different votes of one signer for one round, once, with the round's opening", async () => {
    const { w, disputes, metrics } = watch({ epoch: 0n });
    const a = vote(5n, 90);
    const b = vote(5n, 10);
    w.recordOpening(a.round, { signers: [signer], vrfOutputs: ["0x03"] });
    await w.observe(a, sign(a));
    await w.observe(a, sign(a));
    expect(disputes).to.have.length(0);
    await w.observe(b, sign(b));
    await w.observe(b, sign(b));
    expect(disputes).to.have.length(1);
    expect(disputes[0]?.a.score).to.equal(90);
    expect(disputes[0]?.b.score).to.equal(10);
    expect(disputes[0]?.opening.signers).to.deep.equal([signer]);
    expect(metrics.get("disputes_filed")).to.equal(1);
  });

  it("forgets the rounds below the floor (TrustBoard no longer records them) and ignores votes there", async () => {
    const floor = { epoch: 0n };
    const { w, disputes } = watch(floor);
    const old = vote(4n, 90);
    const recent = vote(7n, 90);
    w.recordOpening(old.round, { signers: [signer], vrfOutputs: ["0x03"] });
    await w.observe(old, sign(old));
    await w.observe(recent, sign(recent));
    expect(w.roundsRemembered).to.equal(2);
    floor.epoch = 5n;
    const oldConflict = vote(4n, 10);
    await w.observe(oldConflict, sign(oldConflict));
    expect(disputes).to.have.length(0);
    expect(w.roundsRemembered).to.equal(1);
    w.recordOpening(old.round, { signers: [signer], vrfOutputs: ["0x03"] });
    expect(w.roundsRemembered).to.equal(1);
    // Rounds at the floor and above are still watched.
    const recentConflict = vote(7n, 10);
    await w.observe(recentConflict, sign(recentConflict));
    expect(disputes).to.have.length(1);
  });
});
