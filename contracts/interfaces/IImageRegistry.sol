// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IImageRegistry
/// @notice Approved boot and container images with their golden measurements.
interface IImageRegistry {
    enum ImageKind {
        None,
        Boot,
        Container
    }

    /// @param kind boot image or container image
    /// @param approved whether the image is currently approved
    /// @param approvedAt time of the latest approval
    /// @param goldenCid CID of the reference measurements
    struct Image {
        ImageKind kind;
        bool approved;
        uint40 approvedAt;
        bytes goldenCid;
    }

    error ImageRegistryZeroDigest();
    error ImageRegistryInvalidKind(ImageKind kind);
    error ImageRegistryEmptyGoldenCid();
    error ImageRegistryNotApproved(bytes32 digest);
    error ImageRegistryZeroAddress();

    event ImageApproved(bytes32 indexed digest, ImageKind indexed kind, bytes goldenCid);
    event ImageRevoked(bytes32 indexed digest, ImageKind indexed kind);

    /// @notice Approves (or re-approves with new golden values) an image digest.
    /// @dev Emits {ImageApproved}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; `digest` non-zero; `kind` Boot or Container; `goldenCid` non-empty.
    function approve(bytes32 digest, ImageKind kind, bytes calldata goldenCid) external;

    /// @notice Revokes an approved image; its record stays readable.
    /// @dev Emits {ImageRevoked}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; the image is approved.
    function revoke(bytes32 digest) external;

    /// @notice Whether `digest` is currently approved. View; no requirements.
    function isApproved(bytes32 digest) external view returns (bool);
    /// @notice The record of `digest` (also after revocation). View; no requirements.
    function imageInfo(bytes32 digest) external view returns (Image memory);
    /// @notice Number of digests ever approved. View; no requirements.
    function imageCount() external view returns (uint256);
    /// @notice Digest number `index` in approval order. View; no requirements.
    function imageAt(uint256 index) external view returns (bytes32);
}
