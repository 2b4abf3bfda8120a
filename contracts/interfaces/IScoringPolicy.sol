// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IScoringPolicy
/// @notice The trust-scoring function in force per epoch, named by its CID.
interface IScoringPolicy {
    /// @param effectiveEpoch first epoch in which `cid` is active
    /// @param cidHash keccak256 of `cid` (what votes are checked against)
    /// @param cid binary CID of the scoring function
    struct PolicyEntry {
        uint64 effectiveEpoch;
        bytes32 cidHash;
        bytes cid;
    }

    error ScoringPolicyEmptyCid();
    error ScoringPolicyEpochNotInFuture(uint64 effectiveEpoch, uint64 currentEpoch);
    error ScoringPolicyEpochBeforeScheduled(uint64 effectiveEpoch, uint64 lastScheduled);
    error ScoringPolicyIndexOutOfRange(uint256 index, uint256 count);
    error ScoringPolicyZeroAddress();

    event PolicyScheduled(uint256 indexed index, uint64 indexed effectiveEpoch, bytes32 cidHash, bytes cid);

    /// @notice Schedules `cid` to become active from `effectiveEpoch`. A later entry with the
    /// same effective epoch supersedes an earlier one.
    /// @dev Emits {PolicyScheduled}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE (a TimelockController: propose, wait, execute);
    /// - `cid` non-empty; `effectiveEpoch` after the current epoch and not before the last
    ///   scheduled entry's epoch.
    function scheduleUpgrade(bytes calldata cid, uint64 effectiveEpoch) external;

    /// @notice The scoring-function CID in force in `epoch`. View; no requirements.
    function activeCid(uint64 epoch) external view returns (bytes memory);
    /// @notice keccak256 of {activeCid}; what TrustBoard compares votes with. View; no requirements.
    function activeCidHash(uint64 epoch) external view returns (bytes32);
    /// @notice Number of history entries. View; no requirements.
    function policyCount() external view returns (uint256);
    /// @notice History entry `index` (0 = initial policy). View; no requirements.
    function policyAt(uint256 index) external view returns (PolicyEntry memory);
}
