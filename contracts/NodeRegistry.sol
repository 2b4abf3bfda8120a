// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";

/// @title NodeRegistry
/// @notice Holds every node's keys, stake and lifecycle. Invariant:
/// `token.balanceOf(this) == totalStaked + undistributedSlashed`.
/// @dev Storage is laid out for the hot paths: a committee check reads one slot per
/// signer (the gateway index, which mirrors the status); registration writes four node
/// slots plus the gateway index.
/// The attestation identity (AK, EK certificate, fingerprint root) is stored as one
/// digest; the values are in the {NodeRegistered} event.
contract NodeRegistry is INodeRegistry, AccessControl {
    using SafeERC20 for IERC20;

    bytes32 public constant VERDICT_ROLE = keccak256("VERDICT_ROLE");
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    /// @notice Highest security tier; tiers from `EK_CERT_TIER` up need an EK certificate.
    uint8 public constant MAX_TIER = 2;
    uint8 public constant EK_CERT_TIER = 2;
    uint256 private constant BPS = 10_000;
    uint256 private constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;

    struct Hot {
        address gateway;
        NodeStatus status;
        uint88 stake;
    }

    struct Cold {
        address operator;
        uint8 tier;
        uint8 vrfParity;
        uint40 until;
    }

    /// @dev The signer index: a committee check reads only this slot. `status` mirrors the
    /// node's status for its current gateway; retired gateways keep the node id (their past
    /// signatures stay attributable) with status None, so they are never eligible.
    struct GatewayEntry {
        uint64 nodeId;
        NodeStatus status;
    }

    struct PastKey {
        uint256 x;
        uint8 parity;
        uint40 replacedAt;
    }

    IERC20 public immutable token;
    /// @notice Immutable so that every Trusted node is always at or above it: the eligible
    /// count stays exact without rescanning nodes.
    uint256 public immutable minStake;

    /// @dev Counters written by registration and status changes share one slot.
    struct Totals {
        uint64 nodeCount;
        uint64 eligible;
        uint128 staked;
    }

    uint40 public unbondingDelay;
    Totals private _totals;
    uint256 private _undistributedSlashed;

    mapping(uint64 => Hot) private _hot;
    mapping(uint64 => Cold) private _cold;
    mapping(uint64 => uint256) private _vrfX;
    mapping(uint64 => bytes32) private _identity;
    mapping(address => GatewayEntry) private _gateways;
    mapping(uint64 => PastKey[]) private _pastKeys;

    constructor(IERC20 token_, uint256 minStake_, uint40 unbondingDelay_, address admin, address governor) {
        if (address(token_) == address(0) || admin == address(0) || governor == address(0)) {
            revert NodeRegistryZeroAddress();
        }
        token = token_;
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
        emit UnbondingDelayChanged(0, unbondingDelay_);
    }

    // ---------------------------------------------------------------- operators

    /// @inheritdoc INodeRegistry
    function register(Registration calldata r) external returns (uint64 nodeId) {
        return _register(r);
    }

    /// @inheritdoc INodeRegistry
    function registerWithPermit(Registration calldata r, uint256 deadline, uint8 v, bytes32 rs, bytes32 ss)
        external
        returns (uint64 nodeId)
    {
        // A front-run permit (same signature used by someone else) already set the
        // allowance, so the permit's outcome is ignored: the transfer in `_register` fails
        // when the allowance is really missing. Encoded in scratch memory past the free
        // pointer (nothing is allocated) and called without `try`'s code-size check.
        bytes4 selector = IERC20Permit.permit.selector;
        address tokenAddress = address(token);
        uint256 value = r.stake;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 0x04), caller())
            mstore(add(p, 0x24), address())
            mstore(add(p, 0x44), value)
            mstore(add(p, 0x64), deadline)
            mstore(add(p, 0x84), and(v, 0xff))
            mstore(add(p, 0xa4), rs)
            mstore(add(p, 0xc4), ss)
            pop(call(gas(), tokenAddress, 0, p, 0xe4, 0, 0))
        }
        return _register(r);
    }

    /// @inheritdoc INodeRegistry
    function topUp(uint64 nodeId, uint256 amount) external {
        Hot memory h = _hot[nodeId];
        _onlyOperator(nodeId);
        if (
            h.status != NodeStatus.Registered && h.status != NodeStatus.Trusted && h.status != NodeStatus.Untrusted
                && h.status != NodeStatus.Banned
        ) revert NodeRegistryInvalidStatus(nodeId, h.status);
        _addStake(nodeId, amount);
    }

    /// @inheritdoc INodeRegistry
    function requestExit(uint64 nodeId) external {
        NodeStatus s = _hot[nodeId].status;
        _onlyOperator(nodeId);
        Cold storage c = _cold[nodeId];
        bool bannedOver = s == NodeStatus.Banned && block.timestamp >= c.until;
        if (s != NodeStatus.Registered && s != NodeStatus.Trusted && s != NodeStatus.Untrusted && !bannedOver) {
            revert NodeRegistryInvalidStatus(nodeId, s);
        }
        uint40 unlockAt = uint40(block.timestamp) + unbondingDelay;
        c.until = unlockAt;
        _setStatus(nodeId, s, NodeStatus.Exiting);
        emit ExitRequested(nodeId, unlockAt);
    }

    /// @inheritdoc INodeRegistry
    function withdraw(uint64 nodeId) external {
        Hot storage h = _hot[nodeId];
        NodeStatus s = h.status;
        _onlyOperator(nodeId);
        if (s != NodeStatus.Exiting) revert NodeRegistryInvalidStatus(nodeId, s);
        uint40 until = _cold[nodeId].until;
        if (block.timestamp < until) revert NodeRegistryStillLocked(nodeId, until);
        uint256 amount = h.stake;
        h.stake = 0;
        _totals.staked -= uint128(amount);
        _setStatus(nodeId, s, NodeStatus.Withdrawn);
        emit StakeWithdrawn(nodeId, msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc INodeRegistry
    function reactivate(uint64 nodeId, uint256 amount) external {
        Hot memory h = _hot[nodeId];
        _onlyOperator(nodeId);
        if (h.status != NodeStatus.Banned) revert NodeRegistryInvalidStatus(nodeId, h.status);
        uint40 until = _cold[nodeId].until;
        if (block.timestamp < until) revert NodeRegistryStillLocked(nodeId, until);
        if (h.stake + amount < minStake) revert NodeRegistryStakeBelowMinimum(h.stake + amount, minStake);
        if (amount > 0) _addStake(nodeId, amount);
        _setStatus(nodeId, NodeStatus.Banned, NodeStatus.Registered);
    }

    /// @inheritdoc INodeRegistry
    function rotateKeys(uint64 nodeId, address newGateway, uint256[2] calldata newVrfKey) external {
        Hot storage h = _hot[nodeId];
        _onlyOperator(nodeId);
        if (h.status == NodeStatus.Withdrawn) revert NodeRegistryInvalidStatus(nodeId, h.status);
        if (newGateway != address(0)) {
            _claimGateway(newGateway, nodeId, h.status);
            address old = h.gateway;
            _gateways[old].status = NodeStatus.None;
            h.gateway = newGateway;
            emit GatewayRotated(nodeId, old, newGateway);
        }
        if (newVrfKey[0] != 0 || newVrfKey[1] != 0) {
            _checkVrfKey(newVrfKey);
            Cold storage c = _cold[nodeId];
            uint256 oldX = _vrfX[nodeId];
            uint8 oldParity = c.vrfParity;
            _pastKeys[nodeId].push(PastKey(oldX, oldParity, uint40(block.timestamp)));
            _vrfX[nodeId] = newVrfKey[0];
            c.vrfParity = uint8(newVrfKey[1] & 1);
            emit VrfKeyRotated(nodeId, [oldX, _liftY(oldX, oldParity)], newVrfKey);
        }
    }

    /// @inheritdoc INodeRegistry
    function updateMetadata(uint64 nodeId, bytes calldata metadataCid) external {
        NodeStatus s = _hot[nodeId].status;
        _onlyOperator(nodeId);
        if (s == NodeStatus.Withdrawn) revert NodeRegistryInvalidStatus(nodeId, s);
        emit MetadataUpdated(nodeId, metadataCid);
    }

    // ---------------------------------------------------------------- protocol roles

    /// @inheritdoc INodeRegistry
    function applyVerdict(uint64 nodeId, bool trusted) external onlyRole(VERDICT_ROLE) returns (bool changed) {
        NodeStatus s = _existing(nodeId);
        if (s != NodeStatus.Registered && s != NodeStatus.Trusted && s != NodeStatus.Untrusted) return false;
        NodeStatus next = trusted ? NodeStatus.Trusted : NodeStatus.Untrusted;
        if (s == next) return false;
        _setStatus(nodeId, s, next);
        return true;
    }

    /// @inheritdoc INodeRegistry
    function clearVerdict(uint64 nodeId) external onlyRole(VERDICT_ROLE) {
        NodeStatus s = _existing(nodeId);
        if (s == NodeStatus.Trusted || s == NodeStatus.Untrusted) _setStatus(nodeId, s, NodeStatus.Registered);
    }

    /// @inheritdoc INodeRegistry
    function slash(uint64 nodeId, uint16 slashBps, uint16 rewardBps, address beneficiary, uint40 banDuration)
        external
        onlyRole(SLASHER_ROLE)
        returns (uint256 slashed, uint256 reward)
    {
        if (slashBps > BPS) revert NodeRegistryInvalidBps(slashBps);
        if (rewardBps > BPS) revert NodeRegistryInvalidBps(rewardBps);
        Hot storage h = _hot[nodeId];
        NodeStatus s = h.status;
        if (s == NodeStatus.None) revert NodeRegistryUnknownNode(nodeId);
        if (s == NodeStatus.Withdrawn) revert NodeRegistryInvalidStatus(nodeId, s);
        uint256 stake = h.stake;
        slashed = (stake * slashBps) / BPS;
        reward = (slashed * rewardBps) / BPS;
        if (reward > 0 && beneficiary == address(0)) revert NodeRegistryZeroAddress();
        h.stake = uint88(stake - slashed);
        _totals.staked -= uint128(slashed);
        _undistributedSlashed += slashed - reward;
        Cold storage c = _cold[nodeId];
        uint40 banUntil = uint40(block.timestamp) + banDuration;
        if (s == NodeStatus.Banned && c.until > banUntil) banUntil = c.until;
        c.until = banUntil;
        if (s != NodeStatus.Banned) _setStatus(nodeId, s, NodeStatus.Banned);
        emit NodeSlashed(nodeId, slashed, reward, beneficiary, banUntil);
        if (reward > 0) token.safeTransfer(beneficiary, reward);
    }

    /// @inheritdoc INodeRegistry
    function sweepSlashed(address treasury, uint256 amount) external onlyRole(GOVERNOR_ROLE) {
        if (treasury == address(0)) revert NodeRegistryZeroAddress();
        uint256 available = _undistributedSlashed;
        if (amount > available) revert NodeRegistryInsufficientSlashedFunds(amount, available);
        _undistributedSlashed = available - amount;
        emit SlashedFundsSwept(treasury, amount);
        token.safeTransfer(treasury, amount);
    }

    /// @inheritdoc INodeRegistry
    function setUnbondingDelay(uint40 newDelay) external onlyRole(GOVERNOR_ROLE) {
        emit UnbondingDelayChanged(unbondingDelay, newDelay);
        unbondingDelay = newDelay;
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc INodeRegistry
    function getNode(uint64 nodeId) external view returns (Node memory n) {
        Hot memory h = _hot[nodeId];
        Cold memory c = _cold[nodeId];
        n.operator = c.operator;
        n.gateway = h.gateway;
        n.status = h.status;
        n.tier = c.tier;
        n.until = c.until;
        n.stake = h.stake;
        if (h.status != NodeStatus.None) {
            uint256 x = _vrfX[nodeId];
            n.vrfPublicKey = [x, _liftY(x, c.vrfParity)];
        }
        n.identityDigest = _identity[nodeId];
    }

    /// @inheritdoc INodeRegistry
    function nodeOfGateway(address gateway) external view returns (uint64) {
        return _gateways[gateway].nodeId;
    }

    /// @inheritdoc INodeRegistry
    function statusOf(uint64 nodeId) external view returns (NodeStatus) {
        return _hot[nodeId].status;
    }

    /// @inheritdoc INodeRegistry
    function nodeCount() external view returns (uint64) {
        return _totals.nodeCount;
    }

    /// @inheritdoc INodeRegistry
    function totalStaked() external view returns (uint256) {
        return _totals.staked;
    }

    /// @inheritdoc INodeRegistry
    function undistributedSlashed() external view returns (uint256) {
        return _undistributedSlashed;
    }

    /// @inheritdoc INodeRegistry
    function eligibleVerifierCount() external view returns (uint256) {
        return _totals.eligible;
    }

    /// @inheritdoc INodeRegistry
    function isEligibleVerifier(address gateway) external view returns (bool) {
        return _gateways[gateway].status == NodeStatus.Trusted;
    }

    /// @inheritdoc INodeRegistry
    function vrfPublicKeyAt(uint64 nodeId, uint256 timestamp) external view returns (uint256[2] memory key) {
        _existing(nodeId);
        PastKey[] storage past = _pastKeys[nodeId];
        uint256 n = past.length;
        for (uint256 i = 0; i < n; ++i) {
            if (past[i].replacedAt > timestamp) return [past[i].x, _liftY(past[i].x, past[i].parity)];
        }
        uint256 x = _vrfX[nodeId];
        return [x, _liftY(x, _cold[nodeId].vrfParity)];
    }

    /// @inheritdoc INodeRegistry
    function identityMatches(uint64 nodeId, bytes32 akDigest, bytes32 ekCertDigest, bytes32 fingerprintRoot)
        external
        view
        returns (bool)
    {
        return _identity[nodeId] == keccak256(abi.encode(akDigest, ekCertDigest, fingerprintRoot));
    }

    /// @inheritdoc INodeRegistry
    function firstIneligible(address[] calldata signers, uint64 excludeNode, uint256 quorum)
        external
        view
        returns (uint256)
    {
        bool bootstrap = _totals.eligible < quorum;
        uint256 n = signers.length;
        for (uint256 i = 0; i < n; ++i) {
            GatewayEntry memory g = _gateways[signers[i]];
            bool ok = g.nodeId != excludeNode
                && (g.status == NodeStatus.Trusted || (bootstrap && g.status == NodeStatus.Registered));
            if (!ok) return i;
        }
        return type(uint256).max;
    }

    // ---------------------------------------------------------------- internals

    function _register(Registration calldata r) private returns (uint64 nodeId) {
        _checkVrfKey(r.vrfPublicKey);
        nodeId = _checkAndCount(r);
        _storeNode(nodeId, r);

        emit NodeRegistered(
            nodeId,
            msg.sender,
            r.gateway,
            r.vrfPublicKey,
            r.akDigest,
            r.ekCertDigest,
            r.fingerprintRoot,
            r.tier,
            r.metadataCid,
            r.stake
        );
        token.safeTransferFrom(msg.sender, address(this), r.stake);
    }

    /// @dev Checks the registration's fields and bumps the node and stake totals.
    function _checkAndCount(Registration calldata r) private returns (uint64 nodeId) {
        uint8 tier = r.tier;
        uint256 stake = r.stake;
        if (r.akDigest == bytes32(0)) revert NodeRegistryZeroAkDigest();
        if (tier > MAX_TIER) revert NodeRegistryInvalidTier(tier, MAX_TIER);
        if (tier >= EK_CERT_TIER && r.ekCertDigest == bytes32(0)) revert NodeRegistryMissingEkCert(tier);
        if (stake < minStake) revert NodeRegistryStakeBelowMinimum(stake, minStake);
        if (stake > type(uint88).max) revert NodeRegistryStakeOverflow(stake);
        Totals memory t = _totals;
        unchecked {
            // 2^64 registrations cannot happen.
            nodeId = t.nodeCount + 1;
        }
        _totals = Totals(nodeId, t.eligible, t.staked + uint128(stake));
    }

    /// @dev Writes a new node's slots, each fresh slot with one SSTORE (the packed words
    /// follow the struct layouts: first member in the lowest bits).
    function _storeNode(uint64 nodeId, Registration calldata r) private {
        address gateway = r.gateway;
        _claimGateway(gateway, nodeId, NodeStatus.Registered);
        Hot storage h = _hot[nodeId];
        Cold storage c = _cold[nodeId];
        // Hot: gateway | status << 160 | stake << 168 (stake < 2^88 was checked).
        uint256 hot = uint256(uint160(gateway)) | (uint256(uint8(NodeStatus.Registered)) << 160) | (r.stake << 168);
        // Cold: operator | tier << 160 | vrfParity << 168 | until (0) << 176.
        uint256 cold = uint256(uint160(msg.sender)) | (uint256(r.tier) << 160) | ((r.vrfPublicKey[1] & 1) << 168);
        assembly ("memory-safe") {
            sstore(h.slot, hot)
            sstore(c.slot, cold)
        }
        _vrfX[nodeId] = r.vrfPublicKey[0];
        // keccak256(abi.encode(akDigest, ekCertDigest, fingerprintRoot)): the three words are
        // contiguous in calldata (offsets 0x60..0xc0 of the Registration head).
        bytes32 identity;
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, add(r, 0x60), 0x60)
            identity := keccak256(p, 0x60)
        }
        _identity[nodeId] = identity;
    }

    function _addStake(uint64 nodeId, uint256 amount) private {
        if (amount == 0) revert NodeRegistryZeroAmount();
        Hot storage h = _hot[nodeId];
        uint256 newStake = uint256(h.stake) + amount;
        if (newStake > type(uint88).max) revert NodeRegistryStakeOverflow(newStake);
        h.stake = uint88(newStake);
        _totals.staked += uint128(amount);
        emit StakeAdded(nodeId, amount, newStake);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    function _setStatus(uint64 nodeId, NodeStatus from, NodeStatus to) private {
        Hot storage h = _hot[nodeId];
        h.status = to;
        _gateways[h.gateway].status = to;
        if (from == NodeStatus.Trusted) --_totals.eligible;
        if (to == NodeStatus.Trusted) ++_totals.eligible;
        emit StatusChanged(nodeId, from, to);
    }

    function _claimGateway(address gateway, uint64 nodeId, NodeStatus status) private {
        if (gateway == address(0)) revert NodeRegistryZeroGateway();
        GatewayEntry storage g = _gateways[gateway];
        uint64 holder = g.nodeId;
        if (holder != 0) revert NodeRegistryGatewayTaken(gateway, holder);
        // One SSTORE; the layout is GatewayEntry's (nodeId | status << 64).
        uint256 packed = uint256(nodeId) | (uint256(uint8(status)) << 64);
        assembly ("memory-safe") {
            sstore(g.slot, packed)
        }
    }

    function _onlyOperator(uint64 nodeId) private view {
        Cold storage c = _cold[nodeId];
        if (c.operator == address(0)) revert NodeRegistryUnknownNode(nodeId);
        if (c.operator != msg.sender) revert NodeRegistryNotOperator(nodeId, msg.sender);
    }

    function _existing(uint64 nodeId) private view returns (NodeStatus s) {
        s = _hot[nodeId].status;
        if (s == NodeStatus.None) revert NodeRegistryUnknownNode(nodeId);
    }

    function _checkVrfKey(uint256[2] calldata k) private pure {
        uint256 x = k[0];
        uint256 y = k[1];
        if (x >= P || y >= P || mulmod(y, y, P) != addmod(mulmod(mulmod(x, x, P), x, P), 7, P)) {
            revert NodeRegistryInvalidVrfKey(x, y);
        }
    }

    /// @dev y from x and its parity: y = (x^3 + 7)^((p + 1) / 4) mod p (p = 3 mod 4), via
    /// the modexp precompile. Only called on keys checked at registration.
    function _liftY(uint256 x, uint8 parity) private view returns (uint256 y) {
        uint256 rhs = addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
        (bool ok, bytes memory out) =
            address(0x05).staticcall(abi.encodePacked(uint256(32), uint256(32), uint256(32), rhs, (P + 1) / 4, P));
        // The precompile only fails when out of gas; returning garbage would be worse.
        if (!ok) revert NodeRegistryInvalidVrfKey(x, 0);
        y = abi.decode(out, (uint256));
        if (y & 1 != parity) y = P - y;
    }
}
