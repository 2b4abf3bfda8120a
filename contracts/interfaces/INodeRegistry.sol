// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title INodeRegistry
/// @notice Nodes (gateway + execution machine pairs) with their keys, stake and lifecycle.
interface INodeRegistry {
    /// @notice Lifecycle; mirrors `NodeStatus` of offchain/core/protocol.ts.
    enum NodeStatus {
        None,
        Registered,
        Trusted,
        Untrusted,
        Exiting,
        Withdrawn,
        Banned
    }

    /// @notice What an operator submits to register a node.
    /// @param gateway the gateway's signing address (votes, claims)
    /// @param vrfPublicKey secp256k1 point (x, y) of the gateway's VRF key
    /// @param akDigest digest of the execution machine's TPM attestation key
    /// @param ekCertDigest digest of its EK certificate; zero only below `EK_CERT_TIER`
    /// @param fingerprintRoot Poseidon Merkle root of the hardware fingerprint (field element)
    /// @param tier security tier
    /// @param metadataCid binary CID of the metadata document (endpoints, hardware)
    /// @param stake tokens to bond, at least `minStake`
    struct Registration {
        address gateway;
        uint256[2] vrfPublicKey;
        bytes32 akDigest;
        bytes32 ekCertDigest;
        bytes32 fingerprintRoot;
        uint8 tier;
        bytes metadataCid;
        uint256 stake;
    }

    /// @notice A node as returned by {getNode}. `until` is the unbonding end while Exiting
    /// and the ban end while Banned. `identityDigest` commits to (akDigest, ekCertDigest,
    /// fingerprintRoot); the values themselves are in {NodeRegistered} (see {identityMatches}).
    struct Node {
        address operator;
        address gateway;
        NodeStatus status;
        uint8 tier;
        uint40 until;
        uint256 stake;
        uint256[2] vrfPublicKey;
        bytes32 identityDigest;
    }

    error NodeRegistryZeroGateway();
    error NodeRegistryGatewayTaken(address gateway, uint64 nodeId);
    error NodeRegistryInvalidVrfKey(uint256 x, uint256 y);
    error NodeRegistryZeroAkDigest();
    error NodeRegistryInvalidTier(uint8 tier, uint8 maxTier);
    error NodeRegistryMissingEkCert(uint8 tier);
    error NodeRegistryStakeBelowMinimum(uint256 stake, uint256 minStake);
    error NodeRegistryStakeOverflow(uint256 stake);
    error NodeRegistryUnknownNode(uint64 nodeId);
    error NodeRegistryNotOperator(uint64 nodeId, address caller);
    error NodeRegistryInvalidStatus(uint64 nodeId, NodeStatus status);
    error NodeRegistryStillLocked(uint64 nodeId, uint40 until);
    error NodeRegistryZeroAmount();
    error NodeRegistryInvalidBps(uint256 bps);
    error NodeRegistryInsufficientSlashedFunds(uint256 requested, uint256 available);
    error NodeRegistryZeroAddress();

    event NodeRegistered(
        uint64 indexed nodeId,
        address indexed operator,
        address indexed gateway,
        uint256[2] vrfPublicKey,
        bytes32 akDigest,
        bytes32 ekCertDigest,
        bytes32 fingerprintRoot,
        uint8 tier,
        bytes metadataCid,
        uint256 stake
    );
    event StakeAdded(uint64 indexed nodeId, uint256 amount, uint256 newStake);
    event StatusChanged(uint64 indexed nodeId, NodeStatus oldStatus, NodeStatus newStatus);
    event ExitRequested(uint64 indexed nodeId, uint40 unlockAt);
    event StakeWithdrawn(uint64 indexed nodeId, address indexed operator, uint256 amount);
    event NodeSlashed(
        uint64 indexed nodeId, uint256 slashed, uint256 reward, address indexed beneficiary, uint40 banUntil
    );
    event GatewayRotated(uint64 indexed nodeId, address indexed oldGateway, address indexed newGateway);
    event VrfKeyRotated(uint64 indexed nodeId, uint256[2] oldKey, uint256[2] newKey);
    event MetadataUpdated(uint64 indexed nodeId, bytes metadataCid);
    event SlashedFundsSwept(address indexed treasury, uint256 amount);
    event UnbondingDelayChanged(uint40 oldDelay, uint40 newDelay);

    /// @notice Registers a node, pulling `r.stake` tokens from the caller (prior approval).
    /// @dev Emits {NodeRegistered} (the node starts Registered; no separate {StatusChanged}).
    ///
    /// Requirements:
    /// - `r.gateway` non-zero and not used by any node before;
    /// - `r.vrfPublicKey` a point on secp256k1; `r.akDigest` non-zero;
    /// - `r.tier <= MAX_TIER`; `r.ekCertDigest` non-zero when `r.tier >= EK_CERT_TIER`;
    /// - `r.stake >= minStake` and it fits in 88 bits.
    function register(Registration calldata r) external returns (uint64 nodeId);

    /// @notice {register} after an EIP-2612 permit of `r.stake`, in one transaction.
    /// @dev Emits {Approval} (token) and {NodeRegistered}.
    ///
    /// Requirements: those of {register}, and a valid permit of the caller for `r.stake`.
    function registerWithPermit(Registration calldata r, uint256 deadline, uint8 v, bytes32 rs, bytes32 ss)
        external
        returns (uint64 nodeId);

    /// @notice Adds `amount` to the node's stake.
    /// @dev Emits {StakeAdded}.
    ///
    /// Requirements:
    /// - caller is the node's operator; `amount > 0`;
    /// - status is Registered, Trusted, Untrusted or Banned.
    function topUp(uint64 nodeId, uint256 amount) external;

    /// @notice Starts unbonding: the node stops serving and its stake unlocks after the delay.
    /// @dev Emits {ExitRequested} and {StatusChanged}.
    ///
    /// Requirements:
    /// - caller is the operator; status is Registered, Trusted or Untrusted, or Banned with the ban over.
    function requestExit(uint64 nodeId) external;

    /// @notice Returns the whole stake to the operator after unbonding.
    /// @dev Emits {StakeWithdrawn} and {StatusChanged} (Exiting -> Withdrawn).
    ///
    /// Requirements:
    /// - caller is the operator; status Exiting; the unbonding delay is over.
    function withdraw(uint64 nodeId) external;

    /// @notice Returns a banned node whose ban is over to Registered, topping up its stake.
    /// @dev Emits {StakeAdded} (when `amount > 0`) and {StatusChanged}.
    ///
    /// Requirements:
    /// - caller is the operator; status Banned and the ban is over;
    /// - stake + `amount >= minStake`.
    function reactivate(uint64 nodeId, uint256 amount) external;

    /// @notice Replaces the gateway address and/or the VRF key (zero values keep the old one).
    /// Old gateways stay mapped to the node so their past signatures remain attributable,
    /// and old VRF keys stay queryable by time ({vrfPublicKeyAt}) for disputes.
    /// @dev Emits {GatewayRotated} and/or {VrfKeyRotated}.
    ///
    /// Requirements:
    /// - caller is the operator; status is not None or Withdrawn;
    /// - a new gateway is unused; a new VRF key is on the curve.
    function rotateKeys(uint64 nodeId, address newGateway, uint256[2] calldata newVrfKey) external;

    /// @notice Points the node at a new metadata document.
    /// @dev Emits {MetadataUpdated}.
    ///
    /// Requirements:
    /// - caller is the operator; status is not None or Withdrawn.
    function updateMetadata(uint64 nodeId, bytes calldata metadataCid) external;

    /// @notice Sets Trusted/Untrusted from an accepted verdict; a node that is Exiting,
    /// Banned or Withdrawn keeps its status. Returns whether the status changed.
    /// @dev Emits {StatusChanged} when it changes.
    ///
    /// Requirements:
    /// - caller holds VERDICT_ROLE; the node exists.
    function applyVerdict(uint64 nodeId, bool trusted) external returns (bool changed);

    /// @notice Undoes a voided verdict: Trusted/Untrusted go back to Registered.
    /// @dev Emits {StatusChanged} when it changes.
    ///
    /// Requirements:
    /// - caller holds VERDICT_ROLE; the node exists.
    function clearVerdict(uint64 nodeId) external;

    /// @notice Slashes `slashBps` of the stake, pays `rewardBps` of that to `beneficiary`,
    /// keeps the rest as undistributed slashed funds and bans the node for `banDuration`.
    /// @dev Emits {NodeSlashed} and {StatusChanged}.
    ///
    /// Requirements:
    /// - caller holds SLASHER_ROLE; both bps <= 10000; `beneficiary` non-zero when paid;
    /// - status is Registered, Trusted, Untrusted, Exiting or Banned.
    function slash(uint64 nodeId, uint16 slashBps, uint16 rewardBps, address beneficiary, uint40 banDuration)
        external
        returns (uint256 slashed, uint256 reward);

    /// @notice Sends undistributed slashed funds to `treasury`.
    /// @dev Emits {SlashedFundsSwept}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE; `treasury` non-zero; `amount` available.
    function sweepSlashed(address treasury, uint256 amount) external;

    /// @notice Sets the unbonding delay for exits requested from now on.
    /// @dev Emits {UnbondingDelayChanged}.
    ///
    /// Requirements:
    /// - caller holds GOVERNOR_ROLE.
    function setUnbondingDelay(uint40 newDelay) external;

    /// @notice The node record (zeroed for unknown ids). View; no requirements.
    function getNode(uint64 nodeId) external view returns (Node memory);
    /// @notice The node a gateway address belongs or belonged to (0 = none); retired gateways keep their node. View; no requirements.
    function nodeOfGateway(address gateway) external view returns (uint64);
    /// @notice The node's lifecycle status. View; no requirements.
    function statusOf(uint64 nodeId) external view returns (NodeStatus);
    /// @notice Number of nodes ever registered (ids are 1..nodeCount). View; no requirements.
    function nodeCount() external view returns (uint64);
    /// @notice Sum of all nodes' stakes; with {undistributedSlashed} it equals the token balance. View; no requirements.
    function totalStaked() external view returns (uint256);
    /// @notice Slashed tokens not paid to disputers and not yet swept. View; no requirements.
    function undistributedSlashed() external view returns (uint256);
    /// @notice Number of Trusted nodes (all staked at least minStake), snapshotted by EpochClock. View; no requirements.
    function eligibleVerifierCount() external view returns (uint256);
    /// @notice Whether `gateway` is the current gateway of a Trusted node. View; no requirements.
    function isEligibleVerifier(address gateway) external view returns (bool);
    /// @notice The node's VRF public key in force at `timestamp` (keys replaced later are kept). View; no requirements.
    function vrfPublicKeyAt(uint64 nodeId, uint256 timestamp) external view returns (uint256[2] memory);
    /// @notice Whether the given attestation identity is the one committed at registration. View; no requirements.
    function identityMatches(uint64 nodeId, bytes32 akDigest, bytes32 ekCertDigest, bytes32 fingerprintRoot)
        external
        view
        returns (bool);

    /// @notice Checks committee signers in one call: returns the index of the first signer
    /// that is not an eligible verifier (or is the gateway of `excludeNode`), or
    /// `type(uint256).max` when all are eligible. Eligible = Trusted (and therefore staked,
    /// not banned). BOOTSTRAP: while fewer than `quorum` nodes are Trusted, Registered nodes
    /// count as eligible too, so the first verdicts can be produced at all.
    function firstIneligible(address[] calldata signers, uint64 excludeNode, uint256 quorum)
        external
        view
        returns (uint256);
}
