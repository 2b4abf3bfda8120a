import type { HardhatUserConfig } from "hardhat/config";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import "@nomicfoundation/hardhat-toolbox-viem";
import { createRequire } from "node:module";

const require_ = createRequire(__filename);
const SOLC_VERSION = "0.8.28";

// The compiler comes from the pinned npm `solc` package: no download, ever.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD).setAction(async (args: { solcVersion: string }) => {
  const solcPkg = require_("solc/package.json") as { version: string };
  if (args.solcVersion !== solcPkg.version) {
    throw new Error(`solc ${args.solcVersion} requested but the pinned npm solc is ${solcPkg.version}`);
  }
  const solc = require_("solc") as { version(): string };
  return {
    compilerPath: require_.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: solcPkg.version,
    longVersion: solc.version(),
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun", viaIR: false },
  },
  paths: { sources: "./contracts", tests: "./test/contracts", cache: "./cache", artifacts: "./artifacts", ignition: "./deploy/ignition" },
  networks: {
    // Blocks may share a second: the devnet mines many transactions per second and its
    // chain time must stay on the wall clock (attestation schedules are in chain time).
    hardhat: { chainId: 31337, allowBlocksWithSameTimestamp: true },
    localhost: { url: "http://127.0.0.1:8545" },
    remote: {
      url: process.env.TRUSTMESH_RPC_URL ?? "http://127.0.0.1:8545",
      accounts: process.env.TRUSTMESH_DEPLOYER_KEY ? [process.env.TRUSTMESH_DEPLOYER_KEY] : [],
    },
  },
  gasReporter: { enabled: process.env.REPORT_GAS === "1", offline: true },
  mocha: { timeout: 120_000 },
};

export default config;
