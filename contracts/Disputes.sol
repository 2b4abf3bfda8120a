// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IDisputes} from "./interfaces/IDisputes.sol";
import {ITrustBoard} from "./interfaces/ITrustBoard.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IEpochClock} from "./interfaces/IEpochClock.sol";
import {IVRFVerifier} from "./interfaces/IVRFVerifier.sol";
import {RoundId} from "./libraries/RoundId.sol";
import {TrustBoardHashing} from "./libraries/TrustBoardHashing.sol";

/// @title Disputes
/// @notice Anyone proves a verifier's misbehaviour; a proven dispute slashes the signer's
/// node (part of it to the disputer), zeroes its reputation, bans it, and voids the
/// verdict it took part in while that verdict is still in its challenge window.
/// @dev Signatures are checked in the TrustBoard's EIP-712 domain (VrfClaims included):
/// one domain per deployment is what gateways already sign in. Invalidity of a VRF proof
/// is decided by the full `verify` (a false from `fastVerify` may only mean bad helpers);
/// validity by `fastVerify`. Calls that revert are treated as "invalid proof" only when
/// they did not run out of gas, so a disputer cannot fake invalidity by starving a call.
contract Disputes is IDisputes, AccessControl {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    uint8 public constant ROLE_VERIFIER = 1;
    uint256 private constant PROOF_LENGTH = 81;

    struct Params {
        uint16 slashBps;
        uint16 rewardBps;
        uint40 banPeriod;
        uint64 windowEpochs;
    }

    ITrustBoard public immutable board;
    INodeRegistry public immutable registry;
    IReputation public immutable reputation;
    IEpochClock public immutable clock;
    /// @dev The board's EIP-712 domain separator, computed once; recomputed only if the
    /// chain id changes (a fork), like OpenZeppelin's EIP712.
    bytes32 private immutable _boardDomain;
    uint256 private immutable _domainChainId;
    IVRFVerifier public verifier;
    Params public params;
    mapping(bytes32 => bool) private _punished;

    constructor(
        ITrustBoard board_,
        INodeRegistry registry_,
        IReputation reputation_,
        IEpochClock clock_,
        IVRFVerifier verifier_,
        Params memory params_,
        address admin,
        address governor
    ) {
        if (
            address(board_) == address(0) || address(registry_) == address(0) || address(reputation_) == address(0)
                || address(clock_) == address(0) || admin == address(0) || governor == address(0)
        ) revert DisputesZeroAddress();
        board = board_;
        registry = registry_;
        reputation = reputation_;
        clock = clock_;
        _boardDomain = TrustBoardHashing.domainSeparator(address(board_));
        _domainChainId = block.chainid;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
        _setParams(params_);
        _setVerifier(verifier_);
    }

    /// @inheritdoc IDisputes
    function disputeEquivocation(
        ITrustBoard.Vote calldata a,
        bytes calldata signatureA,
        ITrustBoard.Vote calldata b,
        bytes calldata signatureB,
        Opening calldata opening
    ) external {
        if (a.round != b.round) revert DisputesRoundMismatch(a.round, b.round);
        bytes32 ha = TrustBoardHashing.hashVote(a);
        bytes32 hb = TrustBoardHashing.hashVote(b);
        if (ha == hb) revert DisputesNotConflicting(a.round);
        _checkWindow(a.round);
        address signerA = _recover(ha, signatureA);
        address signerB = _recover(hb, signatureB);
        if (signerA != signerB) revert DisputesSignerMismatch(signerA, signerB);
        _punish(a.round, signerA, Kind.Equivocation, Fraud.Equivocation, opening);
    }

    /// @inheritdoc IDisputes
    function disputeVrfFraud(
        ITrustBoard.VrfClaim calldata claim,
        bytes calldata signature,
        VrfHelpers calldata helpers,
        Opening calldata opening
    ) external {
        if (address(verifier) == address(0)) revert DisputesNoVerifier();
        if (claim.role != ROLE_VERIFIER) revert DisputesWrongRole(claim.role);
        uint64 epoch = _checkWindow(claim.round);
        address signer = _recover(TrustBoardHashing.hashVrfClaim(claim), signature);
        Fraud fraud = _judge(claim, signer, epoch, helpers);
        _punish(claim.round, signer, Kind.VrfFraud, fraud, opening);
    }

    /// @inheritdoc IDisputes
    function setParams(uint16 slashBps, uint16 rewardBps, uint40 banPeriod, uint64 windowEpochs)
        external
        onlyRole(GOVERNOR_ROLE)
    {
        _setParams(Params(slashBps, rewardBps, banPeriod, windowEpochs));
    }

    /// @inheritdoc IDisputes
    function setVerifier(IVRFVerifier newVerifier) external onlyRole(GOVERNOR_ROLE) {
        _setVerifier(newVerifier);
    }

    /// @inheritdoc IDisputes
    function isPunished(address signer, uint256 round, Kind kind) external view returns (bool) {
        return _punished[_key(signer, round, kind)];
    }

    // ---------------------------------------------------------------- internals

    function _judge(ITrustBoard.VrfClaim calldata claim, address signer, uint64 epoch, VrfHelpers calldata helpers)
        private
        view
        returns (Fraud)
    {
        uint64 node = registry.nodeOfGateway(signer);
        if (node == 0) revert DisputesUnknownSigner(signer);
        if (claim.proof.length != PROOF_LENGTH) return Fraud.InvalidProof;
        IVRFVerifier v = verifier;
        uint256[2] memory key = registry.vrfPublicKeyAt(node, clock.epochStart(epoch));
        bytes memory alpha = abi.encodePacked(clock.epochSeed(epoch), claim.round, claim.role);

        uint256[4] memory proof;
        uint256 g = gasleft();
        try v.decodeProof(claim.proof) returns (uint256[4] memory p) {
            proof = p;
        } catch {
            _requireNotStarved(g);
            return Fraud.InvalidProof;
        }
        if (!_fastValid(v, key, proof, alpha, helpers)) {
            g = gasleft();
            try v.verify(key, proof, alpha) returns (bool ok) {
                if (ok) revert DisputesBadHelpers();
            } catch {
                _requireNotStarved(g);
            }
            return Fraud.InvalidProof;
        }
        bytes32 output = v.gammaToHash(proof[0], proof[1]);
        if (uint256(output) >= clock.epochThreshold(epoch)) return Fraud.AboveThreshold;
        (bool found, bytes32 committed) = board.selfCommittedOutput(claim.round, signer);
        if (found && committed != output) return Fraud.OutputMismatch;
        revert DisputesNoFraud(claim.round, signer);
    }

    function _fastValid(
        IVRFVerifier v,
        uint256[2] memory key,
        uint256[4] memory proof,
        bytes memory alpha,
        VrfHelpers calldata helpers
    ) private view returns (bool) {
        uint256 g = gasleft();
        try v.fastVerify(key, proof, alpha, helpers.uPoint, helpers.vComponents) returns (bool ok) {
            return ok;
        } catch {
            _requireNotStarved(g);
            return false;
        }
    }

    function _punish(uint256 round, address signer, Kind kind, Fraud fraud, Opening calldata opening) private {
        uint64 node = registry.nodeOfGateway(signer);
        if (node == 0) revert DisputesUnknownSigner(signer);
        bytes32 key = _key(signer, round, kind);
        if (_punished[key]) revert DisputesAlreadyPunished(signer, round, kind);
        _punished[key] = true;

        bool voided = board.participated(round, signer, opening.signers, opening.vrfOutputs) && !board.isFinal(round);
        if (voided) board.voidVerdict(round);
        Params memory p = params;
        (uint256 slashed, uint256 reward) = registry.slash(node, p.slashBps, p.rewardBps, msg.sender, p.banPeriod);
        reputation.zero(node);
        emit DisputeResolved(round, node, signer, kind, fraud, msg.sender, slashed, reward, voided);
    }

    /// @dev Evidence is accepted for rounds of open epochs at most `windowEpochs` old, which
    /// should be shorter than the registry's unbonding delay so stake is still there.
    function _checkWindow(uint256 round) private view returns (uint64 epoch) {
        (epoch,,) = RoundId.decode(round);
        uint64 current = clock.currentEpoch();
        if (epoch == 0 || epoch > current) revert DisputesEpochNotOpen(epoch, current);
        if (current - epoch > params.windowEpochs) revert DisputesWindowClosed(round, epoch, current);
    }

    function _recover(bytes32 structHash, bytes calldata signature) private view returns (address signer) {
        ECDSA.RecoverError err;
        bytes32 domain =
            block.chainid == _domainChainId ? _boardDomain : TrustBoardHashing.domainSeparator(address(board));
        (signer, err,) = ECDSA.tryRecoverCalldata(MessageHashUtils.toTypedDataHash(domain, structHash), signature);
        if (err != ECDSA.RecoverError.NoError) revert DisputesBadSignature();
    }

    /// @dev After a call that ran out of gas at most 1/64 of the gas before it is left.
    function _requireNotStarved(uint256 gasBefore) private view {
        if (gasleft() <= gasBefore / 63) revert DisputesInsufficientGas();
    }

    function _key(address signer, uint256 round, Kind kind) private pure returns (bytes32) {
        return keccak256(abi.encode(signer, round, kind));
    }

    function _setParams(Params memory p) private {
        if (p.slashBps > 10_000 || p.rewardBps > 10_000) {
            revert DisputesInvalidParams(p.slashBps, p.rewardBps, p.banPeriod, p.windowEpochs);
        }
        params = p;
        emit ParamsChanged(p.slashBps, p.rewardBps, p.banPeriod, p.windowEpochs);
    }

    function _setVerifier(IVRFVerifier newVerifier) private {
        emit VerifierChanged(address(verifier), address(newVerifier));
        verifier = newVerifier;
    }
}
