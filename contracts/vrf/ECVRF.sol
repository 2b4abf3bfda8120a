// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Secp256k1} from "./Secp256k1.sol";

/// @title ECVRF
/// @notice ECVRF-SECP256K1-SHA256-TAI (suite 0xFE) verification, byte-compatible with witnet's
/// vrf-solidity and vrf-rs: try-and-increment hash to curve, 16-byte challenge, proofs as
/// `[gammaX, gammaY, c, s]`. Stricter than witnet in three ways, all mirrored off chain:
/// the public key and Gamma must be curve points, s must be below n, and U/V must not be the
/// identity. Honest proofs always pass these checks.
library ECVRF {
    uint8 internal constant SUITE = 0xFE;

    /// @notice The proof is not 81 bytes.
    error MalformedProof(uint256 length);
    /// @notice The compressed point is not 33 bytes.
    error MalformedPoint(uint256 length);
    /// @notice Try-and-increment found no point in 256 tries (probability 2^-256).
    error HashToCurveFailed();

    /// @dev H = lift_even(sha256(0xFE || 0x01 || compressed PK || message || ctr)).
    function hashToTryAndIncrement(uint256[2] memory publicKey, bytes memory message)
        internal
        view
        returns (uint256, uint256)
    {
        bytes memory buf =
            abi.encodePacked(SUITE, uint8(0x01), Secp256k1.compress(publicKey[0], publicKey[1]), message, uint8(0));
        uint256 last = buf.length - 1;
        for (uint256 ctr = 0; ctr < 256; ++ctr) {
            buf[last] = bytes1(uint8(ctr));
            uint256 hx = uint256(sha256(buf));
            (bool found, uint256 hy) = Secp256k1.liftXFast(hx, false);
            if (found) return (hx, hy);
        }
        revert HashToCurveFailed();
    }

    /// @dev c' = first 16 bytes of sha256(0xFE || 0x02 || H || Gamma || U || V), compressed points.
    function hashPoints(uint256[2] memory h, uint256[2] memory gamma, uint256[2] memory u, uint256[2] memory v)
        internal
        pure
        returns (uint256)
    {
        bytes32 digest = sha256(
            abi.encodePacked(
                SUITE,
                uint8(0x02),
                Secp256k1.compress(h[0], h[1]),
                Secp256k1.compress(gamma[0], gamma[1]),
                Secp256k1.compress(u[0], u[1]),
                Secp256k1.compress(v[0], v[1])
            )
        );
        return uint256(uint128(bytes16(digest)));
    }

    /// @dev beta = sha256(0xFE || 0x03 || compressed Gamma).
    function gammaToHash(uint256 gammaX, uint256 gammaY) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(SUITE, uint8(0x03), Secp256k1.compress(gammaX, gammaY)));
    }

    /// @dev Shared input checks of verify and fastVerify.
    function wellFormed(uint256[2] memory publicKey, uint256[4] memory proof) internal pure returns (bool) {
        return Secp256k1.isOnCurve(publicKey[0], publicKey[1]) && Secp256k1.isOnCurve(proof[0], proof[1])
            && proof[2] < (1 << 128) && proof[3] < Secp256k1.NN;
    }

    /// @dev Full verification: U = sG - cY and V = sH - cGamma computed on chain.
    function verify(uint256[2] memory publicKey, uint256[4] memory proof, bytes memory message)
        internal
        view
        returns (bool)
    {
        if (!wellFormed(publicKey, proof)) return false;
        uint256[2] memory h;
        (h[0], h[1]) = hashToTryAndIncrement(publicKey, message);
        uint256[2] memory u;
        uint256[2] memory v;
        bool inf;
        (u[0], u[1], inf) =
            Secp256k1.mulSubMul(proof[3], Secp256k1.GX, Secp256k1.GY, proof[2], publicKey[0], publicKey[1]);
        if (inf) return false;
        (v[0], v[1], inf) = Secp256k1.mulSubMul(proof[3], h[0], h[1], proof[2], proof[0], proof[1]);
        if (inf) return false;
        return hashPoints(h, [proof[0], proof[1]], u, v) == proof[2];
    }

    /// @dev Verification with caller-supplied U, sH and cGamma, each checked through
    /// ecrecover (Vitalik's trick: ecrecover(0, v, x, k*x) returns the address of k*(x, y)),
    /// so the helpers are verified, not trusted; the check is as strong as a 160-bit hash.
    /// ecrecover needs r = x < n, so a key or point with x >= n (probability ~2^-128) fails.
    function fastVerify(
        uint256[2] memory publicKey,
        uint256[4] memory proof,
        bytes memory message,
        uint256[2] memory uPoint,
        uint256[4] memory vComponents
    ) internal view returns (bool) {
        if (!wellFormed(publicKey, proof)) return false;
        uint256[2] memory h;
        (h[0], h[1]) = hashToTryAndIncrement(publicKey, message);
        if (
            !ecMulSubMulVerify(proof[3], proof[2], publicKey[0], publicKey[1], uPoint[0], uPoint[1])
                || !ecMulVerify(proof[3], h[0], h[1], vComponents[0], vComponents[1])
                || !ecMulVerify(proof[2], proof[0], proof[1], vComponents[2], vComponents[3])
        ) return false;
        uint256[2] memory v;
        bool inf;
        (v[0], v[1], inf) = Secp256k1.affineSub(vComponents[0], vComponents[1], vComponents[2], vComponents[3]);
        if (inf) return false;
        return hashPoints(h, [proof[0], proof[1]], uPoint, v) == proof[2];
    }

    /// @dev True when (qx, qy) = scalar * (x, y), up to a 160-bit hash collision.
    function ecMulVerify(uint256 scalar, uint256 x, uint256 y, uint256 qx, uint256 qy) internal pure returns (bool) {
        address got = ecrecover(0, y % 2 != 0 ? 28 : 27, bytes32(x), bytes32(mulmod(scalar, x, Secp256k1.NN)));
        return got != address(0) && got == pointToAddress(qx, qy);
    }

    /// @dev True when (qx, qy) = s1*G - s2*(x, y), up to a 160-bit hash collision.
    function ecMulSubMulVerify(uint256 s1, uint256 s2, uint256 x, uint256 y, uint256 qx, uint256 qy)
        internal
        pure
        returns (bool)
    {
        uint256 z = mulmod((Secp256k1.NN - s1) % Secp256k1.NN, x, Secp256k1.NN);
        uint256 sig = mulmod((Secp256k1.NN - s2) % Secp256k1.NN, x, Secp256k1.NN);
        address got = ecrecover(bytes32(z), y % 2 != 0 ? 28 : 27, bytes32(x), bytes32(sig));
        return got != address(0) && got == pointToAddress(qx, qy);
    }

    function pointToAddress(uint256 x, uint256 y) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(x, y)))));
    }

    /// @dev U = sG - cY, sH and cGamma as witnet's computeFastVerifyParams (no checks).
    function computeFastVerifyParams(uint256[2] memory publicKey, uint256[4] memory proof, bytes memory message)
        internal
        view
        returns (uint256[2] memory u, uint256[4] memory v)
    {
        (uint256 hx, uint256 hy) = hashToTryAndIncrement(publicKey, message);
        uint256 s = proof[3] % Secp256k1.NN;
        (u[0], u[1],) =
            Secp256k1.mulSubMul(s, Secp256k1.GX, Secp256k1.GY, proof[2] % Secp256k1.NN, publicKey[0], publicKey[1]);
        (v[0], v[1],) = Secp256k1.mulSubMul(s, hx, hy, 0, Secp256k1.GX, Secp256k1.GY);
        (v[2], v[3],) = Secp256k1.mulSubMul(proof[2] % Secp256k1.NN, proof[0], proof[1], 0, Secp256k1.GX, Secp256k1.GY);
    }

    /// @dev 81 bytes: compressed Gamma (33) || c (16) || s (32) -> [gammaX, gammaY, c, s].
    function decodeProof(bytes memory proof) internal pure returns (uint256[4] memory out) {
        if (proof.length != 81) revert MalformedProof(proof.length);
        uint8 prefix = uint8(proof[0]);
        uint256 gammaX;
        uint256 c;
        uint256 s;
        assembly ("memory-safe") {
            gammaX := mload(add(proof, 33))
            c := shr(128, mload(add(proof, 65)))
            s := mload(add(proof, 81))
        }
        out[0] = gammaX;
        out[1] = Secp256k1.deriveY(prefix, gammaX);
        out[2] = c;
        out[3] = s;
    }

    /// @dev 33-byte SEC1 compressed point -> [x, y].
    function decodePoint(bytes memory point) internal pure returns (uint256[2] memory out) {
        if (point.length != 33) revert MalformedPoint(point.length);
        uint256 x;
        assembly ("memory-safe") {
            x := mload(add(point, 33))
        }
        out[0] = x;
        out[1] = Secp256k1.deriveY(uint8(point[0]), x);
    }
}
