// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IEpochClock} from "./interfaces/IEpochClock.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";

/// @title EpochClock
/// @notice Epoch 1 opens at deployment; each later epoch is opened by anyone once the
/// current one has run its duration. An epoch's seed and committee threshold are fixed
/// when it opens, so sortition for all its rounds is fixed too.
/// @dev prevrandao can be biased by one block proposer by withholding a block; the seed
/// chains the previous seed so that bias cannot be steered across epochs.
contract EpochClock is IEpochClock, AccessControl {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    struct Epoch {
        bytes32 seed;
        uint256 threshold;
        uint64 start;
    }

    INodeRegistry public immutable registry;
    uint64 public epochDuration;
    uint64 private _current;
    uint256 public expectedCommitteeSize;
    mapping(uint64 => Epoch) private _epochs;

    constructor(INodeRegistry registry_, uint64 duration, uint256 committeeSize, address admin, address governor) {
        if (address(registry_) == address(0) || admin == address(0) || governor == address(0)) {
            revert EpochClockZeroAddress();
        }
        if (duration == 0) revert EpochClockZeroDuration();
        if (committeeSize == 0) revert EpochClockZeroCommitteeSize();
        registry = registry_;
        epochDuration = duration;
        expectedCommitteeSize = committeeSize;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
        emit EpochDurationChanged(0, duration);
        emit ExpectedCommitteeSizeChanged(0, committeeSize);
        _open();
    }

    /// @inheritdoc IEpochClock
    function openEpoch() external returns (uint64) {
        uint256 endsAt = uint256(_epochs[_current].start) + epochDuration;
        if (block.timestamp < endsAt) revert EpochClockTooEarly(_current, endsAt);
        return _open();
    }

    /// @inheritdoc IEpochClock
    function setEpochDuration(uint64 newDuration) external onlyRole(GOVERNOR_ROLE) {
        if (newDuration == 0) revert EpochClockZeroDuration();
        emit EpochDurationChanged(epochDuration, newDuration);
        epochDuration = newDuration;
    }

    /// @inheritdoc IEpochClock
    function setExpectedCommitteeSize(uint256 newSize) external onlyRole(GOVERNOR_ROLE) {
        if (newSize == 0) revert EpochClockZeroCommitteeSize();
        emit ExpectedCommitteeSizeChanged(expectedCommitteeSize, newSize);
        expectedCommitteeSize = newSize;
    }

    /// @inheritdoc IEpochClock
    function currentEpoch() external view returns (uint64) {
        return _current;
    }

    /// @inheritdoc IEpochClock
    function epochSeed(uint64 epoch) external view returns (bytes32) {
        return _epochs[epoch].seed;
    }

    /// @inheritdoc IEpochClock
    function epochThreshold(uint64 epoch) external view returns (uint256) {
        return _epochs[epoch].threshold;
    }

    /// @inheritdoc IEpochClock
    function epochStart(uint64 epoch) external view returns (uint256) {
        return _epochs[epoch].start;
    }

    /// @inheritdoc IEpochClock
    function nextEpochAt() external view returns (uint256) {
        return uint256(_epochs[_current].start) + epochDuration;
    }

    /// @notice Probability-scaled threshold: a uniform 256-bit VRF output falls below it
    /// with probability expectedCommitteeSize / eligibleCount (capped at 1).
    function thresholdFor(uint256 committeeSize, uint256 eligibleCount) public pure returns (uint256) {
        uint256 n = eligibleCount == 0 ? 1 : eligibleCount;
        if (committeeSize >= n) return type(uint256).max;
        return Math.mulDiv(type(uint256).max, committeeSize, n);
    }

    function _open() private returns (uint64 epoch) {
        bytes32 previous = _epochs[_current].seed;
        epoch = _current + 1;
        bytes32 seed = keccak256(abi.encode(block.prevrandao, previous, epoch));
        uint256 eligible = registry.eligibleVerifierCount();
        uint256 threshold = thresholdFor(expectedCommitteeSize, eligible);
        _epochs[epoch] = Epoch(seed, threshold, uint64(block.timestamp));
        _current = epoch;
        emit EpochOpened(epoch, seed, threshold, eligible);
    }
}
