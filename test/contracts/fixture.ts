/// <reference types="chai-as-promised" />
/**
 * Shared fixture for the contract suites and the gas bench: deploys the system through
 * offchain/chain/deploy.ts (so the viem deployer is exercised on every run) with an EOA
 * governor, funds operators, and offers helpers to register nodes and sign votes with viem
 * local accounts.
 */
import hre from "hardhat";
import { expect } from "chai";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  createWalletClient,
  custom,
  keccak256,
  parseEther,
  toBytes,
  toHex,
  parseEventLogs,
  parseSignature,
  getContract,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { deployTrustMesh } from "../../offchain/chain/deploy.js";
import { trustTokenAbi } from "../../offchain/chain/artifacts.js";
import { permitTypes } from "../../offchain/chain/permit.js";
import { DEFAULT_POLICY_CID, type TrustMeshParams } from "../../deploy/params.js";
import { trustBoardDomain, voteTypes, vrfClaimTypes, type Vote, type VrfClaim } from "../../offchain/chain/eip712.js";
import { encodeRoundId } from "../../offchain/core/protocol.js";

export const POLICY_CID: Hex = DEFAULT_POLICY_CID;
export const OTHER_CID: Hex = "0x01551220aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
export const EVIDENCE_CID: Hex = "0x01551220bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
export const METADATA_CID: Hex = "0x01551220cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
export const MIN_STAKE = parseEther("100");

export const TEST_PARAMS: Partial<TrustMeshParams> = {
  minStake: MIN_STAKE,
  unbondingDelay: 14n * 86400n,
  epochDuration: 3600n,
  expectedCommitteeSize: 7n,
  quorum: 5,
  challengeWindow: 86400n,
  maxRoundAge: 2n,
  slashBps: 5000,
  rewardBps: 2000,
  banPeriod: 30n * 86400n,
  disputeWindowEpochs: 24n,
};

export interface NodeKeys {
  gateway: PrivateKeyAccount;
  vrfSecret: bigint;
  vrfPublicKey: readonly [bigint, bigint];
}

/** Deterministic gateway and VRF keys for test node `i`. */
export function nodeKeys(i: number): NodeKeys {
  const gateway = privateKeyToAccount(keccak256(toBytes(`trustmesh gateway ${i}`)));
  const vrfSecret = BigInt(keccak256(toBytes(`trustmesh vrf ${i}`))) % secp256k1.Point.CURVE().n;
  const p = secp256k1.Point.BASE.multiply(vrfSecret);
  return { gateway, vrfSecret, vrfPublicKey: [p.x, p.y] as const };
}

export async function deployFixture(verifier?: Address) {
  const wallets = await hre.viem.getWalletClients();
  const publicClient = await hre.viem.getPublicClient();
  const [deployer, governor, ...rest] = wallets;
  if (!deployer || !governor) throw new Error("hardhat accounts missing");
  const operators = rest.slice(0, 10);
  const params: Partial<TrustMeshParams> = { ...TEST_PARAMS };
  if (verifier) params.vrfVerifier = verifier;
  const d = await deployTrustMesh(deployer, publicClient, {
    params,
    governance: { kind: "account", governor: governor.account.address },
    mint: operators.map((o) => ({ to: o.account.address, amount: parseEther("1000000") })),
  });
  const c = d.contracts;
  // Typed through offchain/chain/artifacts.ts: hardhat-viem's overloads lose the ERC-20 ABI.
  const token = getContract({ address: c.TrustToken, abi: trustTokenAbi, client: { public: publicClient, wallet: deployer } });
  const registry = await hre.viem.getContractAt("NodeRegistry", c.NodeRegistry);
  const clock = await hre.viem.getContractAt("EpochClock", c.EpochClock);
  const policy = await hre.viem.getContractAt("ScoringPolicy", c.ScoringPolicy);
  const reputation = await hre.viem.getContractAt("Reputation", c.Reputation);
  const images = await hre.viem.getContractAt("ImageRegistry", c.ImageRegistry);
  const board = await hre.viem.getContractAt("TrustBoard", c.TrustBoard);
  const disputes = await hre.viem.getContractAt("Disputes", c.Disputes);
  const chainId = await publicClient.getChainId();
  return { deployer, governor, operators, publicClient, chainId, deployment: d, token, registry, clock, policy, reputation, images, board, disputes };
}

export type Fixture = Awaited<ReturnType<typeof deployFixture>>;

/** An operator's EIP-2612 permit letting the registry pull `value` stake tokens, as (v, r, s). */
export async function signStakePermit(f: Fixture, op: Fixture["operators"][number], value: bigint, nonce: bigint, deadline: bigint) {
  const sig = await op.signTypedData({
    domain: { name: await f.token.read.name(), version: "1", chainId: f.chainId, verifyingContract: f.token.address },
    types: permitTypes,
    primaryType: "Permit",
    message: { owner: op.account.address, spender: f.registry.address, value, nonce, deadline },
  });
  const { v, r, s } = parseSignature(sig);
  return { v: Number(v), r, s };
}

export function registration(keys: NodeKeys, stake = MIN_STAKE, tier = 2) {
  return {
    gateway: keys.gateway.address,
    vrfPublicKey: keys.vrfPublicKey,
    akDigest: keccak256(toBytes(`ak ${keys.gateway.address}`)),
    ekCertDigest: tier >= 2 ? keccak256(toBytes(`ek ${keys.gateway.address}`)) : toHex(0n, { size: 32 }),
    fingerprintRoot: keccak256(toBytes(`fp ${keys.gateway.address}`)),
    tier,
    metadataCid: METADATA_CID,
    stake,
  } as const;
}

/** Registers node `i` (keys from nodeKeys(i)) for operator index `op`; returns its id. */
export async function registerNode(f: Fixture, i: number, op = i % f.operators.length, stake = MIN_STAKE) {
  const operator = f.operators[op]!;
  const keys = nodeKeys(i);
  await f.token.write.approve([f.registry.address, stake], { account: operator.account });
  await f.registry.write.register([registration(keys, stake)], { account: operator.account });
  const id = await f.registry.read.nodeOfGateway([keys.gateway.address]);
  return { id, keys, operator };
}

export function makeVote(epoch: bigint, node: bigint, sequence = 0n, over: Partial<Vote> = {}): Vote {
  return {
    round: encodeRoundId({ epoch, node, sequence }),
    node,
    verdict: 1,
    score: 90,
    evidenceCid: EVIDENCE_CID,
    policyCid: POLICY_CID,
    ...over,
  };
}

export function signVote(f: Fixture, signer: PrivateKeyAccount, vote: Vote, chainId = f.chainId): Promise<Hex> {
  return signer.signTypedData({ domain: trustBoardDomain(chainId, f.board.address), types: voteTypes, primaryType: "Vote", message: vote });
}

export function signClaim(f: Fixture, signer: PrivateKeyAccount, claim: VrfClaim): Promise<Hex> {
  return signer.signTypedData({ domain: trustBoardDomain(f.chainId, f.board.address), types: vrfClaimTypes, primaryType: "VrfClaim", message: claim });
}

/** A certificate: signatures sorted by signer address, with per-signer VRF outputs. */
export async function certificate(f: Fixture, signers: PrivateKeyAccount[], vote: Vote, outputs?: Hex[]) {
  const sorted = [...signers].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
  const signatures = await Promise.all(sorted.map((s) => signVote(f, s, vote)));
  const vrfOutputs = outputs ?? sorted.map((s) => keccak256(toBytes(`output ${s.address} ${vote.round}`)));
  return { signers: sorted, signatures, vrfOutputs };
}

/** A wallet client for a local account over the in-process Hardhat provider (funded). */
export async function localWallet(account: PrivateKeyAccount) {
  const testClient = await hre.viem.getTestClient();
  await testClient.setBalance({ address: account.address, value: parseEther("100") });
  const publicClient = await hre.viem.getPublicClient();
  return createWalletClient({ account, chain: publicClient.chain, transport: custom(hre.network.provider) });
}

/** Decoded `eventName` logs of one transaction emitted by `contract`. */
export async function eventsOf<const A extends Abi>(
  contract: { address: Address; abi: A },
  hash: Hex,
  eventName: string,
): Promise<Record<string, unknown>[]> {
  const publicClient = await hre.viem.getPublicClient();
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  const logs = parseEventLogs({ abi: contract.abi as Abi, logs: receipt.logs, eventName });
  return logs
    .filter((l) => l.address.toLowerCase() === contract.address.toLowerCase())
    .map((l) => (l as unknown as { args: Record<string, unknown> }).args);
}

/** Asserts exactly one `eventName` from `contract` in the transaction, with `args` included. */
export async function expectEvent<const A extends Abi>(
  contract: { address: Address; abi: A },
  hash: Hex,
  eventName: string,
  args: Record<string, unknown> = {},
) {
  const found = await eventsOf(contract, hash, eventName);
  expect(found, `${eventName} events`).to.have.length(1);
  expect(normalize(found[0]!)).to.deep.include(normalize(args));
  return found[0]!;
}

/** Addresses compared case-insensitively (events return checksummed, accounts may not). */
function normalize(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v) ? v.toLowerCase() : v]),
  );
}
