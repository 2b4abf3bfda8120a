import { expect } from "chai";
import hre from "hardhat";
import { getContract, parseAbi } from "viem";
import { committeeThreshold } from "../../offchain/core/sortition.js";

const clockAbi = parseAbi(["function thresholdFor(uint256 committeeSize, uint256 eligibleCount) pure returns (uint256)"]);

describe("sortition threshold agrees with EpochClock.thresholdFor", () => {
  it("gives the same threshold for edge and ordinary cases", async () => {
    const [wallet] = await hre.viem.getWalletClients();
    const me = wallet!.account.address;
    // The registry's token is never touched by thresholdFor; any non-zero address will do.
    const registry = await hre.viem.deployContract("NodeRegistry", [me, 1n, 1, me, me]);
    const clock = await hre.viem.deployContract("EpochClock", [registry.address, 3600n, 5n, me, me]);
    const c = getContract({ address: clock.address, abi: clockAbi, client: await hre.viem.getPublicClient() });
    const cases: [bigint, bigint][] = [
      [5n, 0n], [5n, 1n], [5n, 5n], [5n, 6n], [1n, 3n], [7n, 100n], [10n, 1000n], [0n, 9n],
      [3n, (1n << 255n) + 1n], [(1n << 200n), (1n << 201n) + 7n],
    ];
    for (const [size, eligible] of cases) {
      expect(await c.read.thresholdFor([size, eligible])).to.equal(committeeThreshold(size, eligible), `${size}/${eligible}`);
    }
  });
});
