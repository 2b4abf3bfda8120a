/**
 * GatewayChain's node-record cache without a chain: the registry read is replaced by one
 * the test answers by hand, so the order of reads, evictions and answers is the test's.
 */
import { expect } from "chai";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { GatewayChain } from "../../offchain/relayer/chain-context.js";
import type { DeploymentFile } from "../../offchain/chain/deployment-file.js";
import { createLogger } from "../../offchain/relayer/logger.js";
import { Metrics } from "../../offchain/relayer/metrics.js";

const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as Hex;
const deployment = {
  format: "trustmesh-deployment/1",
  chainId: 31337,
  startBlock: 1,
  contracts: { NodeRegistry: addr(1), EpochClock: addr(2), TrustBoard: addr(3), ScoringPolicy: addr(4), ImageRegistry: addr(5), Disputes: addr(6), Reputation: addr(7), TrustToken: addr(8) },
} as unknown as DeploymentFile;

/** A chain client whose getNode reads wait until the test answers them, each with a status. */
function chainWithManualReads() {
  const chain = new GatewayChain("http://127.0.0.1:9", 31337, deployment, privateKeyToAccount(generatePrivateKey()), createLogger({ name: "node-cache", level: "silent" }), new Metrics());
  const pending: ((status: number) => void)[] = [];
  (chain.publicClient as { readContract: unknown }).readContract = () =>
    new Promise((resolve) =>
      pending.push((status) => resolve({ operator: addr(9), gateway: addr(10), status, tier: 1, until: 0n, stake: 0n, vrfPublicKey: [1n, 2n], identityDigest: `0x${"00".repeat(32)}` })),
    );
  /** Answers the oldest read still out, or the one at `index` in the order they were made. */
  const answer = (status: number, index = 0) => (pending.splice(index, 1)[0] as (s: number) => void)(status);
  return { chain, pending, answer };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("GatewayChain node records (cache, shared reads, evictions)", () => {
  it("callers that accept a cached copy share one read; a fresh-only caller reads anew", async () => {
    const { chain, pending, answer } = chainWithManualReads();
    const a = chain.node(1n, 10_000);
    const b = chain.node(1n, 10_000);
    const fresh = chain.node(1n, 0);
    await tick();
    expect(pending).to.have.length(2);
    answer(2);
    answer(2);
    expect((await a).status).to.equal(2);
    expect(await b).to.equal(await a);
    expect((await fresh).status).to.equal(2);
    // Cached now: no read.
    expect((await chain.node(1n, 10_000)).status).to.equal(2);
    expect(pending).to.have.length(0);
  });

  it("does not cache a read that an eviction overtook, nor share it with later callers", async () => {
    const { chain, pending, answer } = chainWithManualReads();
    const before = chain.node(1n, 10_000);
    await tick();
    // The event (say StatusChanged to 3) arrives while that read is out.
    chain.forgetNode(1n);
    const after = chain.node(1n, 10_000);
    await tick();
    expect(pending, "a caller after the eviction waits for a read of its own").to.have.length(2);
    // The new read answers first; the old one, with the status before the event, last.
    answer(3, 1);
    expect((await after).status).to.equal(3);
    answer(2);
    expect((await before).status).to.equal(2);
    expect((await chain.node(1n, 10_000)).status, "the cache holds the read made after the eviction").to.equal(3);
    expect(pending).to.have.length(0);
  });

  it("a failed read is not cached and the next caller reads again", async () => {
    const { chain, pending } = chainWithManualReads();
    let fail = true;
    const original = (chain.publicClient as unknown as { readContract: () => Promise<unknown> }).readContract;
    (chain.publicClient as { readContract: unknown }).readContract = () => (fail ? Promise.reject(new Error("RPC down")) : original());
    let err: unknown;
    await chain.node(1n, 10_000).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.equal("RPC down");
    fail = false;
    void chain.node(1n, 10_000);
    await tick();
    expect(pending).to.have.length(1);
  });
});
