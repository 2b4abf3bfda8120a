// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVRFVerifier} from "./IVRFVerifier.sol";

/// @title ITaskMarket
/// @notice Paid tasks over sealed inputs ("digital capsules"), executed by a VRF-chosen
/// Trusted node and paid out of escrow after its post-run attestation (docs/task-protocol.md).
interface ITaskMarket {
    /// @notice Lifecycle of a task. Settled, Failed and Refunded are final.
    enum TaskStatus {
        None,
        Open,
        Submitted,
        Settled,
        Failed,
        Refunded
    }

    /// @notice What a creator submits (docs/task-protocol.md section 1). CIDs are binary
    /// CIDs (ipfs adapter `cidToHex`); keys are X25519 public keys.
    /// @param functionCid the function source
    /// @param inputCids input capsules, 1..16
    /// @param inputCommitments the capsules' content commitments, one per input, non-zero
    /// @param taskKey the key the inputs are sealed to, non-zero
    /// @param recipientKeys the keys the result is sealed to, 1..16, non-zero
    /// @param timeLimitMs sandbox time limit, > 0
    /// @param memoryLimitMb sandbox memory limit, > 0
    /// @param minTier minimum NodeRegistry tier of the executor, <= 2
    /// @param payment escrowed TRUST, > 0
    /// @param deadline unix seconds, in the future; refund possible after it
    struct TaskSpec {
        bytes functionCid;
        bytes[] inputCids;
        bytes32[] inputCommitments;
        bytes32 taskKey;
        bytes32[] recipientKeys;
        uint32 timeLimitMs;
        uint32 memoryLimitMb;
        uint8 minTier;
        uint256 payment;
        uint64 deadline;
    }

    /// @notice A task as stored: the spec itself is only committed to (`specHash` =
    /// keccak256(abi.encode(spec))); its fields are in {TaskCreated} and {TaskInputs}.
    /// The result CID is in {ResultSubmitted}.
    /// @param creator who paid; refunds go here
    /// @param deadline from the spec
    /// @param minTier from the spec
    /// @param status lifecycle
    /// @param seedEpoch EpochClock epoch at creation: its seed is the sortition seed
    /// @param createdAt block time of creation (VRF key and pre-run freshness reference)
    /// @param executor node of the current result (0 = none)
    /// @param historyCount TrustBoard `nodeHistory(executor).count` when the current result
    /// was submitted (48 bits: a node never has 2^48 verdicts; this keeps the slot packed)
    /// @param submittedAt block time of the current result's submission (0 = none): a
    /// post-run round must be recorded at or after it
    /// @param payment escrowed amount (kept after settlement as a record; the status tells
    /// whether it is still escrowed)
    /// @param threshold executor sortition threshold, fixed at creation
    /// @param specHash keccak256(abi.encode(spec))
    /// @param vrfOutput VRF output of the current result (bytes32(0) = none)
    /// @param resultCommitment the current result's commitment
    struct Task {
        address creator;
        uint64 deadline;
        uint8 minTier;
        TaskStatus status;
        uint64 seedEpoch;
        uint40 createdAt;
        uint64 executor;
        uint48 historyCount;
        uint40 submittedAt;
        uint256 payment;
        uint256 threshold;
        bytes32 specHash;
        bytes32 vrfOutput;
        bytes32 resultCommitment;
    }

    /// @notice Penalty applied through NodeRegistry.slash when the post-run verdict is Untrusted.
    /// @param slashBps share of the executor's stake slashed
    /// @param rewardBps share of the slashed amount paid to the task's creator
    /// @param banPeriod ban duration in seconds
    struct Params {
        uint16 slashBps;
        uint16 rewardBps;
        uint40 banPeriod;
    }

    error TaskMarketZeroAddress();
    error TaskMarketEmptyCid();
    error TaskMarketCidTooLong(uint256 length, uint256 max);
    error TaskMarketBadInputCount(uint256 count);
    error TaskMarketLengthMismatch(uint256 inputCids, uint256 inputCommitments);
    error TaskMarketZeroValue();
    error TaskMarketBadRecipientCount(uint256 count);
    error TaskMarketZeroLimit();
    error TaskMarketInvalidTier(uint8 tier, uint8 maxTier);
    error TaskMarketZeroPayment();
    error TaskMarketDeadlineInPast(uint64 deadline, uint256 nowTime);
    error TaskMarketUnknownTask(uint256 taskId);
    error TaskMarketInvalidStatus(uint256 taskId, TaskStatus status);
    error TaskMarketDeadlinePassed(uint256 taskId, uint64 deadline);
    error TaskMarketDeadlineNotReached(uint256 taskId, uint64 deadline);
    error TaskMarketNotGateway(uint64 nodeId, address caller);
    error TaskMarketNodeNotTrusted(uint64 nodeId, uint8 status);
    error TaskMarketTierTooLow(uint64 nodeId, uint8 tier, uint8 minTier);
    error TaskMarketNoVerifier();
    error TaskMarketInvalidProof(uint256 taskId, uint64 nodeId);
    error TaskMarketAboveThreshold(bytes32 output, uint256 threshold);
    error TaskMarketNotLower(bytes32 output, bytes32 current);
    error TaskMarketNotPostRunRound(uint256 taskId, uint256 round);
    error TaskMarketNoPostRunVerdict(uint256 taskId, uint256 round);
    error TaskMarketVerdictBeforeResult(uint256 taskId, uint256 round, uint40 recordedAt, uint40 submittedAt);
    error TaskMarketVerdictVoided(uint256 taskId, uint256 round);
    error TaskMarketVerdictExists(uint256 taskId, uint256 round);
    error TaskMarketInvalidParams(uint16 slashBps, uint16 rewardBps);
    error TaskMarketNoFreshAttestation(uint64 nodeId, uint256 round, uint40 recordedAt, uint40 createdAt);
    error TaskMarketInsufficientGas();
    error TaskMarketResultLocked(uint256 taskId, uint256 round);

    /// @notice A task was created and its payment escrowed. With {TaskInputs} of the same
    /// transaction it carries the whole spec; `specHash` commits to it.
    event TaskCreated(
        uint256 indexed taskId,
        address indexed creator,
        bytes functionCid,
        bytes32 taskKey,
        uint32 timeLimitMs,
        uint32 memoryLimitMb,
        uint8 minTier,
        uint256 payment,
        uint64 deadline,
        uint64 seedEpoch,
        uint256 threshold,
        bytes32 specHash
    );
    /// @notice The array fields of a new task's spec (emitted right after {TaskCreated}).
    event TaskInputs(uint256 indexed taskId, bytes[] inputCids, bytes32[] inputCommitments, bytes32[] recipientKeys);
    /// @notice A result was recorded for `node`, whose VRF output for the task is `vrfOutput`;
    /// `historyCount` is the node's TrustBoard history count at this moment.
    event ResultSubmitted(
        uint256 indexed taskId,
        uint64 indexed node,
        address indexed gateway,
        bytes32 vrfOutput,
        bytes resultCid,
        bytes32 resultCommitment,
        uint64 historyCount
    );
    /// @notice A result with a strictly lower VRF output replaced the previous one
    /// (emitted before the new {ResultSubmitted}).
    event ResultReplaced(
        uint256 indexed taskId, uint64 indexed oldNode, uint64 indexed newNode, bytes32 oldOutput, bytes32 newOutput
    );
    /// @notice The post-run task round `round` was Trusted: `payment` went to the executor's operator.
    event TaskSettled(
        uint256 indexed taskId, uint64 indexed node, address indexed operator, uint256 payment, uint256 round
    );
    /// @notice The post-run task round `round` was Untrusted: the executor was slashed
    /// (`slashed`, of which `reward` went to the creator) and `refund` went back to the creator.
    event TaskFailed(
        uint256 indexed taskId,
        uint64 indexed node,
        address indexed creator,
        uint256 refund,
        uint256 round,
        uint256 slashed,
        uint256 reward
    );
    /// @notice The slash of an Untrusted executor reverted (`reason`, e.g. the market lost
    /// SLASHER_ROLE); the creator was refunded anyway so escrow never gets stuck.
    event SlashFailed(uint256 indexed taskId, uint64 indexed node, bytes reason);
    /// @notice After the deadline, unsettled, `payment` went back to the creator.
    event TaskRefunded(uint256 indexed taskId, address indexed creator, uint256 payment);
    event ParamsChanged(uint16 slashBps, uint16 rewardBps, uint40 banPeriod);
    event VerifierChanged(address indexed oldVerifier, address indexed newVerifier);

    /// @notice Creates a task and escrows `spec.payment` from the caller (allowance needed).
    /// The task's seed epoch is the clock's current epoch; its executor threshold is
    /// `EpochClock.thresholdFor(EXECUTOR_COMMITTEE, registry.eligibleVerifierCount())` now.
    /// @dev Emits {TaskCreated}, {TaskInputs} and the token's {Transfer}.
    ///
    /// Requirements:
    /// - non-empty CIDs of at most 128 bytes; 1..16 inputs with as many non-zero commitments;
    /// - non-zero task key; 1..16 non-zero recipient keys; non-zero limits;
    /// - `minTier <= 2`; `payment > 0`; `deadline` after the current block time.
    function createTask(TaskSpec calldata spec) external returns (uint256 taskId);

    /// @notice {createTask} after an EIP-2612 permit of `spec.payment` to this contract.
    /// A failing permit is ignored (it may have been front-run); the transfer then decides.
    /// @dev Emits {Approval} (token), {TaskCreated}, {TaskInputs}.
    ///
    /// Requirements: those of {createTask}; an allowance of `spec.payment` after the permit.
    function createTaskWithPermit(TaskSpec calldata spec, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (uint256 taskId);

    /// @notice Records a result from node `nodeId`'s current gateway. The node was attested
    /// before the run: its latest TrustBoard verdict is Trusted, not voided, and recorded at
    /// or after the task's creation. It proves it was selected: its VRF proof on alpha =
    /// seed(seedEpoch) || taskId || uint8(2) verifies ({IVRFVerifier.fastVerify} with
    /// off-chain helpers) for its VRF key in force at the task's creation, and the output is
    /// below the task's threshold. Another result is replaced only by a strictly lower
    /// output, and only while no verdict on its executor was recorded since it (the latest
    /// not voided; then it is locked). Snapshots the node's TrustBoard history count and
    /// the block time (`submittedAt`).
    /// @dev Emits {ResultReplaced} (when replacing) and {ResultSubmitted}.
    ///
    /// Requirements:
    /// - the task is Open or Submitted and its deadline has not passed;
    /// - caller is the node's gateway; node Trusted with tier >= minTier;
    /// - a fresh pre-run verdict (see above); a verifier is set;
    /// - valid proof and helpers; output < threshold;
    /// - if a result exists: output < its output, and it is not locked (see above).
    function submitResult(
        uint256 taskId,
        uint64 nodeId,
        uint256[4] calldata proof,
        uint256[2] calldata uPoint,
        uint256[4] calldata vComponents,
        bytes calldata resultCid,
        bytes32 resultCommitment
    ) external;

    /// @notice Settles a task on the verdict of `postRunRound`, a post-run task round of
    /// the executor for this task: only such a round judged the executor's scratch cleanup,
    /// so no other verdict (scheduled round, pre-run round, another task's) can settle it.
    /// The caller names the round because the board cannot enumerate a node's rounds
    /// (off chain: the executor's {ITrustBoard.VerdictRecorded} events). Trusted: the
    /// payment is pushed to the executor's operator. Untrusted: the executor is slashed
    /// (when still slashable) and the payment is pushed back to the creator. Anyone may call.
    /// A reverting slash does not block the refund ({SlashFailed}); a caller cannot make it
    /// fail by starving it of gas ({TaskMarketInsufficientGas}).
    /// @dev Emits {TaskSettled}, or {TaskFailed} (plus the registry's {NodeSlashed}, or {SlashFailed}).
    ///
    /// Requirements:
    /// - the task is Submitted;
    /// - `postRunRound` decodes (`epoch << 128 | node << 64 | sequence`) to node == the
    ///   executor and a sequence with bit 63 (task round) and bit 62 (post-run) set,
    ///   attempt (bits 32..61) below 4 (`MAX_TASK_ROUND_ATTEMPTS`) and task id (bits 0..31)
    ///   == `taskId` ({TaskMarketNotPostRunRound});
    /// - its verdict is recorded ({TaskMarketNoPostRunVerdict}), not voided
    ///   ({TaskMarketVerdictVoided}), and recorded at or after the result's submission
    ///   ({TaskMarketVerdictBeforeResult}).
    function settle(uint256 taskId, uint256 postRunRound) external;

    /// @notice Returns the payment to the creator after the deadline while the task is
    /// unsettled. Anyone may call. The contract cannot enumerate the executor's rounds, so
    /// it refuses only when the executor's latest TrustBoard verdict is itself a round that
    /// would settle the task ({settle} applies): a settle-able round followed by another
    /// verdict on the executor no longer blocks the refund, so settle promptly.
    /// @dev Emits {TaskRefunded}.
    ///
    /// Requirements:
    /// - the task is Open or Submitted; the block time is after `deadline`;
    /// - when Submitted, the executor's latest verdict does not pass {settle}'s round
    ///   checks ({TaskMarketVerdictExists}).
    function refund(uint256 taskId) external;

    /// @notice Sets the penalty for an Untrusted post-run verdict.
    /// @dev Emits {ParamsChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; both bps <= 10000.
    function setParams(uint16 slashBps, uint16 rewardBps, uint40 banPeriod) external;

    /// @notice Sets the ECVRF verifier contract (zero disables {submitResult}).
    /// @dev Emits {VerifierChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE.
    function setVerifier(IVRFVerifier newVerifier) external;

    /// @notice The id the next created task gets (ids count up from 1). View; no requirements.
    function nextTaskId() external view returns (uint256);
    /// @notice The stored task (zeroed for unknown ids). View; no requirements.
    function getTask(uint256 taskId) external view returns (Task memory);
    /// @notice keccak256(abi.encode(spec)), the commitment stored as `specHash`. Pure; no requirements.
    function hashSpec(TaskSpec calldata spec) external pure returns (bytes32);
    /// @notice The sortition alpha of `taskId`: abi.encodePacked(seed(seedEpoch), taskId, uint8(2)). View; unknown ids revert.
    function executorAlpha(uint256 taskId) external view returns (bytes memory);
    /// @notice Sum of payments of Open and Submitted tasks: equals this contract's token
    /// balance (barring tokens sent to it directly). View; no requirements.
    function escrowed() external view returns (uint256);
}
