// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ITrustBoard} from "./interfaces/ITrustBoard.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IEpochClock} from "./interfaces/IEpochClock.sol";
import {IScoringPolicy} from "./interfaces/IScoringPolicy.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {RoundId} from "./libraries/RoundId.sol";
import {TrustBoardHashing} from "./libraries/TrustBoardHashing.sol";

/// @title TrustBoard
/// @notice Records one verdict per attestation round, from a certificate (quorum
/// signatures in one transaction) or from single votes reaching quorum.
/// @dev Gas: the certificate path writes one slot for the round plus one shared
/// config/counter slot, checks all signers with one registry call, and stores the
/// committee only as a 160-bit commitment (its opening is in {VerdictRecorded}).
/// Calls go only to this deployment's own registry, reputation, clock and policy
/// contracts, which do not call back.
contract TrustBoard is ITrustBoard, AccessControl, EIP712 {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 public constant DISPUTES_ROLE = keccak256("DISPUTES_ROLE");

    bytes32 public constant VOTE_TYPEHASH = TrustBoardHashing.VOTE_TYPEHASH;
    bytes32 public constant VRF_CLAIM_TYPEHASH = TrustBoardHashing.VRF_CLAIM_TYPEHASH;

    uint8 private constant TRUSTED = 1;
    uint8 private constant UNTRUSTED = 2;
    uint8 private constant FLAG_VOIDED = 1;
    uint8 private constant FLAG_SINGLE = 2;

    /// @dev Parameters, the verdict counter and the epoch of the round-check cache share a
    /// slot: the certificate path reads the parameters anyway, so counting and knowing
    /// whether the cache applies cost nothing extra.
    struct Config {
        uint16 quorum;
        uint40 challengeWindow;
        uint64 maxRoundAge;
        uint64 verdictCount;
        uint64 cachedEpoch;
    }

    /// @dev An open epoch's committee threshold and active policy hash never change (the
    /// clock fixes the threshold when the epoch opens; policy upgrades only take effect in
    /// future epochs), so the latest epoch's pair is kept here instead of asking the clock
    /// and the policy contract on every round.
    struct EpochCache {
        uint256 threshold;
        bytes32 policyHash;
    }

    struct SingleVote {
        bytes32 voteHash;
        bytes32 output;
        bool self;
    }

    struct History {
        uint64 count;
        uint192 lastRound;
    }

    INodeRegistry public immutable registry;
    IEpochClock public immutable clock;
    IScoringPolicy public immutable policy;
    IReputation public immutable reputation;

    Config private _config;
    EpochCache private _epochCache;
    mapping(uint256 => VerdictRecord) private _records;
    mapping(uint64 => History) private _history;
    mapping(uint256 => mapping(address => SingleVote)) private _singleVotes;
    mapping(uint256 => mapping(bytes32 => address[])) private _tallies;

    constructor(
        INodeRegistry registry_,
        IEpochClock clock_,
        IScoringPolicy policy_,
        IReputation reputation_,
        uint16 quorum_,
        uint40 challengeWindow_,
        uint64 maxRoundAge_,
        address admin,
        address governor
    ) EIP712("TrustMesh TrustBoard", "1") {
        if (
            address(registry_) == address(0) || address(clock_) == address(0) || address(policy_) == address(0)
                || address(reputation_) == address(0) || admin == address(0) || governor == address(0)
        ) revert TrustBoardZeroAddress();
        registry = registry_;
        clock = clock_;
        policy = policy_;
        reputation = reputation_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
        _setParams(quorum_, challengeWindow_, maxRoundAge_);
    }

    // ---------------------------------------------------------------- votes

    /// @inheritdoc ITrustBoard
    function submitCertificate(Vote calldata vote, bytes[] calldata signatures, bytes32[] calldata vrfOutputs)
        external
    {
        Config memory cfg = _config;
        uint256 n = signatures.length;
        if (n < cfg.quorum) revert TrustBoardNotEnoughSignatures(n, cfg.quorum);
        if (vrfOutputs.length != n) revert TrustBoardLengthMismatch(n, vrfOutputs.length);
        uint256 threshold = _checkRound(vote, cfg);

        bytes32 digest = _hashTypedDataV4(_hashVote(vote));
        address[] memory signers = new address[](n);
        address previous = address(0);
        for (uint256 i = 0; i < n; ++i) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert TrustBoardInvalidSignature(i);
            if (signer <= previous) revert TrustBoardSignersNotSorted(i, signer);
            if (uint256(vrfOutputs[i]) >= threshold) {
                revert TrustBoardOutputAboveThreshold(signer, vrfOutputs[i], threshold);
            }
            signers[i] = signer;
            previous = signer;
        }
        uint256 bad = registry.firstIneligible(signers, vote.node, cfg.quorum);
        if (bad != type(uint256).max) revert TrustBoardSignerNotEligible(signers[bad]);

        bytes20 commitment = bytes20(keccak256(abi.encodePacked(signers, vrfOutputs)));
        _record(vote, commitment, 0, signers, vrfOutputs);
    }

    /// @inheritdoc ITrustBoard
    function submitVote(Vote calldata vote, bytes calldata signature, bytes32 vrfOutput) external {
        bytes32 h = _hashVote(vote);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(h), signature);
        if (err != ECDSA.RecoverError.NoError) revert TrustBoardInvalidSignature(0);
        _countVote(vote, h, signer, vrfOutput, false);
    }

    /// @inheritdoc ITrustBoard
    function castVote(Vote calldata vote, bytes32 vrfOutput) external {
        _countVote(vote, _hashVote(vote), msg.sender, vrfOutput, true);
    }

    /// @inheritdoc ITrustBoard
    function voidVerdict(uint256 round) external onlyRole(DISPUTES_ROLE) {
        VerdictRecord storage rec = _records[round];
        if (rec.recordedAt == 0) revert TrustBoardUnknownRound(round);
        if (rec.flags & FLAG_VOIDED != 0) revert TrustBoardAlreadyVoided(round);
        uint256 closesAt = uint256(rec.recordedAt) + _config.challengeWindow;
        if (block.timestamp >= closesAt) revert TrustBoardChallengeWindowClosed(round, closesAt);
        rec.flags |= FLAG_VOIDED;
        (, uint64 node,) = RoundId.decode(round);
        int256 delta = rec.reputationDelta;
        emit VerdictVoided(round, node, delta);
        registry.clearVerdict(node);
        reputation.revertDelta(node, delta);
    }

    /// @inheritdoc ITrustBoard
    function setParams(uint16 quorum_, uint40 challengeWindow_, uint64 maxRoundAge_)
        external
        onlyRole(GOVERNOR_ROLE)
    {
        _setParams(quorum_, challengeWindow_, maxRoundAge_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITrustBoard
    function verdict(uint256 round) external view returns (VerdictRecord memory) {
        return _records[round];
    }

    /// @inheritdoc ITrustBoard
    function verdictCount() external view returns (uint256) {
        return _config.verdictCount;
    }

    /// @notice The current quorum, challenge window (seconds) and maximum round age (epochs).
    function params() external view returns (uint16 quorum, uint40 challengeWindow, uint64 maxRoundAge) {
        Config memory c = _config;
        return (c.quorum, c.challengeWindow, c.maxRoundAge);
    }

    /// @inheritdoc ITrustBoard
    function nodeHistory(uint64 node) external view returns (uint64 count, uint256 lastRound) {
        History memory h = _history[node];
        return (h.count, h.lastRound);
    }

    /// @inheritdoc ITrustBoard
    function isFinal(uint256 round) external view returns (bool) {
        VerdictRecord memory rec = _records[round];
        return rec.recordedAt != 0 && rec.flags & FLAG_VOIDED == 0
            && block.timestamp >= uint256(rec.recordedAt) + _config.challengeWindow;
    }

    /// @inheritdoc ITrustBoard
    function voteHash(Vote calldata vote) external pure returns (bytes32) {
        return _hashVote(vote);
    }

    /// @inheritdoc ITrustBoard
    function voteDigest(Vote calldata vote) external view returns (bytes32) {
        return _hashTypedDataV4(_hashVote(vote));
    }

    /// @inheritdoc ITrustBoard
    function vrfClaimDigest(VrfClaim calldata claim) external view returns (bytes32) {
        return _hashTypedDataV4(TrustBoardHashing.hashVrfClaim(claim));
    }

    /// @inheritdoc ITrustBoard
    function votesFor(uint256 round, bytes32 voteHash_) external view returns (address[] memory) {
        return _tallies[round][voteHash_];
    }

    /// @inheritdoc ITrustBoard
    function participated(uint256 round, address signer, address[] calldata signers, bytes32[] calldata vrfOutputs)
        external
        view
        returns (bool)
    {
        VerdictRecord memory rec = _records[round];
        if (rec.recordedAt == 0 || rec.flags & FLAG_VOIDED != 0) return false;
        if (rec.flags & FLAG_SINGLE != 0) {
            return bytes20(_singleVotes[round][signer].voteHash) == rec.commitment;
        }
        if (bytes20(keccak256(abi.encodePacked(signers, vrfOutputs))) != rec.commitment) return false;
        for (uint256 i = 0; i < signers.length; ++i) {
            if (signers[i] == signer) return true;
        }
        return false;
    }

    /// @inheritdoc ITrustBoard
    function selfCommittedOutput(uint256 round, address signer) external view returns (bool found, bytes32 output) {
        SingleVote memory v = _singleVotes[round][signer];
        return (v.self, v.output);
    }

    // ---------------------------------------------------------------- internals

    function _countVote(Vote calldata vote, bytes32 h, address signer, bytes32 vrfOutput, bool self) private {
        Config memory cfg = _config;
        uint256 threshold = _checkRound(vote, cfg);
        if (uint256(vrfOutput) >= threshold) revert TrustBoardOutputAboveThreshold(signer, vrfOutput, threshold);
        SingleVote storage sv = _singleVotes[vote.round][signer];
        if (sv.voteHash != bytes32(0)) revert TrustBoardAlreadyVoted(vote.round, signer);
        address[] memory one = new address[](1);
        one[0] = signer;
        if (registry.firstIneligible(one, vote.node, cfg.quorum) != type(uint256).max) {
            revert TrustBoardSignerNotEligible(signer);
        }
        sv.voteHash = h;
        sv.output = vrfOutput;
        sv.self = self;
        address[] storage tally = _tallies[vote.round][h];
        tally.push(signer);
        uint256 count = tally.length;
        emit VoteCounted(vote.round, signer, h, count, vrfOutput, self);
        if (count >= cfg.quorum) _recordFromTally(vote, h);
    }

    function _recordFromTally(Vote calldata vote, bytes32 h) private {
        address[] memory signers = _tallies[vote.round][h];
        uint256 m = signers.length;
        bytes32[] memory outputs = new bytes32[](m);
        for (uint256 i = 0; i < m; ++i) {
            outputs[i] = _singleVotes[vote.round][signers[i]].output;
        }
        _record(vote, bytes20(h), FLAG_SINGLE, signers, outputs);
    }

    /// @dev Validates the round of `vote` and returns its epoch's committee threshold. The
    /// first round of a newer epoch than the cached one fills the cache (`cfg` is the
    /// caller's copy of the config slot).
    function _checkRound(Vote calldata vote, Config memory cfg) private returns (uint256 threshold) {
        (uint64 epoch, uint64 node,) = RoundId.decode(vote.round);
        if (node != vote.node) revert TrustBoardNodeMismatch(vote.round, vote.node);
        if (vote.verdict != TRUSTED && vote.verdict != UNTRUSTED) revert TrustBoardInvalidVerdict(vote.verdict);
        if (_records[vote.round].recordedAt != 0) revert TrustBoardRoundAlreadyRecorded(vote.round);
        uint64 current = clock.currentEpoch();
        if (epoch == 0 || epoch > current) revert TrustBoardEpochNotOpen(epoch, current);
        if (current - epoch > cfg.maxRoundAge) revert TrustBoardRoundTooLate(vote.round, epoch, current);
        bytes32 given = keccak256(vote.policyCid);
        bytes32 active;
        if (epoch == cfg.cachedEpoch) {
            EpochCache memory c = _epochCache;
            (threshold, active) = (c.threshold, c.policyHash);
        } else {
            active = policy.activeCidHash(epoch);
            threshold = clock.epochThreshold(epoch);
            if (epoch > cfg.cachedEpoch) {
                _config.cachedEpoch = epoch;
                _epochCache = EpochCache(threshold, active);
            }
        }
        if (given != active) revert TrustBoardPolicyMismatch(epoch, given, active);
    }

    function _record(
        Vote calldata vote,
        bytes20 commitment,
        uint8 flags,
        address[] memory signers,
        bytes32[] memory outputs
    ) private {
        bool trusted = vote.verdict == TRUSTED;
        registry.applyVerdict(vote.node, trusted);
        int256 delta = reputation.applyVerdict(vote.node, trusted);
        _records[vote.round] =
            VerdictRecord(commitment, vote.verdict, vote.score, uint40(block.timestamp), flags, int32(delta));
        ++_config.verdictCount;
        _history[vote.node] = History(_history[vote.node].count + 1, uint192(vote.round));
        emit VerdictRecorded(
            vote.round, vote.node, vote.verdict, vote.score, vote.evidenceCid, vote.policyCid, signers, outputs
        );
    }

    function _hashVote(Vote calldata vote) private pure returns (bytes32) {
        return TrustBoardHashing.hashVote(vote);
    }

    function _setParams(uint16 quorum_, uint40 challengeWindow_, uint64 maxRoundAge_) private {
        if (quorum_ == 0) revert TrustBoardInvalidParams(quorum_, challengeWindow_, maxRoundAge_);
        Config storage c = _config;
        c.quorum = quorum_;
        c.challengeWindow = challengeWindow_;
        c.maxRoundAge = maxRoundAge_;
        emit ParamsChanged(quorum_, challengeWindow_, maxRoundAge_);
    }
}
