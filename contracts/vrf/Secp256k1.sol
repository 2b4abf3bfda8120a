// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Secp256k1
/// @notice secp256k1 field and group arithmetic for ECVRF verification. Points in Jacobian
/// coordinates (X/Z^2, Y/Z^3) with Z = 0 as the identity, so a whole scalar multiplication
/// needs a single field inversion. Exponentiations come in two flavours: a pure
/// square-and-multiply loop (~10k gas) for the `pure` decoders of IVRFVerifier, and the
/// modexp precompile (~1.5k gas) for the `view` verification paths.
library Secp256k1 {
    uint256 internal constant GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798;
    uint256 internal constant GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8;
    uint256 internal constant PP = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    uint256 internal constant NN = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    // (p + 1) / 4: p = 3 mod 4, so a square root of a is a^((p+1)/4).
    uint256 private constant SQRT_EXP = (PP + 1) / 4;

    /// @notice A compressed point prefix other than 0x02/0x03.
    error InvalidPointPrefix(uint8 prefix);
    /// @notice No curve point has the given x-coordinate.
    error PointNotOnCurve(uint256 x);
    /// @notice The modexp precompile (0x05) failed (only when out of gas).
    error ModExpFailed();

    /// @dev base^e mod p by square-and-multiply; ~10k gas for a 256-bit exponent.
    function expMod(uint256 base, uint256 e) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            r := 1
            for { let bit := shl(255, 1) } gt(bit, 0) { bit := shr(1, bit) } {
                r := mulmod(r, r, PP)
                if and(e, bit) { r := mulmod(r, base, PP) }
            }
        }
    }

    /// @dev base^e mod p through the EIP-198 modexp precompile.
    function expModFast(uint256 base, uint256 e) internal view returns (uint256 r) {
        bool ok;
        assembly ("memory-safe") {
            // Scratch space above the free memory pointer; not allocated, only borrowed.
            let m := mload(0x40)
            mstore(m, 0x20)
            mstore(add(m, 0x20), 0x20)
            mstore(add(m, 0x40), 0x20)
            mstore(add(m, 0x60), base)
            mstore(add(m, 0x80), e)
            mstore(add(m, 0xa0), PP)
            ok := staticcall(gas(), 0x05, m, 0xc0, m, 0x20)
            r := mload(m)
        }
        if (!ok) revert ModExpFailed();
    }

    /// @dev Inverse by Fermat's little theorem; x must be non-zero mod p.
    function invMod(uint256 x) internal view returns (uint256) {
        return expModFast(x, PP - 2);
    }

    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x == 0 || x >= PP || y == 0 || y >= PP) return false;
        return mulmod(y, y, PP) == addmod(mulmod(mulmod(x, x, PP), x, PP), 7, PP);
    }

    /// @dev The y with the requested parity such that (x, y) is on the curve, if any.
    function liftX(uint256 x, bool odd) internal pure returns (bool found, uint256 y) {
        if (x == 0 || x >= PP) return (false, 0);
        uint256 rhs = addmod(mulmod(mulmod(x, x, PP), x, PP), 7, PP);
        return _pickRoot(expMod(rhs, SQRT_EXP), rhs, odd);
    }

    /// @dev liftX through the modexp precompile.
    function liftXFast(uint256 x, bool odd) internal view returns (bool found, uint256 y) {
        if (x == 0 || x >= PP) return (false, 0);
        uint256 rhs = addmod(mulmod(mulmod(x, x, PP), x, PP), 7, PP);
        return _pickRoot(expModFast(rhs, SQRT_EXP), rhs, odd);
    }

    function _pickRoot(uint256 y, uint256 rhs, bool odd) private pure returns (bool, uint256) {
        if (mulmod(y, y, PP) != rhs) return (false, 0);
        if (((y & 1) == 1) != odd) y = PP - y;
        return (true, y);
    }

    /// @dev SEC1 decompression; reverts on a bad prefix or an x off the curve.
    function deriveY(uint8 prefix, uint256 x) internal pure returns (uint256) {
        if (prefix != 0x02 && prefix != 0x03) revert InvalidPointPrefix(prefix);
        (bool found, uint256 y) = liftX(x, prefix == 0x03);
        if (!found) revert PointNotOnCurve(x);
        return y;
    }

    /// @dev SEC1 compressed encoding (33 bytes).
    function compress(uint256 x, uint256 y) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(2 + (y & 1)), x);
    }

    /// @dev 2P in Jacobian coordinates (a = 0, dbl-2009-l).
    function jacDouble(uint256 x, uint256 y, uint256 z) internal pure returns (uint256, uint256, uint256) {
        if (z == 0) return (0, 0, 0);
        uint256 a = mulmod(x, x, PP);
        uint256 c = mulmod(y, y, PP);
        uint256 d = addmod(x, c, PP);
        c = mulmod(c, c, PP);
        d = addmod(mulmod(d, d, PP), PP - addmod(a, c, PP), PP);
        d = addmod(d, d, PP);
        a = mulmod(3, a, PP);
        uint256 x3 = addmod(mulmod(a, a, PP), PP - addmod(d, d, PP), PP);
        uint256 y3 = addmod(mulmod(a, addmod(d, PP - x3, PP), PP), PP - mulmod(8, c, PP), PP);
        return (x3, y3, mulmod(2, mulmod(y, z, PP), PP));
    }

    /// @dev P (Jacobian) + Q (affine), madd-2007-bl; handles P = identity, P = Q and P = -Q.
    function jacAddAffine(uint256 x1, uint256 y1, uint256 z1, uint256 x2, uint256 y2)
        internal
        pure
        returns (uint256, uint256, uint256)
    {
        if (z1 == 0) return (x2, y2, 1);
        uint256 z1z1 = mulmod(z1, z1, PP);
        uint256 h = addmod(mulmod(x2, z1z1, PP), PP - x1, PP);
        uint256 r = addmod(mulmod(y2, mulmod(z1, z1z1, PP), PP), PP - y1, PP);
        if (h == 0) {
            if (r == 0) return jacDouble(x1, y1, z1);
            return (0, 0, 0);
        }
        r = addmod(r, r, PP);
        uint256 hh = mulmod(h, h, PP);
        // z3 = (z1 + h)^2 - z1z1 - hh, computed now so z1z1 can be reused.
        z1z1 = addmod(mulmod(addmod(z1, h, PP), addmod(z1, h, PP), PP), PP - addmod(z1z1, hh, PP), PP);
        hh = mulmod(4, hh, PP); // i
        h = mulmod(h, hh, PP); // j
        hh = mulmod(x1, hh, PP); // v
        uint256 x3 = addmod(addmod(mulmod(r, r, PP), PP - h, PP), PP - addmod(hh, hh, PP), PP);
        y1 = addmod(mulmod(r, addmod(hh, PP - x3, PP), PP), PP - mulmod(2, mulmod(y1, h, PP), PP), PP);
        return (x3, y1, z1z1);
    }

    /// @dev Jacobian to affine; the identity maps to (0, 0).
    function toAffine(uint256 x, uint256 y, uint256 z) internal view returns (uint256, uint256) {
        if (z == 0) return (0, 0);
        uint256 zi = invMod(z);
        uint256 zi2 = mulmod(zi, zi, PP);
        return (mulmod(x, zi2, PP), mulmod(y, mulmod(zi, zi2, PP), PP));
    }

    /// @dev P - Q for affine points; `infinity` when the result is the identity.
    function affineSub(uint256 x1, uint256 y1, uint256 x2, uint256 y2)
        internal
        view
        returns (uint256 x, uint256 y, bool infinity)
    {
        (uint256 jx, uint256 jy, uint256 jz) = jacAddAffine(x1, y1, 1, x2, PP - y2);
        if (jz == 0) return (0, 0, true);
        (x, y) = toAffine(jx, jy, jz);
        return (x, y, false);
    }

    /// @dev s1*A - s2*B with Shamir's trick: one shared doubling chain for both scalars.
    /// Scalars must be below n; A and B must be valid curve points.
    function mulSubMul(uint256 s1, uint256 ax, uint256 ay, uint256 s2, uint256 bx, uint256 by)
        internal
        view
        returns (uint256, uint256, bool)
    {
        // pts = [A, -B, A - B] (affine); the last may be the identity, flagged by pts[6].
        uint256[7] memory pts;
        pts[0] = ax;
        pts[1] = ay;
        pts[2] = bx;
        pts[3] = PP - by;
        {
            (uint256 dx, uint256 dy, bool inf) = affineSub(ax, ay, bx, by);
            pts[4] = dx;
            pts[5] = dy;
            pts[6] = inf ? 1 : 0;
        }
        uint256 x;
        uint256 y;
        uint256 z;
        uint256 bit = 1 << 255;
        while (bit != 0 && (s1 | s2) & bit == 0) bit >>= 1;
        for (; bit != 0; bit >>= 1) {
            (x, y, z) = jacDouble(x, y, z);
            bool b1 = s1 & bit != 0;
            bool b2 = s2 & bit != 0;
            if (b1 && b2) {
                if (pts[6] == 0) (x, y, z) = jacAddAffine(x, y, z, pts[4], pts[5]);
            } else if (b1) {
                (x, y, z) = jacAddAffine(x, y, z, pts[0], pts[1]);
            } else if (b2) {
                (x, y, z) = jacAddAffine(x, y, z, pts[2], pts[3]);
            }
        }
        if (z == 0) return (0, 0, true);
        (x, y) = toAffine(x, y, z);
        return (x, y, false);
    }
}
