// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IImageRegistry} from "./interfaces/IImageRegistry.sol";

/// @title ImageRegistry
/// @notice Governance-approved image digests that verifiers accept in event logs, each
/// with the CID of its golden (reference) measurements.
contract ImageRegistry is IImageRegistry, AccessControl {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    mapping(bytes32 => Image) private _images;
    bytes32[] private _digests;

    constructor(address admin, address governor) {
        if (admin == address(0) || governor == address(0)) revert ImageRegistryZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
    }

    /// @inheritdoc IImageRegistry
    function approve(bytes32 digest, ImageKind kind, bytes calldata goldenCid) external onlyRole(GOVERNOR_ROLE) {
        if (digest == bytes32(0)) revert ImageRegistryZeroDigest();
        if (kind == ImageKind.None) revert ImageRegistryInvalidKind(kind);
        if (goldenCid.length == 0) revert ImageRegistryEmptyGoldenCid();
        Image storage img = _images[digest];
        if (img.kind == ImageKind.None) _digests.push(digest);
        img.kind = kind;
        img.approved = true;
        img.approvedAt = uint40(block.timestamp);
        img.goldenCid = goldenCid;
        emit ImageApproved(digest, kind, goldenCid);
    }

    /// @inheritdoc IImageRegistry
    function revoke(bytes32 digest) external onlyRole(GOVERNOR_ROLE) {
        Image storage img = _images[digest];
        if (!img.approved) revert ImageRegistryNotApproved(digest);
        img.approved = false;
        emit ImageRevoked(digest, img.kind);
    }

    /// @inheritdoc IImageRegistry
    function isApproved(bytes32 digest) external view returns (bool) {
        return _images[digest].approved;
    }

    /// @inheritdoc IImageRegistry
    function imageInfo(bytes32 digest) external view returns (Image memory) {
        return _images[digest];
    }

    /// @inheritdoc IImageRegistry
    function imageCount() external view returns (uint256) {
        return _digests.length;
    }

    /// @inheritdoc IImageRegistry
    function imageAt(uint256 index) external view returns (bytes32) {
        return _digests[index];
    }
}
