/**
 * Deploys and wires the whole TrustMesh system with viem alone (no Hardhat runtime):
 * used by the demo and the off-chain integration tests. Same contracts, constructor
 * arguments and role wiring as the Ignition module deploy/ignition/modules/TrustMesh.ts; both take their
 * knobs from deploy/params.ts.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  keccak256,
  toBytes,
  zeroAddress,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { TrustmeshError } from "../core/errors.js";
import { DEFAULT_PARAMS, type TrustMeshParams } from "../../deploy/params.js";
import {
  disputesArtifact,
  epochClockArtifact,
  imageRegistryArtifact,
  nodeRegistryArtifact,
  reputationArtifact,
  scoringPolicyArtifact,
  taskMarketArtifact,
  timelockArtifact,
  trustBoardArtifact,
  trustTokenArtifact,
} from "./artifacts.js";

export class DeployError extends TrustmeshError {
  override name = "DeployError";
}

/** Who holds GOVERNOR_ROLE: a fresh TimelockController, or an account (tests, dev chains). */
export type Governance =
  | { kind: "timelock"; proposers?: Address[]; executors?: Address[] }
  | { kind: "account"; governor: Address };

export interface DeployTrustMeshParameters {
  params?: Partial<TrustMeshParams>;
  governance?: Governance;
  /** Accounts to fund with freshly minted TrustToken (only when the token is deployed here). */
  mint?: { to: Address; amount: bigint }[];
  /** Keep the deployer's admin role (defaults: kept for an account governor, renounced for a timelock). */
  keepDeployerAdmin?: boolean;
}

export interface TrustMeshContracts {
  TrustToken: Address;
  NodeRegistry: Address;
  EpochClock: Address;
  Reputation: Address;
  ScoringPolicy: Address;
  ImageRegistry: Address;
  TrustBoard: Address;
  Disputes: Address;
  TaskMarket: Address;
  Timelock?: Address;
  VRFVerifier?: Address;
}

export interface DeployTrustMeshReturnType {
  chainId: number;
  startBlock: bigint;
  governor: Address;
  params: TrustMeshParams;
  contracts: TrustMeshContracts;
}

export const ROLES = {
  DEFAULT_ADMIN: "0x0000000000000000000000000000000000000000000000000000000000000000" as Hex,
  GOVERNOR: keccak256(toBytes("GOVERNOR_ROLE")),
  VERDICT: keccak256(toBytes("VERDICT_ROLE")),
  SLASHER: keccak256(toBytes("SLASHER_ROLE")),
  DISPUTES: keccak256(toBytes("DISPUTES_ROLE")),
  MINTER: keccak256(toBytes("MINTER_ROLE")),
} as const;

const VRF_VERIFIER_ARTIFACT = fileURLToPath(
  new URL("../../artifacts/contracts/vrf/VRFVerifier.sol/VRFVerifier.json", import.meta.url),
);

/** The ECVRF verifier's artifact when contracts/vrf has been compiled, else undefined. */
export async function loadVrfVerifierArtifact(): Promise<{ abi: Abi; bytecode: Hex } | undefined> {
  try {
    const json = JSON.parse(await readFile(VRF_VERIFIER_ARTIFACT, "utf8")) as { abi: Abi; bytecode: Hex };
    return { abi: json.abi, bytecode: json.bytecode };
  } catch {
    return undefined;
  }
}

type Wallet = WalletClient<Transport, Chain, Account>;

export async function deployTrustMesh(
  walletClient: Wallet,
  publicClient: PublicClient,
  { params: overrides = {}, governance, mint = [], keepDeployerAdmin }: DeployTrustMeshParameters = {},
): Promise<DeployTrustMeshReturnType> {
  const p: TrustMeshParams = { ...DEFAULT_PARAMS, ...overrides };
  const deployer = walletClient.account.address;
  const startBlock = await publicClient.getBlockNumber();

  const deploy = async (name: string, abi: Abi, bytecode: Hex, args: readonly unknown[]): Promise<Address> => {
    const hash = await walletClient.deployContract({ abi, bytecode, args });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success" || !receipt.contractAddress) {
      throw new DeployError("DEPLOY_FAILED", `deploying ${name} failed (tx ${hash})`);
    }
    return receipt.contractAddress;
  };
  const call = async (what: string, address: Address, abi: Abi, functionName: string, args: readonly unknown[]) => {
    const hash = await walletClient.writeContract({ address, abi, functionName, args });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new DeployError("DEPLOY_WIRING_FAILED", `${what} failed (tx ${hash})`);
  };

  const gov: Governance = governance ?? { kind: "timelock" };
  let timelock: Address | undefined;
  let governor: Address;
  if (gov.kind === "timelock") {
    timelock = await deploy("TrustMeshTimelock", timelockArtifact.abi, timelockArtifact.bytecode, [
      p.timelockDelay,
      gov.proposers ?? [deployer],
      gov.executors ?? [zeroAddress],
      zeroAddress,
    ]);
    governor = timelock;
  } else {
    governor = gov.governor;
  }

  let token: Address;
  if (p.token) {
    token = p.token;
  } else {
    token = await deploy("TrustToken", trustTokenArtifact.abi, trustTokenArtifact.bytecode, [p.tokenName, p.tokenSymbol, deployer]);
    for (const m of mint) await call("mint", token, trustTokenArtifact.abi, "mint", [m.to, m.amount]);
  }

  const c = (a: { abi: readonly unknown[] }) => a.abi as Abi;
  const registry = await deploy("NodeRegistry", c(nodeRegistryArtifact), nodeRegistryArtifact.bytecode, [
    token, p.minStake, p.unbondingDelay, deployer, governor,
  ]);
  const clock = await deploy("EpochClock", c(epochClockArtifact), epochClockArtifact.bytecode, [
    registry, p.epochDuration, p.expectedCommitteeSize, deployer, governor,
  ]);
  const policy = await deploy("ScoringPolicy", c(scoringPolicyArtifact), scoringPolicyArtifact.bytecode, [
    clock, p.initialPolicyCid, deployer, governor,
  ]);
  const reputation = await deploy("Reputation", c(reputationArtifact), reputationArtifact.bytecode, [
    p.maxScore, p.trustedGain, p.untrustedLossBps, deployer, governor,
  ]);
  const images = await deploy("ImageRegistry", c(imageRegistryArtifact), imageRegistryArtifact.bytecode, [deployer, governor]);

  let verifier = p.vrfVerifier;
  let deployedVerifier: Address | undefined;
  if (verifier === zeroAddress) {
    const art = await loadVrfVerifierArtifact();
    if (art) {
      deployedVerifier = await deploy("VRFVerifier", art.abi, art.bytecode, []);
      verifier = deployedVerifier;
    }
  }

  const board = await deploy("TrustBoard", c(trustBoardArtifact), trustBoardArtifact.bytecode, [
    registry, clock, policy, reputation, p.quorum, p.challengeWindow, p.maxRoundAge, deployer, governor,
  ]);
  const disputes = await deploy("Disputes", c(disputesArtifact), disputesArtifact.bytecode, [
    board, registry, reputation, clock, verifier,
    { slashBps: p.slashBps, rewardBps: p.rewardBps, banPeriod: p.banPeriod, windowEpochs: p.disputeWindowEpochs },
    deployer, governor,
  ]);

  // Untrusted post-run verdicts are penalised with the same slash/reward/ban knobs as disputes.
  const market = await deploy("TaskMarket", c(taskMarketArtifact), taskMarketArtifact.bytecode, [
    token, registry, clock, board, verifier,
    { slashBps: p.slashBps, rewardBps: p.rewardBps, banPeriod: p.banPeriod },
    deployer, governor,
  ]);

  const grant = (what: string, target: Address, abi: Abi, role: Hex, who: Address) =>
    call(what, target, abi, "grantRole", [role, who]);
  await grant("registry VERDICT -> board", registry, c(nodeRegistryArtifact), ROLES.VERDICT, board);
  await grant("registry SLASHER -> disputes", registry, c(nodeRegistryArtifact), ROLES.SLASHER, disputes);
  await grant("reputation VERDICT -> board", reputation, c(reputationArtifact), ROLES.VERDICT, board);
  await grant("reputation SLASHER -> disputes", reputation, c(reputationArtifact), ROLES.SLASHER, disputes);
  await grant("board DISPUTES -> disputes", board, c(trustBoardArtifact), ROLES.DISPUTES, disputes);
  await grant("registry SLASHER -> task market", registry, c(nodeRegistryArtifact), ROLES.SLASHER, market);

  const keep = keepDeployerAdmin ?? gov.kind === "account";
  if (!keep) {
    const owned: [string, Address, Abi][] = [
      ["NodeRegistry", registry, c(nodeRegistryArtifact)],
      ["EpochClock", clock, c(epochClockArtifact)],
      ["ScoringPolicy", policy, c(scoringPolicyArtifact)],
      ["Reputation", reputation, c(reputationArtifact)],
      ["ImageRegistry", images, c(imageRegistryArtifact)],
      ["TrustBoard", board, c(trustBoardArtifact)],
      ["Disputes", disputes, c(disputesArtifact)],
      ["TaskMarket", market, c(taskMarketArtifact)],
    ];
    for (const [name, address, abi] of owned) {
      await call(`${name} renounce deployer admin`, address, abi, "renounceRole", [ROLES.DEFAULT_ADMIN, deployer]);
    }
  }

  const contracts: TrustMeshContracts = {
    TrustToken: token,
    NodeRegistry: registry,
    EpochClock: clock,
    Reputation: reputation,
    ScoringPolicy: policy,
    ImageRegistry: images,
    TrustBoard: board,
    Disputes: disputes,
    TaskMarket: market,
  };
  if (timelock) contracts.Timelock = timelock;
  if (deployedVerifier) contracts.VRFVerifier = deployedVerifier;
  return { chainId: await publicClient.getChainId(), startBlock, governor, params: p, contracts };
}
