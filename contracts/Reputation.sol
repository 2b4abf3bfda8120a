// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IReputation} from "./interfaces/IReputation.sol";

/// @title Reputation
/// @notice Scores earned slowly (additive gain) and lost quickly (multiplicative loss),
/// zeroed on slashing. One storage slot per node; the individual updates are the
/// {ScoreChanged} events, counted by {historyLength}.
contract Reputation is IReputation, AccessControl {
    bytes32 public constant VERDICT_ROLE = keccak256("VERDICT_ROLE");
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    /// @notice Reasons carried by {ScoreChanged}.
    uint8 public constant REASON_TRUSTED = 1;
    uint8 public constant REASON_UNTRUSTED = 2;
    uint8 public constant REASON_VOIDED = 3;
    uint8 public constant REASON_SLASHED = 4;

    uint64 public maxScore;
    uint64 public trustedGain;
    uint16 public untrustedLossBps;
    mapping(uint64 => Record) private _records;

    constructor(uint64 maxScore_, uint64 trustedGain_, uint16 untrustedLossBps_, address admin, address governor) {
        if (admin == address(0) || governor == address(0)) revert ReputationZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
        _setParams(maxScore_, trustedGain_, untrustedLossBps_);
    }

    /// @inheritdoc IReputation
    function applyVerdict(uint64 nodeId, bool trusted) external onlyRole(VERDICT_ROLE) returns (int256 delta) {
        uint256 old = _clamped(_records[nodeId].score);
        uint256 next;
        if (trusted) {
            next = old + trustedGain;
            if (next > maxScore) next = maxScore;
        } else {
            next = old - (old * untrustedLossBps) / 10_000;
        }
        _write(nodeId, next, trusted ? REASON_TRUSTED : REASON_UNTRUSTED);
        return int256(next) - int256(old);
    }

    /// @inheritdoc IReputation
    function revertDelta(uint64 nodeId, int256 delta) external onlyRole(VERDICT_ROLE) {
        int256 next = int256(uint256(_records[nodeId].score)) - delta;
        if (next < 0) next = 0;
        if (next > int256(uint256(maxScore))) next = int256(uint256(maxScore));
        _write(nodeId, uint256(next), REASON_VOIDED);
    }

    /// @inheritdoc IReputation
    function zero(uint64 nodeId) external onlyRole(SLASHER_ROLE) {
        _write(nodeId, 0, REASON_SLASHED);
    }

    /// @inheritdoc IReputation
    function setParams(uint64 maxScore_, uint64 trustedGain_, uint16 untrustedLossBps_)
        external
        onlyRole(GOVERNOR_ROLE)
    {
        _setParams(maxScore_, trustedGain_, untrustedLossBps_);
    }

    /// @inheritdoc IReputation
    function score(uint64 nodeId) external view returns (uint64) {
        return uint64(_clamped(_records[nodeId].score));
    }

    /// @inheritdoc IReputation
    function historyLength(uint64 nodeId) external view returns (uint64) {
        return _records[nodeId].updates;
    }

    /// @inheritdoc IReputation
    function record(uint64 nodeId) external view returns (Record memory r) {
        r = _records[nodeId];
        r.score = uint64(_clamped(r.score));
    }

    function _clamped(uint64 s) private view returns (uint256) {
        return s > maxScore ? maxScore : s;
    }

    function _write(uint64 nodeId, uint256 next, uint8 reason) private {
        Record storage r = _records[nodeId];
        uint64 old = r.score;
        uint64 updates = r.updates + 1;
        _records[nodeId] = Record(uint64(next), updates, uint40(block.timestamp));
        emit ScoreChanged(nodeId, old, uint64(next), updates, reason);
    }

    function _setParams(uint64 maxScore_, uint64 trustedGain_, uint16 untrustedLossBps_) private {
        if (maxScore_ == 0 || trustedGain_ > maxScore_ || untrustedLossBps_ > 10_000) {
            revert ReputationInvalidParams(maxScore_, trustedGain_, untrustedLossBps_);
        }
        maxScore = maxScore_;
        trustedGain = trustedGain_;
        untrustedLossBps = untrustedLossBps_;
        emit ParamsChanged(maxScore_, trustedGain_, untrustedLossBps_);
    }
}
