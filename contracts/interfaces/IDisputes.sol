// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrustBoard} from "./ITrustBoard.sol";
import {IVRFVerifier} from "./IVRFVerifier.sol";

/// @title IDisputes
/// @notice Permissionless fraud proofs against verifiers: equivocation and VRF fraud.
interface IDisputes {
    enum Kind {
        None,
        Equivocation,
        VrfFraud
    }

    /// @notice What a VRF-fraud dispute proved.
    enum Fraud {
        None,
        Equivocation,
        InvalidProof,
        AboveThreshold,
        OutputMismatch
    }

    /// @notice Opening of a certificate round's commitment (from {ITrustBoard.VerdictRecorded}).
    /// Needed only to void the verdict of a certificate round; may be empty.
    struct Opening {
        address[] signers;
        bytes32[] vrfOutputs;
    }

    /// @notice Helper points for {IVRFVerifier.fastVerify}, computed off chain.
    struct VrfHelpers {
        uint256[2] uPoint;
        uint256[4] vComponents;
    }

    error DisputesRoundMismatch(uint256 roundA, uint256 roundB);
    error DisputesNotConflicting(uint256 round);
    error DisputesBadSignature();
    error DisputesSignerMismatch(address signerA, address signerB);
    error DisputesUnknownSigner(address signer);
    error DisputesAlreadyPunished(address signer, uint256 round, Kind kind);
    error DisputesEpochNotOpen(uint64 epoch, uint64 currentEpoch);
    error DisputesWindowClosed(uint256 round, uint64 epoch, uint64 currentEpoch);
    error DisputesWrongRole(uint8 role);
    error DisputesNoFraud(uint256 round, address signer);
    error DisputesBadHelpers();
    error DisputesInsufficientGas();
    error DisputesNoVerifier();
    error DisputesInvalidParams(uint16 slashBps, uint16 rewardBps, uint40 banPeriod, uint64 windowEpochs);
    error DisputesZeroAddress();

    event DisputeResolved(
        uint256 indexed round,
        uint64 indexed node,
        address indexed signer,
        Kind kind,
        Fraud fraud,
        address disputer,
        uint256 slashed,
        uint256 reward,
        bool verdictVoided
    );
    event ParamsChanged(uint16 slashBps, uint16 rewardBps, uint40 banPeriod, uint64 windowEpochs);
    event VerifierChanged(address indexed oldVerifier, address indexed newVerifier);

    /// @notice Proves that one signer signed two different votes for one round.
    /// @dev Emits {DisputeResolved}; the registry emits {NodeSlashed}, reputation
    /// {ScoreChanged}, and the board {VerdictVoided} when the verdict is voided.
    ///
    /// Requirements:
    /// - same round, different content; both signatures valid and of the same registered signer;
    /// - the round's epoch is open and at most `windowEpochs` old;
    /// - this signer was not already punished for equivocation in this round.
    function disputeEquivocation(
        ITrustBoard.Vote calldata a,
        bytes calldata signatureA,
        ITrustBoard.Vote calldata b,
        bytes calldata signatureB,
        Opening calldata opening
    ) external;

    /// @notice Proves that a signed sortition claim (role Verifier) is fraudulent: its proof
    /// is invalid for the signer's VRF key on alpha = seed || round || role, or valid with an
    /// output at or above the epoch threshold, or valid with an output other than the one
    /// the signer committed itself on the board ({ITrustBoard.castVote}).
    /// @dev Emits {DisputeResolved} (plus registry, reputation and board events).
    ///
    /// Requirements:
    /// - a verifier is set; `claim.role` is Verifier; valid signature of a registered signer;
    /// - the round's epoch is open and at most `windowEpochs` old; not already punished;
    /// - the claim is fraudulent (else {DisputesNoFraud}); correct helpers for valid proofs.
    function disputeVrfFraud(
        ITrustBoard.VrfClaim calldata claim,
        bytes calldata signature,
        VrfHelpers calldata helpers,
        Opening calldata opening
    ) external;

    /// @notice Sets the penalty parameters.
    /// @dev Emits {ParamsChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; both bps <= 10000.
    function setParams(uint16 slashBps, uint16 rewardBps, uint40 banPeriod, uint64 windowEpochs) external;

    /// @notice Sets the ECVRF verifier contract.
    /// @dev Emits {VerifierChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE.
    function setVerifier(IVRFVerifier newVerifier) external;

    /// @notice Whether `signer` was already punished for `kind` in `round`. View; no requirements.
    function isPunished(address signer, uint256 round, Kind kind) external view returns (bool);
}
