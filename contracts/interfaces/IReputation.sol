// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IReputation
/// @notice Per-node score in [0, maxScore], moved only by accepted verdicts and slashing.
interface IReputation {
    /// @param score current score
    /// @param updates number of updates so far (the history length)
    /// @param lastUpdate time of the latest update
    struct Record {
        uint64 score;
        uint64 updates;
        uint40 lastUpdate;
    }

    error ReputationInvalidParams(uint64 maxScore, uint64 gain, uint16 lossBps);
    error ReputationZeroAddress();

    event ScoreChanged(uint64 indexed nodeId, uint64 oldScore, uint64 newScore, uint64 updates, uint8 reason);
    event ParamsChanged(uint64 maxScore, uint64 trustedGain, uint16 untrustedLossBps);

    /// @notice Applies an accepted verdict: trusted adds `trustedGain` (capped at maxScore),
    /// untrusted removes `untrustedLossBps` of the score. Returns the signed change.
    /// @dev Emits {ScoreChanged}.
    ///
    /// Requirements:
    /// - caller holds VERDICT_ROLE.
    function applyVerdict(uint64 nodeId, bool trusted) external returns (int256 delta);

    /// @notice Reverts the change of a voided verdict (result clamped to the bounds).
    /// @dev Emits {ScoreChanged}.
    ///
    /// Requirements:
    /// - caller holds VERDICT_ROLE.
    function revertDelta(uint64 nodeId, int256 delta) external;

    /// @notice Sets the score to zero after a proven offence.
    /// @dev Emits {ScoreChanged}.
    ///
    /// Requirements:
    /// - caller holds SLASHER_ROLE.
    function zero(uint64 nodeId) external;

    /// @notice Sets the scoring parameters; scores above a lowered maximum are clamped on
    /// their next update.
    /// @dev Emits {ParamsChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; `maxScore > 0`; `trustedGain <= maxScore`; `untrustedLossBps <= 10000`.
    function setParams(uint64 maxScore, uint64 trustedGain, uint16 untrustedLossBps) external;

    /// @notice The node's score, clamped to maxScore. View; no requirements.
    function score(uint64 nodeId) external view returns (uint64);
    /// @notice How many updates the node's score has had. View; no requirements.
    function historyLength(uint64 nodeId) external view returns (uint64);
    /// @notice The node's full record (score clamped). View; no requirements.
    function record(uint64 nodeId) external view returns (Record memory);
}
