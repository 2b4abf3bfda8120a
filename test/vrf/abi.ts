/** Typed ABI of contracts/vrf/VRFVerifier.sol (artifacts' generated types are outside tsconfig). */
import { parseAbi } from "viem";

export const vrfVerifierAbi = parseAbi([
  "function verify(uint256[2] publicKey, uint256[4] proof, bytes message) view returns (bool)",
  "function fastVerify(uint256[2] publicKey, uint256[4] proof, bytes message, uint256[2] uPoint, uint256[4] vComponents) view returns (bool)",
  "function gammaToHash(uint256 gammaX, uint256 gammaY) pure returns (bytes32)",
  "function decodeProof(bytes proof) pure returns (uint256[4])",
  "function decodePoint(bytes point) pure returns (uint256[2])",
  "function computeFastVerifyParams(uint256[2] publicKey, uint256[4] proof, bytes message) view returns (uint256[2] uPoint, uint256[4] vComponents)",
]);
