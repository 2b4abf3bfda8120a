/**
 * The Ignition wiring shared by the deploy modules: every knob is an Ignition parameter
 * with its default from deploy/params.ts (the same values offchain/chain/deploy.ts uses).
 * Governance is a TimelockController (TrustMeshTimelock): it holds GOVERNOR_ROLE and the
 * admin role everywhere; the deployer proposes, anyone executes after the delay, and the
 * deployer's own admin role is renounced once the protocol roles are wired.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { keccak256, toBytes } from "viem";
import type { IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
import { DEFAULT_PARAMS, ZERO_ADDRESS } from "./params";

const ROLE = (name: string) => keccak256(toBytes(name));
const DEFAULT_ADMIN = "0x0000000000000000000000000000000000000000000000000000000000000000";

/** True when the ECVRF verifier written in contracts/vrf/ is part of this checkout. */
export function vrfVerifierSourcePresent(): boolean {
  return existsSync(path.join(__dirname, "..", "contracts", "vrf", "VRFVerifier.sol"));
}

export function buildTrustMesh(m: IgnitionModuleBuilder, opts: { deployToken: boolean; deployVerifier: boolean }) {
  const p = DEFAULT_PARAMS;
  const deployer = m.getAccount(0);

  const timelock = m.contract("TrustMeshTimelock", [
    m.getParameter("timelockDelay", p.timelockDelay),
    [deployer],
    [ZERO_ADDRESS],
    ZERO_ADDRESS,
  ]);

  const token = opts.deployToken
    ? m.contract("TrustToken", [m.getParameter("tokenName", p.tokenName), m.getParameter("tokenSymbol", p.tokenSymbol), deployer])
    : m.contractAt("TrustToken", m.getParameter<string>("token"), { id: "ExistingToken" });

  const registry = m.contract("NodeRegistry", [
    token,
    m.getParameter("minStake", p.minStake),
    m.getParameter("unbondingDelay", p.unbondingDelay),
    deployer,
    timelock,
  ]);
  const clock = m.contract("EpochClock", [
    registry,
    m.getParameter("epochDuration", p.epochDuration),
    m.getParameter("expectedCommitteeSize", p.expectedCommitteeSize),
    deployer,
    timelock,
  ]);
  const policy = m.contract("ScoringPolicy", [clock, m.getParameter("initialPolicyCid", p.initialPolicyCid), deployer, timelock]);
  const reputation = m.contract("Reputation", [
    m.getParameter("maxScore", p.maxScore),
    m.getParameter("trustedGain", p.trustedGain),
    m.getParameter("untrustedLossBps", p.untrustedLossBps),
    deployer,
    timelock,
  ]);
  const images = m.contract("ImageRegistry", [deployer, timelock]);
  const verifier = opts.deployVerifier ? m.contract("VRFVerifier", []) : m.getParameter<string>("vrfVerifier", p.vrfVerifier);

  const board = m.contract("TrustBoard", [
    registry,
    clock,
    policy,
    reputation,
    m.getParameter("quorum", p.quorum),
    m.getParameter("challengeWindow", p.challengeWindow),
    m.getParameter("maxRoundAge", p.maxRoundAge),
    deployer,
    timelock,
  ]);
  const disputes = m.contract("Disputes", [
    board,
    registry,
    reputation,
    clock,
    verifier,
    {
      slashBps: m.getParameter("slashBps", p.slashBps),
      rewardBps: m.getParameter("rewardBps", p.rewardBps),
      banPeriod: m.getParameter("banPeriod", p.banPeriod),
      windowEpochs: m.getParameter("disputeWindowEpochs", p.disputeWindowEpochs),
    },
    deployer,
    timelock,
  ]);

  const market = m.contract("TaskMarket", [
    token,
    registry,
    clock,
    board,
    verifier,
    {
      slashBps: m.getParameter("slashBps", p.slashBps),
      rewardBps: m.getParameter("rewardBps", p.rewardBps),
      banPeriod: m.getParameter("banPeriod", p.banPeriod),
    },
    deployer,
    timelock,
  ]);

  const g1 = m.call(registry, "grantRole", [ROLE("VERDICT_ROLE"), board], { id: "Registry_Verdict_Board" });
  const g2 = m.call(registry, "grantRole", [ROLE("SLASHER_ROLE"), disputes], { id: "Registry_Slasher_Disputes" });
  const g3 = m.call(reputation, "grantRole", [ROLE("VERDICT_ROLE"), board], { id: "Reputation_Verdict_Board" });
  const g4 = m.call(reputation, "grantRole", [ROLE("SLASHER_ROLE"), disputes], { id: "Reputation_Slasher_Disputes" });
  const g5 = m.call(board, "grantRole", [ROLE("DISPUTES_ROLE"), disputes], { id: "Board_Disputes_Disputes" });

  const g6 = m.call(registry, "grantRole", [ROLE("SLASHER_ROLE"), market], { id: "Registry_Slasher_TaskMarket" });

  const wired = [g1, g2, g3, g4, g5, g6];
  for (const [name, c] of [
    ["NodeRegistry", registry],
    ["EpochClock", clock],
    ["ScoringPolicy", policy],
    ["Reputation", reputation],
    ["ImageRegistry", images],
    ["TrustBoard", board],
    ["Disputes", disputes],
    ["TaskMarket", market],
  ] as const) {
    m.call(c, "renounceRole", [DEFAULT_ADMIN, deployer], { id: `${name}_RenounceDeployerAdmin`, after: wired });
  }

  return { timelock, token, registry, clock, policy, reputation, images, board, disputes, market };
}
