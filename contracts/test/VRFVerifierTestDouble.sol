// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title VRFVerifierTestDouble
/// @notice TEST ONLY. Scripted answers for the unit tests of Disputes' own branching; the
/// real ECVRF verifier is contracts/vrf/VRFVerifier.sol and has its own integration test.
/// @dev Same ABI as IVRFVerifier but not declared as implementing it: scripted answers
/// need storage reads where the interface says `pure` (both compile to STATICCALL).
contract VRFVerifierTestDouble {
    error VRFVerifierTestDoubleScriptedRevert();

    bool public verifyResult;
    bool public fastVerifyResult;
    bool public decodeReverts;
    bool public fastVerifyReverts;
    bool public burnGasInVerify;
    bytes32 public output;

    function script(bool verify_, bool fastVerify_, bool decodeReverts_, bool fastVerifyReverts_, bytes32 output_)
        external
    {
        verifyResult = verify_;
        fastVerifyResult = fastVerify_;
        decodeReverts = decodeReverts_;
        fastVerifyReverts = fastVerifyReverts_;
        output = output_;
    }

    function setBurnGasInVerify(bool burn) external {
        burnGasInVerify = burn;
    }

    function verify(uint256[2] calldata, uint256[4] calldata, bytes calldata) external view returns (bool) {
        if (burnGasInVerify) {
            uint256 x;
            while (gasleft() > 0) x++;
        }
        return verifyResult;
    }

    function fastVerify(
        uint256[2] calldata,
        uint256[4] calldata,
        bytes calldata,
        uint256[2] calldata,
        uint256[4] calldata
    ) external view returns (bool) {
        if (fastVerifyReverts) revert VRFVerifierTestDoubleScriptedRevert();
        return fastVerifyResult;
    }

    function gammaToHash(uint256, uint256) external view returns (bytes32) {
        return output;
    }

    function decodeProof(bytes calldata) external view returns (uint256[4] memory p) {
        if (decodeReverts) revert VRFVerifierTestDoubleScriptedRevert();
        return p;
    }

    function decodePoint(bytes calldata) external pure returns (uint256[2] memory p) {
        return p;
    }
}
