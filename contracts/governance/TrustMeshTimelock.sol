// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title TrustMeshTimelock
/// @notice The governance timelock (OpenZeppelin TimelockController, unchanged): holds
/// GOVERNOR_ROLE on every TrustMesh contract, so parameter changes and scoring-policy
/// upgrades are proposed, wait `minDelay`, then execute.
contract TrustMeshTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
