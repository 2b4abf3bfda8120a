/**
 * The fingerprint as a Poseidon Merkle tree (circomlibjs Poseidon over the BN254 scalar
 * field, so a circuit can later prove membership). Encoding:
 *
 *   valueField(v) = 0                                  when the item is absent
 *                 = sha256(utf8(v)) with the top 3 bits cleared (253 bits < p) otherwise
 *   leaf_i        = Poseidon(i + 1, valueField(v_i))   i = position in FINGERPRINT_KEYS
 *   node          = Poseidon(left, right)
 * Leaves are padded with 0 up to a power of two (16 for the 13 keys). The root is the
 * field element as a 32-byte big-endian hex string (bytes32 on chain).
 */
import { createHash } from "node:crypto";
import { buildPoseidon, type Poseidon } from "circomlibjs";
import { FINGERPRINT_KEYS, FingerprintError, type FingerprintItems, type FingerprintKey } from "./items.js";
import { rememberBounded } from "../../core/bounded-map.js";

let poseidonP: Promise<Poseidon> | undefined;
function poseidon(): Promise<Poseidon> {
  poseidonP ??= buildPoseidon();
  return poseidonP;
}

const MASK_253 = (1n << 253n) - 1n;
/** log2 of the padded leaf count. */
export const TREE_DEPTH = Math.ceil(Math.log2(FINGERPRINT_KEYS.length));

export const toBytes32 = (x: bigint): `0x${string}` => `0x${x.toString(16).padStart(64, "0")}`;

function fromBytes32(h: string): bigint {
  if (!/^0x[0-9a-fA-F]{64}$/.test(h)) throw new FingerprintError("FINGERPRINT_INVALID", `not a bytes32 hex: ${h}`);
  return BigInt(h);
}

export function valueField(v: string | null | undefined): bigint {
  if (v === null || v === undefined) return 0n;
  return BigInt(`0x${createHash("sha256").update(v, "utf8").digest("hex")}`) & MASK_253;
}

export interface FingerprintTree {
  root: `0x${string}`;
  /** Leaf per key, in FINGERPRINT_KEYS order (what an enrolment record keeps off chain). */
  leaves: `0x${string}`[];
  /** levels[0] = padded leaves, last = [root]. */
  levels: bigint[][];
}

export async function buildFingerprintTree(items: FingerprintItems): Promise<FingerprintTree> {
  const p = await poseidon();
  const h = (a: bigint, b: bigint): bigint => p.F.toObject(p([a, b]));
  const leaves = FINGERPRINT_KEYS.map((k, i) => h(BigInt(i + 1), valueField(items[k])));
  let size = 1;
  while (size < leaves.length) size *= 2;
  const level0 = [...leaves, ...Array<bigint>(size - leaves.length).fill(0n)];
  const levels = [level0];
  let cur = level0;
  while (cur.length > 1) {
    const next: bigint[] = [];
    for (let i = 0; i < cur.length; i += 2) next.push(h(cur[i] as bigint, cur[i + 1] as bigint));
    levels.push(next);
    cur = next;
  }
  return { root: toBytes32(cur[0] as bigint), leaves: leaves.map(toBytes32), levels };
}

/**
 * Roots already computed, by the items' values: a verifier sees the same machine's items in
 * every round of that machine, and the tree (31 Poseidon hashes in JS) was 4% of the devnet
 * gateways' thread at 10 rounds/s. The root is a pure function of the items. Bounded.
 */
const roots = new Map<string, `0x${string}`>();
const ROOTS_MAX = 1024;

/** The root of buildFingerprintTree(items), memoised. */
export async function fingerprintRoot(items: FingerprintItems): Promise<`0x${string}`> {
  const key = JSON.stringify(FINGERPRINT_KEYS.map((k) => items[k] ?? null));
  const hit = roots.get(key);
  if (hit !== undefined) return hit;
  const { root } = await buildFingerprintTree(items);
  return rememberBounded(roots, key, root, ROOTS_MAX);
}

export interface FingerprintComparison {
  ok: boolean;
  root: `0x${string}`;
  /** Keys whose leaf differs from the enrolled leaf. */
  changed: FingerprintKey[];
}

/**
 * Recomputes the root from current items. With the enrolled leaves (kept off chain at
 * registration) it names which items changed; with the root alone it can only say whether.
 */
export async function compareFingerprint(
  enrolled: { root: string; leaves?: readonly string[] },
  current: FingerprintItems,
): Promise<FingerprintComparison> {
  const t = await buildFingerprintTree(current);
  const changed: FingerprintKey[] = [];
  if (enrolled.leaves) {
    if (enrolled.leaves.length !== FINGERPRINT_KEYS.length) {
      throw new FingerprintError("FINGERPRINT_INVALID", `enrolled record has ${enrolled.leaves.length} leaves, expected ${FINGERPRINT_KEYS.length}`);
    }
    FINGERPRINT_KEYS.forEach((k, i) => {
      if (fromBytes32(enrolled.leaves?.[i] as string) !== BigInt(t.leaves[i] as string)) changed.push(k);
    });
  }
  const ok = fromBytes32(enrolled.root) === BigInt(t.root);
  return { ok, root: t.root, changed };
}

export interface FingerprintProof {
  key: FingerprintKey;
  index: number;
  /** Sibling hashes from the leaf level up. */
  siblings: `0x${string}`[];
}

export function proveItem(tree: FingerprintTree, key: FingerprintKey): FingerprintProof {
  let index = FINGERPRINT_KEYS.indexOf(key);
  const out: FingerprintProof = { key, index, siblings: [] };
  for (const level of tree.levels.slice(0, -1)) {
    out.siblings.push(toBytes32(level[index ^ 1] as bigint));
    index >>= 1;
  }
  return out;
}

/** True iff `value` (null = absent) is item `proof.key` of the fingerprint with this root. */
export async function verifyItemProof(root: string, value: string | null, proof: FingerprintProof): Promise<boolean> {
  const p = await poseidon();
  const h = (a: bigint, b: bigint): bigint => p.F.toObject(p([a, b]));
  const index = FINGERPRINT_KEYS.indexOf(proof.key);
  if (index < 0 || index !== proof.index || proof.siblings.length !== TREE_DEPTH) return false;
  let cur = h(BigInt(index + 1), valueField(value));
  let i = index;
  for (const s of proof.siblings) {
    const sib = fromBytes32(s);
    cur = i & 1 ? h(sib, cur) : h(cur, sib);
    i >>= 1;
  }
  return cur === fromBytes32(root);
}
