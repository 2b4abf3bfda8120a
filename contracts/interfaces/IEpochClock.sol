// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IEpochClock
/// @notice Epochs with a chain-derived seed and a committee threshold snapshot.
interface IEpochClock {
    error EpochClockTooEarly(uint64 currentEpoch, uint256 endsAt);
    error EpochClockZeroDuration();
    error EpochClockZeroCommitteeSize();
    error EpochClockZeroAddress();

    event EpochOpened(uint64 indexed epoch, bytes32 seed, uint256 threshold, uint256 eligibleCount);
    event EpochDurationChanged(uint64 oldDuration, uint64 newDuration);
    event ExpectedCommitteeSizeChanged(uint256 oldSize, uint256 newSize);

    /// @notice Opens the next epoch: seed = keccak256(abi.encode(prevrandao, previous seed,
    /// epoch)), threshold from the registry's eligible verifier count at this moment.
    /// @dev Emits {EpochOpened}.
    ///
    /// Requirements:
    /// - the current epoch has lasted at least `epochDuration` seconds.
    function openEpoch() external returns (uint64 epoch);

    /// @notice Sets the duration of epochs opened from now on.
    /// @dev Emits {EpochDurationChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; `newDuration > 0`.
    function setEpochDuration(uint64 newDuration) external;

    /// @notice Sets the expected committee size used by future thresholds.
    /// @dev Emits {ExpectedCommitteeSizeChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; `newSize > 0`.
    function setExpectedCommitteeSize(uint256 newSize) external;

    /// @notice The latest opened epoch (epoch 1 opens at deployment). View; no requirements.
    function currentEpoch() external view returns (uint64);
    /// @notice The seed of `epoch` (zero when not opened). View; no requirements.
    function epochSeed(uint64 epoch) external view returns (bytes32);
    /// @notice The committee threshold of `epoch`: a VRF output below it selects its holder. View; no requirements.
    function epochThreshold(uint64 epoch) external view returns (uint256);
    /// @notice The opening time of `epoch` (zero when not opened). View; no requirements.
    function epochStart(uint64 epoch) external view returns (uint256);
    /// @notice When `openEpoch` becomes callable.
    function nextEpochAt() external view returns (uint256);
}
