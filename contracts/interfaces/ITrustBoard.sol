// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ITrustBoard
/// @notice Attestation verdicts, recorded from committee certificates or single votes.
interface ITrustBoard {
    /// @notice EIP-712 `Vote(uint256 round,uint64 node,uint8 verdict,uint8 score,bytes evidenceCid,bytes policyCid)`;
    /// see offchain/chain/eip712.ts.
    struct Vote {
        uint256 round;
        uint64 node;
        uint8 verdict;
        uint8 score;
        bytes evidenceCid;
        bytes policyCid;
    }

    /// @notice EIP-712 `VrfClaim(uint256 round,uint8 role,bytes proof)`, signed in the
    /// TrustBoard domain; Disputes checks it.
    struct VrfClaim {
        uint256 round;
        uint8 role;
        bytes proof;
    }

    /// @notice A recorded verdict, one storage slot.
    /// @param commitment certificates: first 20 bytes of keccak256(abi.encodePacked(signers, vrfOutputs));
    /// single votes: first 20 bytes of the winning vote's struct hash
    /// @param verdict 1 trusted, 2 untrusted
    /// @param score the scoring function's score (0-255)
    /// @param recordedAt block time of recording; the challenge window runs from here
    /// @param flags bit 0 voided, bit 1 recorded from single votes
    /// @param reputationDelta change applied to the node's reputation (reverted when voided)
    struct VerdictRecord {
        bytes20 commitment;
        uint8 verdict;
        uint8 score;
        uint40 recordedAt;
        uint8 flags;
        int32 reputationDelta;
    }

    error TrustBoardNodeMismatch(uint256 round, uint64 node);
    error TrustBoardInvalidVerdict(uint8 verdict);
    error TrustBoardRoundAlreadyRecorded(uint256 round);
    error TrustBoardEpochNotOpen(uint64 epoch, uint64 currentEpoch);
    error TrustBoardRoundTooLate(uint256 round, uint64 epoch, uint64 currentEpoch);
    error TrustBoardPolicyMismatch(uint64 epoch, bytes32 given, bytes32 active);
    error TrustBoardNotEnoughSignatures(uint256 given, uint256 quorum);
    error TrustBoardLengthMismatch(uint256 signatures, uint256 outputs);
    error TrustBoardInvalidSignature(uint256 index);
    error TrustBoardSignersNotSorted(uint256 index, address signer);
    error TrustBoardSignerNotEligible(address signer);
    error TrustBoardOutputAboveThreshold(address signer, bytes32 output, uint256 threshold);
    error TrustBoardAlreadyVoted(uint256 round, address signer);
    error TrustBoardUnknownRound(uint256 round);
    error TrustBoardAlreadyVoided(uint256 round);
    error TrustBoardChallengeWindowClosed(uint256 round, uint256 closedAt);
    error TrustBoardInvalidParams(uint16 quorum, uint40 challengeWindow, uint64 maxRoundAge);
    error TrustBoardZeroAddress();

    event VoteCounted(
        uint256 indexed round, address indexed signer, bytes32 indexed voteHash, uint256 count, bytes32 vrfOutput, bool self
    );
    event VerdictRecorded(
        uint256 indexed round,
        uint64 indexed node,
        uint8 verdict,
        uint8 score,
        bytes evidenceCid,
        bytes policyCid,
        address[] signers,
        bytes32[] vrfOutputs
    );
    event VerdictVoided(uint256 indexed round, uint64 indexed node, int256 reputationDelta);
    event ParamsChanged(uint16 quorum, uint40 challengeWindow, uint64 maxRoundAge);

    /// @notice Records a verdict from a committee certificate in one transaction.
    /// `signatures[i]` (65 bytes) is the EIP-712 signature of `vote` by signer i, whose VRF
    /// output for (round, Verifier) is `vrfOutputs[i]`. Signers must be sorted ascending.
    /// Membership is optimistic: outputs are checked against the epoch threshold here and
    /// proven against the signer's VRF key only in a dispute (see Disputes).
    /// @dev Emits {VerdictRecorded}; the registry emits {StatusChanged}, reputation {ScoreChanged}.
    ///
    /// Requirements:
    /// - the round's node equals `vote.node`; `vote.verdict` is 1 or 2;
    /// - the round's epoch is open and at most `maxRoundAge` epochs old; the round is not recorded;
    /// - keccak256(`vote.policyCid`) is the active policy of the round's epoch;
    /// - at least `quorum` valid signatures from strictly ascending, eligible signers other
    ///   than the target, each with an output below the epoch threshold.
    function submitCertificate(Vote calldata vote, bytes[] calldata signatures, bytes32[] calldata vrfOutputs)
        external;

    /// @notice Counts one verifier's signed vote, relayed by anyone; records the verdict
    /// when `quorum` identical votes are counted.
    /// @dev Emits {VoteCounted}, and {VerdictRecorded} on quorum.
    ///
    /// Requirements: the round checks of {submitCertificate}; a valid signature of an
    /// eligible signer who has not voted in this round; `vrfOutput` below the threshold.
    function submitVote(Vote calldata vote, bytes calldata signature, bytes32 vrfOutput) external;

    /// @notice {submitVote} for the verifier itself (msg.sender is the signer). The output
    /// committed this way is the signer's own, so a mismatch with its VRF proof is slashable.
    /// @dev Emits {VoteCounted}, and {VerdictRecorded} on quorum.
    ///
    /// Requirements: those of {submitVote} with msg.sender as the signer.
    function castVote(Vote calldata vote, bytes32 vrfOutput) external;

    /// @notice Voids a verdict within its challenge window: the node goes back to
    /// Registered (if its status came from a verdict) and the reputation change is reverted.
    /// @dev Emits {VerdictVoided}.
    ///
    /// Requirements:
    /// - caller holds DISPUTES_ROLE; the round is recorded, not voided, and in its window.
    function voidVerdict(uint256 round) external;

    /// @notice Sets quorum, challenge window (seconds) and maximum round age (epochs).
    /// @dev Emits {ParamsChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; `quorum > 0`.
    function setParams(uint16 quorum, uint40 challengeWindow, uint64 maxRoundAge) external;

    /// @notice The recorded verdict of `round` (zeroed when none). View; no requirements.
    function verdict(uint256 round) external view returns (VerdictRecord memory);
    /// @notice Number of verdicts recorded (voided ones included). View; no requirements.
    function verdictCount() external view returns (uint256);
    /// @notice Number of recorded rounds of `node` and the latest one; the full list is in
    /// the {VerdictRecorded} events (indexed by node).
    function nodeHistory(uint64 node) external view returns (uint64 count, uint256 lastRound);
    /// @notice Whether the verdict is recorded, not voided, and past its challenge window. View; no requirements.
    function isFinal(uint256 round) external view returns (bool);
    /// @notice The EIP-712 struct hash of `vote` (single votes are tallied by it). View; no requirements.
    function voteHash(Vote calldata vote) external pure returns (bytes32);
    /// @notice The EIP-712 digest a verifier signs for `vote`. View; no requirements.
    function voteDigest(Vote calldata vote) external view returns (bytes32);
    /// @notice The EIP-712 digest a verifier signs for `claim`. View; no requirements.
    function vrfClaimDigest(VrfClaim calldata claim) external view returns (bytes32);
    /// @notice Signers whose single vote with struct hash `voteHash_` was counted for `round`. View; no requirements.
    function votesFor(uint256 round, bytes32 voteHash_) external view returns (address[] memory);
    /// @notice Whether `signer` counted towards the recorded verdict of `round`. For
    /// certificate rounds the caller supplies the opening (signers, vrfOutputs) of the commitment.
    function participated(uint256 round, address signer, address[] calldata signers, bytes32[] calldata vrfOutputs)
        external
        view
        returns (bool);
    /// @notice The output `signer` committed itself through {castVote} for `round`, if any.
    function selfCommittedOutput(uint256 round, address signer) external view returns (bool found, bytes32 output);
}
