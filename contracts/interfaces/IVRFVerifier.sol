// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IVRFVerifier
/// @notice ECVRF (secp256k1, suite 0xFE) verification with the shapes of witnet's
/// vrf-solidity: points and proofs as uint256 arrays. Disputes depends only on this
/// interface, so the verifier implementation can be swapped.
interface IVRFVerifier {
    /// @notice Full verification of `proof` = [gammaX, gammaY, c, s] for `publicKey` = [x, y]
    /// over `message`. Expensive (~1.6M gas); prefer {fastVerify}.
    function verify(uint256[2] calldata publicKey, uint256[4] calldata proof, bytes calldata message)
        external
        view
        returns (bool);

    /// @notice Verification with helper points computed off chain (`uPoint` = U,
    /// `vComponents` = [sHx, sHy, cGammaX, cGammaY]); the helpers are checked, not trusted.
    function fastVerify(
        uint256[2] calldata publicKey,
        uint256[4] calldata proof,
        bytes calldata message,
        uint256[2] calldata uPoint,
        uint256[4] calldata vComponents
    ) external view returns (bool);

    /// @notice The VRF output (beta) of a proof's Gamma point.
    function gammaToHash(uint256 gammaX, uint256 gammaY) external pure returns (bytes32);

    /// @notice Decodes an 81-byte proof (compressed Gamma || c (16 B) || s (32 B)).
    function decodeProof(bytes calldata proof) external pure returns (uint256[4] memory);

    /// @notice Decodes a SEC1 compressed (33 B) point.
    function decodePoint(bytes calldata point) external pure returns (uint256[2] memory);
}
