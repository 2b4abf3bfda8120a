// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVRFVerifier} from "../interfaces/IVRFVerifier.sol";
import {ECVRF} from "./ECVRF.sol";

/// @title VRFVerifier
/// @notice Stateless ECVRF (secp256k1, suite 0xFE) verifier with witnet vrf-solidity's
/// shapes. Disputes calls it through IVRFVerifier. Off-chain twin: offchain/core/vrf.
contract VRFVerifier is IVRFVerifier {
    /// @inheritdoc IVRFVerifier
    function verify(uint256[2] calldata publicKey, uint256[4] calldata proof, bytes calldata message)
        external
        view
        returns (bool)
    {
        return ECVRF.verify(publicKey, proof, message);
    }

    /// @inheritdoc IVRFVerifier
    function fastVerify(
        uint256[2] calldata publicKey,
        uint256[4] calldata proof,
        bytes calldata message,
        uint256[2] calldata uPoint,
        uint256[4] calldata vComponents
    ) external view returns (bool) {
        return ECVRF.fastVerify(publicKey, proof, message, uPoint, vComponents);
    }

    /// @inheritdoc IVRFVerifier
    function gammaToHash(uint256 gammaX, uint256 gammaY) external pure returns (bytes32) {
        return ECVRF.gammaToHash(gammaX, gammaY);
    }

    /// @inheritdoc IVRFVerifier
    function decodeProof(bytes calldata proof) external pure returns (uint256[4] memory) {
        return ECVRF.decodeProof(proof);
    }

    /// @inheritdoc IVRFVerifier
    function decodePoint(bytes calldata point) external pure returns (uint256[2] memory) {
        return ECVRF.decodePoint(point);
    }

    /// @notice The helper inputs fastVerify takes, computed on chain (expensive; for tests
    /// and tools that have no off-chain implementation at hand).
    /// @return uPoint U = s*G - c*Y
    /// @return vComponents [sHx, sHy, cGammaX, cGammaY]
    function computeFastVerifyParams(uint256[2] calldata publicKey, uint256[4] calldata proof, bytes calldata message)
        external
        view
        returns (uint256[2] memory uPoint, uint256[4] memory vComponents)
    {
        return ECVRF.computeFastVerifyParams(publicKey, proof, message);
    }
}
