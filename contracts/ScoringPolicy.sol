// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IScoringPolicy} from "./interfaces/IScoringPolicy.sol";
import {IEpochClock} from "./interfaces/IEpochClock.sol";

/// @title ScoringPolicy
/// @notice Append-only history of scoring-function CIDs, each active from an epoch.
/// Upgrades only take effect in a future epoch, so no round changes policy mid-way.
/// @dev Entries are appended with non-decreasing effective epochs, so the active entry of
/// an epoch is the last one whose effective epoch is not after it.
contract ScoringPolicy is IScoringPolicy, AccessControl {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    IEpochClock public immutable clock;
    PolicyEntry[] private _entries;

    constructor(IEpochClock clock_, bytes memory initialCid, address admin, address governor) {
        if (address(clock_) == address(0) || admin == address(0) || governor == address(0)) {
            revert ScoringPolicyZeroAddress();
        }
        if (initialCid.length == 0) revert ScoringPolicyEmptyCid();
        clock = clock_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
        _push(initialCid, 0);
    }

    /// @inheritdoc IScoringPolicy
    function scheduleUpgrade(bytes calldata cid, uint64 effectiveEpoch) external onlyRole(GOVERNOR_ROLE) {
        if (cid.length == 0) revert ScoringPolicyEmptyCid();
        uint64 current = clock.currentEpoch();
        if (effectiveEpoch <= current) revert ScoringPolicyEpochNotInFuture(effectiveEpoch, current);
        uint64 last = _entries[_entries.length - 1].effectiveEpoch;
        if (effectiveEpoch < last) revert ScoringPolicyEpochBeforeScheduled(effectiveEpoch, last);
        _push(cid, effectiveEpoch);
    }

    /// @inheritdoc IScoringPolicy
    function activeCid(uint64 epoch) external view returns (bytes memory) {
        return _entries[_indexFor(epoch)].cid;
    }

    /// @inheritdoc IScoringPolicy
    function activeCidHash(uint64 epoch) external view returns (bytes32) {
        return _entries[_indexFor(epoch)].cidHash;
    }

    /// @inheritdoc IScoringPolicy
    function policyCount() external view returns (uint256) {
        return _entries.length;
    }

    /// @inheritdoc IScoringPolicy
    function policyAt(uint256 index) external view returns (PolicyEntry memory) {
        if (index >= _entries.length) revert ScoringPolicyIndexOutOfRange(index, _entries.length);
        return _entries[index];
    }

    function _indexFor(uint64 epoch) private view returns (uint256 i) {
        // Entry 0 is effective from epoch 0, so the walk always ends.
        i = _entries.length - 1;
        while (_entries[i].effectiveEpoch > epoch) --i;
    }

    function _push(bytes memory cid, uint64 effectiveEpoch) private {
        bytes32 h = keccak256(cid);
        _entries.push(PolicyEntry(effectiveEpoch, h, cid));
        emit PolicyScheduled(_entries.length - 1, effectiveEpoch, h, cid);
    }
}
