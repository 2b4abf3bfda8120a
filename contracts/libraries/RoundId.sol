// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title RoundId
/// @notice Decodes a round id `epoch << 128 | node << 64 | sequence` (uint64 each), the
/// encoding of offchain/core/protocol.ts. Ids with bits above 192 are rejected so one
/// round cannot be named by two different numbers.
library RoundId {
    /// @dev The round id has bits set above bit 191.
    error RoundIdOutOfRange(uint256 round);

    /// @notice Splits `round` into its epoch, target node and sequence.
    function decode(uint256 round) internal pure returns (uint64 epoch, uint64 node, uint64 sequence) {
        if (round >> 192 != 0) revert RoundIdOutOfRange(round);
        epoch = uint64(round >> 128);
        node = uint64(round >> 64);
        sequence = uint64(round);
    }

    /// @notice Packs the three parts into a round id.
    function encode(uint64 epoch, uint64 node, uint64 sequence) internal pure returns (uint256) {
        return (uint256(epoch) << 128) | (uint256(node) << 64) | uint256(sequence);
    }
}
