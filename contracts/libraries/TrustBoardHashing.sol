// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ITrustBoard} from "../interfaces/ITrustBoard.sol";

/// @title TrustBoardHashing
/// @notice EIP-712 struct hashes of the TrustBoard's typed data (offchain/chain/eip712.ts)
/// and its domain, shared by TrustBoard and Disputes so both check the same digests.
library TrustBoardHashing {
    bytes32 internal constant VOTE_TYPEHASH =
        keccak256("Vote(uint256 round,uint64 node,uint8 verdict,uint8 score,bytes evidenceCid,bytes policyCid)");
    bytes32 internal constant VRF_CLAIM_TYPEHASH = keccak256("VrfClaim(uint256 round,uint8 role,bytes proof)");
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant NAME_HASH = keccak256("TrustMesh TrustBoard");
    bytes32 internal constant VERSION_HASH = keccak256("1");

    function hashVote(ITrustBoard.Vote calldata vote) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                VOTE_TYPEHASH,
                vote.round,
                vote.node,
                vote.verdict,
                vote.score,
                keccak256(vote.evidenceCid),
                keccak256(vote.policyCid)
            )
        );
    }

    function hashVrfClaim(ITrustBoard.VrfClaim calldata claim) internal pure returns (bytes32) {
        return keccak256(abi.encode(VRF_CLAIM_TYPEHASH, claim.round, claim.role, keccak256(claim.proof)));
    }

    /// @notice The digest a signer signs for `structHash` in the domain of `board` on this chain.
    function digest(address board, bytes32 structHash) internal view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(domainSeparator(board), structHash);
    }

    /// @notice The EIP-712 domain separator of `board` on this chain.
    function domainSeparator(address board) internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, board));
    }
}
