// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IEpochClock} from "./interfaces/IEpochClock.sol";
import {ITrustBoard} from "./interfaces/ITrustBoard.sol";
import {IVRFVerifier} from "./interfaces/IVRFVerifier.sol";
import {EpochClock} from "./EpochClock.sol";

/// @title TaskMarket
/// @notice Escrowed tasks over sealed inputs, run by a VRF-chosen Trusted node that reveals
/// its selection only with the result, and paid after its post-run task round
/// (docs/task-protocol.md).
/// @dev Gas: a task is five storage slots at creation (creator/deadline/tier/status,
/// epoch/time/executor/history/submission time, payment, threshold, spec hash) plus two
/// when a result comes in (VRF output, result commitment). The spec's CIDs, keys and
/// limits are not stored: they are committed to by `specHash` and published in
/// {TaskCreated} and {TaskInputs}; the result CID only in {ResultSubmitted}. Calls go to this deployment's
/// own token, registry, clock, board and verifier.
contract TaskMarket is ITaskMarket, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Expected number of executor candidates per task (sortition threshold).
    uint256 public constant EXECUTOR_COMMITTEE = 2;
    uint8 public constant ROLE_EXECUTOR = 2;
    uint8 public constant MAX_TIER = 2;
    uint256 public constant MAX_INPUTS = 16;
    uint256 public constant MAX_RECIPIENTS = 16;
    /// @notice Longest CID accepted (CIDv1 sha2-256 is 36 bytes; room for other hashes).
    uint256 public constant MAX_CID_LENGTH = 128;
    /// @notice Attempts per task and phase a task round id can carry (offchain/core/protocol.ts).
    uint64 public constant MAX_TASK_ROUND_ATTEMPTS = 4;

    uint8 private constant TRUSTED = 1;
    uint8 private constant FLAG_VOIDED = 1;
    uint16 private constant BPS = 10_000;
    /// @dev Task round sequence (low 64 bits of a round id): bit 63 task round, bit 62
    /// post-run, bits 32..61 attempt, bits 0..31 task id.
    uint64 private constant POST_RUN_TASK_ROUND = 3 << 62;
    uint64 private constant ATTEMPT_MASK = (1 << 30) - 1;
    uint64 private constant TASK_ID_MASK = (1 << 32) - 1;

    /// @dev The last task id and the escrow total share a slot: creation writes both.
    struct Counters {
        uint64 lastTaskId;
        uint192 escrowed;
    }

    IERC20 public immutable token;
    INodeRegistry public immutable registry;
    IEpochClock public immutable clock;
    ITrustBoard public immutable board;
    IVRFVerifier public verifier;
    Params public params;
    Counters private _counters;
    mapping(uint256 => Task) private _tasks;

    constructor(
        IERC20 token_,
        INodeRegistry registry_,
        IEpochClock clock_,
        ITrustBoard board_,
        IVRFVerifier verifier_,
        Params memory params_,
        address admin,
        address governor
    ) {
        if (
            address(token_) == address(0) || address(registry_) == address(0) || address(clock_) == address(0)
                || address(board_) == address(0) || admin == address(0) || governor == address(0)
        ) revert TaskMarketZeroAddress();
        token = token_;
        registry = registry_;
        clock = clock_;
        board = board_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
        _setParams(params_);
        _setVerifier(verifier_);
    }

    // ---------------------------------------------------------------- creation

    /// @inheritdoc ITaskMarket
    function createTask(TaskSpec calldata spec) external nonReentrant returns (uint256 taskId) {
        return _create(spec);
    }

    /// @inheritdoc ITaskMarket
    function createTaskWithPermit(TaskSpec calldata spec, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        returns (uint256 taskId)
    {
        // A front-run permit (same signature submitted by someone else) already set the
        // allowance, so its failure is ignored: the transfer in `_create` decides.
        try IERC20Permit(address(token)).permit(msg.sender, address(this), spec.payment, permitDeadline, v, r, s) {}
            catch {}
        return _create(spec);
    }

    // ---------------------------------------------------------------- results

    /// @inheritdoc ITaskMarket
    function submitResult(
        uint256 taskId,
        uint64 nodeId,
        uint256[4] calldata proof,
        uint256[2] calldata uPoint,
        uint256[4] calldata vComponents,
        bytes calldata resultCid,
        bytes32 resultCommitment
    ) external {
        Task storage t = _tasks[taskId];
        TaskStatus status = t.status;
        if (status == TaskStatus.None) revert TaskMarketUnknownTask(taskId);
        if (status != TaskStatus.Open && status != TaskStatus.Submitted) revert TaskMarketInvalidStatus(taskId, status);
        if (block.timestamp > t.deadline) revert TaskMarketDeadlinePassed(taskId, t.deadline);
        _checkCid(resultCid);
        if (resultCommitment == bytes32(0)) revert TaskMarketZeroValue();
        _checkExecutor(nodeId, t.minTier);
        uint64 count = _checkPreRunAttestation(nodeId, t.createdAt);

        bytes32 output = _selectionOutput(t, taskId, nodeId, proof, uPoint, vComponents);
        if (status == TaskStatus.Submitted) _replace(t, taskId, nodeId, output);
        t.status = TaskStatus.Submitted;
        t.executor = nodeId;
        t.historyCount = SafeCast.toUint48(count);
        t.submittedAt = uint40(block.timestamp);
        t.vrfOutput = output;
        t.resultCommitment = resultCommitment;
        emit ResultSubmitted(taskId, nodeId, msg.sender, output, resultCid, resultCommitment, count);
    }

    // ---------------------------------------------------------------- settlement

    /// @inheritdoc ITaskMarket
    function settle(uint256 taskId, uint256 postRunRound) external nonReentrant {
        Task storage t = _tasks[taskId];
        TaskStatus status = t.status;
        if (status == TaskStatus.None) revert TaskMarketUnknownTask(taskId);
        if (status != TaskStatus.Submitted) revert TaskMarketInvalidStatus(taskId, status);
        uint64 node = t.executor;
        uint256 round = postRunRound;
        if (!_isPostRunRound(round, taskId, node)) revert TaskMarketNotPostRunRound(taskId, round);
        ITrustBoard.VerdictRecord memory rec = board.verdict(round);
        if (rec.recordedAt == 0) revert TaskMarketNoPostRunVerdict(taskId, round);
        if (rec.flags & FLAG_VOIDED != 0) revert TaskMarketVerdictVoided(taskId, round);
        uint40 submittedAt = t.submittedAt;
        if (rec.recordedAt < submittedAt) {
            revert TaskMarketVerdictBeforeResult(taskId, round, rec.recordedAt, submittedAt);
        }

        uint256 payment = t.payment;
        _release(payment);
        if (rec.verdict == TRUSTED) {
            t.status = TaskStatus.Settled;
            address operator = registry.getNode(node).operator;
            emit TaskSettled(taskId, node, operator, payment, round);
            token.safeTransfer(operator, payment);
        } else {
            // TrustBoard records only verdicts 1 and 2, so anything else is Untrusted.
            t.status = TaskStatus.Failed;
            address creator = t.creator;
            (uint256 slashed, uint256 reward) = _slash(taskId, node, creator);
            emit TaskFailed(taskId, node, creator, payment, round, slashed, reward);
            token.safeTransfer(creator, payment);
        }
    }

    /// @inheritdoc ITaskMarket
    function refund(uint256 taskId) external nonReentrant {
        Task storage t = _tasks[taskId];
        TaskStatus status = t.status;
        if (status == TaskStatus.None) revert TaskMarketUnknownTask(taskId);
        if (status != TaskStatus.Open && status != TaskStatus.Submitted) revert TaskMarketInvalidStatus(taskId, status);
        if (block.timestamp <= t.deadline) revert TaskMarketDeadlineNotReached(taskId, t.deadline);
        if (status == TaskStatus.Submitted) {
            // Only the latest round is visible on chain; see {ITaskMarket-refund}.
            (, uint256 lastRound) = board.nodeHistory(t.executor);
            if (_settles(t, taskId, lastRound)) revert TaskMarketVerdictExists(taskId, lastRound);
        }
        t.status = TaskStatus.Refunded;
        uint256 payment = t.payment;
        _release(payment);
        address creator = t.creator;
        emit TaskRefunded(taskId, creator, payment);
        token.safeTransfer(creator, payment);
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc ITaskMarket
    function setParams(uint16 slashBps, uint16 rewardBps, uint40 banPeriod) external onlyRole(GOVERNOR_ROLE) {
        _setParams(Params(slashBps, rewardBps, banPeriod));
    }

    /// @inheritdoc ITaskMarket
    function setVerifier(IVRFVerifier newVerifier) external onlyRole(GOVERNOR_ROLE) {
        _setVerifier(newVerifier);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITaskMarket
    function nextTaskId() external view returns (uint256) {
        return uint256(_counters.lastTaskId) + 1;
    }

    /// @inheritdoc ITaskMarket
    function getTask(uint256 taskId) external view returns (Task memory) {
        return _tasks[taskId];
    }

    /// @inheritdoc ITaskMarket
    function hashSpec(TaskSpec calldata spec) external pure returns (bytes32) {
        return keccak256(abi.encode(spec));
    }

    /// @inheritdoc ITaskMarket
    function executorAlpha(uint256 taskId) external view returns (bytes memory) {
        Task storage t = _tasks[taskId];
        if (t.status == TaskStatus.None) revert TaskMarketUnknownTask(taskId);
        return _alpha(t.seedEpoch, taskId);
    }

    /// @inheritdoc ITaskMarket
    function escrowed() external view returns (uint256) {
        return _counters.escrowed;
    }

    // ---------------------------------------------------------------- internals

    function _create(TaskSpec calldata spec) private returns (uint256 taskId) {
        _checkSpec(spec);
        Counters memory c = _counters;
        taskId = uint256(c.lastTaskId) + 1;
        _counters = Counters(SafeCast.toUint64(taskId), SafeCast.toUint192(uint256(c.escrowed) + spec.payment));

        uint64 epoch = clock.currentEpoch();
        uint256 threshold =
            EpochClock(address(clock)).thresholdFor(EXECUTOR_COMMITTEE, registry.eligibleVerifierCount());
        bytes32 specHash = keccak256(abi.encode(spec));
        Task storage t = _tasks[taskId];
        t.creator = msg.sender;
        t.deadline = spec.deadline;
        t.minTier = spec.minTier;
        t.status = TaskStatus.Open;
        t.seedEpoch = epoch;
        t.createdAt = uint40(block.timestamp);
        t.payment = spec.payment;
        t.threshold = threshold;
        t.specHash = specHash;
        _emitCreated(taskId, spec, epoch, threshold, specHash);
        token.safeTransferFrom(msg.sender, address(this), spec.payment);
    }

    function _emitCreated(uint256 taskId, TaskSpec calldata spec, uint64 epoch, uint256 threshold, bytes32 specHash)
        private
    {
        emit TaskCreated(
            taskId,
            msg.sender,
            spec.functionCid,
            spec.taskKey,
            spec.timeLimitMs,
            spec.memoryLimitMb,
            spec.minTier,
            spec.payment,
            spec.deadline,
            epoch,
            threshold,
            specHash
        );
        emit TaskInputs(taskId, spec.inputCids, spec.inputCommitments, spec.recipientKeys);
    }

    function _checkSpec(TaskSpec calldata spec) private view {
        _checkCid(spec.functionCid);
        uint256 n = spec.inputCids.length;
        if (n == 0 || n > MAX_INPUTS) revert TaskMarketBadInputCount(n);
        if (spec.inputCommitments.length != n) revert TaskMarketLengthMismatch(n, spec.inputCommitments.length);
        for (uint256 i = 0; i < n; ++i) {
            _checkCid(spec.inputCids[i]);
            if (spec.inputCommitments[i] == bytes32(0)) revert TaskMarketZeroValue();
        }
        if (spec.taskKey == bytes32(0)) revert TaskMarketZeroValue();
        uint256 m = spec.recipientKeys.length;
        if (m == 0 || m > MAX_RECIPIENTS) revert TaskMarketBadRecipientCount(m);
        for (uint256 i = 0; i < m; ++i) {
            if (spec.recipientKeys[i] == bytes32(0)) revert TaskMarketZeroValue();
        }
        if (spec.timeLimitMs == 0 || spec.memoryLimitMb == 0) revert TaskMarketZeroLimit();
        if (spec.minTier > MAX_TIER) revert TaskMarketInvalidTier(spec.minTier, MAX_TIER);
        if (spec.payment == 0) revert TaskMarketZeroPayment();
        if (spec.deadline <= block.timestamp) revert TaskMarketDeadlineInPast(spec.deadline, block.timestamp);
    }

    function _checkCid(bytes calldata cid) private pure {
        if (cid.length == 0) revert TaskMarketEmptyCid();
        if (cid.length > MAX_CID_LENGTH) revert TaskMarketCidTooLong(cid.length, MAX_CID_LENGTH);
    }

    function _checkExecutor(uint64 nodeId, uint8 minTier) private view {
        INodeRegistry.Node memory n = registry.getNode(nodeId);
        if (n.gateway != msg.sender || n.gateway == address(0)) revert TaskMarketNotGateway(nodeId, msg.sender);
        if (n.status != INodeRegistry.NodeStatus.Trusted) revert TaskMarketNodeNotTrusted(nodeId, uint8(n.status));
        if (n.tier < minTier) revert TaskMarketTierTooLow(nodeId, n.tier, minTier);
    }

    /// @dev Pre-run attestation, enforced here as well as by the key broker: the node's
    /// latest verdict is Trusted, not voided, and recorded at or after the task's creation.
    /// Returns the node's history count, the baseline for the post-run verdict.
    function _checkPreRunAttestation(uint64 nodeId, uint40 createdAt) private view returns (uint64 count) {
        uint256 lastRound;
        (count, lastRound) = board.nodeHistory(nodeId);
        ITrustBoard.VerdictRecord memory rec = board.verdict(lastRound);
        if (count == 0 || rec.verdict != TRUSTED || rec.flags & FLAG_VOIDED != 0 || rec.recordedAt < createdAt) {
            revert TaskMarketNoFreshAttestation(nodeId, lastRound, rec.recordedAt, createdAt);
        }
    }

    /// @dev The proof must verify for the key in force at creation, so a key rotated after
    /// the task was created (possibly chosen knowing the seed) cannot be used to re-roll.
    /// A reverting verifier call (malformed points) counts as an invalid proof.
    function _selectionOutput(
        Task storage t,
        uint256 taskId,
        uint64 nodeId,
        uint256[4] calldata proof,
        uint256[2] calldata uPoint,
        uint256[4] calldata vComponents
    ) private view returns (bytes32 output) {
        IVRFVerifier v = verifier;
        if (address(v) == address(0)) revert TaskMarketNoVerifier();
        uint256[2] memory key = registry.vrfPublicKeyAt(nodeId, t.createdAt);
        bytes memory alpha = _alpha(t.seedEpoch, taskId);
        bool ok;
        try v.fastVerify(key, proof, alpha, uPoint, vComponents) returns (bool r) {
            ok = r;
        } catch {}
        if (!ok) revert TaskMarketInvalidProof(taskId, nodeId);
        output = v.gammaToHash(proof[0], proof[1]);
        if (uint256(output) >= t.threshold) revert TaskMarketAboveThreshold(output, t.threshold);
    }

    /// @dev Only a strictly lower output replaces a result, and only while no verdict on
    /// its executor was recorded since (the latest not voided): once the executor was
    /// attested after its run, the result is locked, so a late candidate can neither take
    /// the pay of an attested executor nor spare an Untrusted one its slash. The board
    /// shows only a node's latest round, and a scheduled round may land after the post-run
    /// one, so any verdict since the result locks it (a superset of the settle-able case).
    function _replace(Task storage t, uint256 taskId, uint64 nodeId, bytes32 output) private {
        bytes32 current = t.vrfOutput;
        if (output >= current) revert TaskMarketNotLower(output, current);
        (uint64 count, uint256 lastRound) = board.nodeHistory(t.executor);
        if (count > t.historyCount && board.verdict(lastRound).flags & FLAG_VOIDED == 0) {
            revert TaskMarketResultLocked(taskId, lastRound);
        }
        emit ResultReplaced(taskId, t.executor, nodeId, current, output);
    }

    function _alpha(uint64 seedEpoch, uint256 taskId) private view returns (bytes memory) {
        return abi.encodePacked(clock.epochSeed(seedEpoch), taskId, ROLE_EXECUTOR);
    }

    /// @dev Whether `round` is a post-run task round of `node` for `taskId`: the only kind
    /// whose verifiers judged the scratch cleanup. Same layout as `taskRoundSequence` in
    /// offchain/core/protocol.ts; ids above 192 bits name no round (RoundId). Task ids
    /// above 2^32-1 have no task rounds, so such tasks can only be refunded.
    function _isPostRunRound(uint256 round, uint256 taskId, uint64 node) private pure returns (bool) {
        if (round >> 192 != 0 || uint64(round >> 64) != node) return false;
        uint64 sequence = uint64(round);
        return sequence & POST_RUN_TASK_ROUND == POST_RUN_TASK_ROUND
            && (sequence >> 32) & ATTEMPT_MASK < MAX_TASK_ROUND_ATTEMPTS && sequence & TASK_ID_MASK == taskId;
    }

    /// @dev Whether {settle} would accept `round` for this Submitted task.
    function _settles(Task storage t, uint256 taskId, uint256 round) private view returns (bool) {
        if (!_isPostRunRound(round, taskId, t.executor)) return false;
        ITrustBoard.VerdictRecord memory rec = board.verdict(round);
        return rec.recordedAt != 0 && rec.flags & FLAG_VOIDED == 0 && rec.recordedAt >= t.submittedAt;
    }

    /// @dev A withdrawn node has no stake left to slash; the creator is refunded anyway.
    /// Any other failing slash (e.g. SLASHER_ROLE revoked) must not lock the escrow either,
    /// but a settler (possibly the executor) must not be able to cause it by starving the
    /// call: a revert with at most 1/64 of the gas left is treated as starvation.
    function _slash(uint256 taskId, uint64 node, address creator) private returns (uint256 slashed, uint256 reward) {
        if (registry.statusOf(node) == INodeRegistry.NodeStatus.Withdrawn) return (0, 0);
        Params memory p = params;
        uint256 g = gasleft();
        try registry.slash(node, p.slashBps, p.rewardBps, creator, p.banPeriod) returns (uint256 s, uint256 r) {
            return (s, r);
        } catch (bytes memory reason) {
            if (gasleft() <= g / 63) revert TaskMarketInsufficientGas();
            emit SlashFailed(taskId, node, reason);
            return (0, 0);
        }
    }

    function _release(uint256 payment) private {
        _counters.escrowed -= uint192(payment);
    }

    function _setParams(Params memory p) private {
        if (p.slashBps > BPS || p.rewardBps > BPS) revert TaskMarketInvalidParams(p.slashBps, p.rewardBps);
        params = p;
        emit ParamsChanged(p.slashBps, p.rewardBps, p.banPeriod);
    }

    function _setVerifier(IVRFVerifier newVerifier) private {
        emit VerifierChanged(address(verifier), address(newVerifier));
        verifier = newVerifier;
    }
}
