// Test helper: N gateway hosts on loopback over one in-memory registry.
import { privateKeyToAccount, generatePrivateKey, type PrivateKeyAccount } from "viem/accounts";
import type { Hex } from "viem";
import { trustBoardDomain } from "../../offchain/chain/eip712.js";
import { createReplica, publicKeyOf, secp256k1Authenticator, secretKeyVoteSigner, viemVoteVerifier, type Authenticator, type Decision, type ReplicaConfig } from "../../offchain/core/pbft/index.js";
import { secretKeyGatewaySigner, type GatewaySigner } from "../../offchain/p2p/signer.js";
import { PbftTransport } from "../../offchain/p2p/pbft-transport.js";
import { NodeStatus } from "../../offchain/core/protocol.js";
import { createTrustmeshHost, type TrustmeshHost, type TrustmeshHostOptions } from "../../offchain/p2p/host.js";
import { MemoryRegistryView, type RegistryView } from "../../offchain/p2p/registry-view.js";
import type { TopicKind } from "../../offchain/p2p/topics.js";

export const CHAIN_ID = 31337;

export interface Member {
  host: TrustmeshHost;
  account: PrivateKeyAccount;
  nodeId: bigint;
}

const keyOf = new WeakMap<PrivateKeyAccount, Hex>();

export function newAccount(): PrivateKeyAccount {
  const sk = generatePrivateKey();
  const account = privateKeyToAccount(sk);
  keyOf.set(account, sk);
  return account;
}

/** The signer a member's host uses: the secret-key signer for accounts made by newAccount. */
export function gatewaySignerOf(account: PrivateKeyAccount): GatewaySigner {
  const sk = keyOf.get(account);
  return sk === undefined ? account : secretKeyGatewaySigner(sk);
}

export function register(registry: MemoryRegistryView, account: PrivateKeyAccount, nodeId: bigint, status: NodeStatus = NodeStatus.Trusted): void {
  registry.set({ nodeId, gateway: account.address, status, banned: false, slashed: false });
}

export async function startHost(
  registry: RegistryView,
  account: PrivateKeyAccount,
  nodeId: bigint,
  extra: Partial<TrustmeshHostOptions> = {},
): Promise<Member> {
  const host = await createTrustmeshHost({
    // The secret-key signer makes viem's exact signatures, natively; accounts made elsewhere sign through viem.
    signer: gatewaySignerOf(account),
    nodeId,
    chainId: CHAIN_ID,
    registry,
    heartbeatIntervalMs: 200,
    bindTimeoutMs: 1_500,
    ...extra,
  });
  await host.start();
  return { host, account, nodeId };
}

/** Registers and starts n trusted members and connects every pair. */
export async function startCluster(registry: MemoryRegistryView, n: number, firstNodeId = 1n, extra: Partial<TrustmeshHostOptions> = {}): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < n; i++) {
    const account = newAccount();
    const nodeId = firstNodeId + BigInt(i);
    register(registry, account, nodeId);
    members.push(await startHost(registry, account, nodeId, extra));
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) await members[i]!.host.dial(members[j]!.host.multiaddrs[0]!);
  }
  return members;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every member admits every other and sees it subscribed to `kind`. */
export async function waitForMesh(members: Member[], kind: TopicKind, timeoutMs = 10_000): Promise<void> {
  const n = members.length;
  await waitFor(
    () => members.every((m) => m.host.admittedPeers().length >= n - 1 && m.host.subscribers(kind).length >= n - 1),
    timeoutMs,
    `${n}-node mesh on ${kind}`,
  );
}

export async function stopAll(members: Member[]): Promise<void> {
  await Promise.all(members.map((m) => m.host.stop().catch(() => undefined)));
}

export const PBFT_DOMAIN = trustBoardDomain(CHAIN_ID, "0x00000000000000000000000000000000000000b0");

export interface PbftCommittee {
  transports: PbftTransport[];
  /** Decisions seen by each replica, in order. */
  decisions: Decision[][];
  /** performance.now() of each decision, parallel to `decisions`. */
  decidedAt: number[][];
  stop(): Promise<void>;
}

/**
 * Runs one PBFT replica per member over its host: replica i is members[i]; the gateway key
 * signs envelopes, PBFT authenticators and EIP-712 votes alike.
 */
/** Member i's PBFT authenticator in a committee of `members` (to write its messages by hand). */
export function pbftAuthenticatorOf(members: Member[], i: number): Authenticator {
  const sks = members.map((m) => keyOf.get(m.account)!);
  return secp256k1Authenticator(sks[i]!, sks.map(publicKeyOf));
}

export async function startPbftCommittee(
  members: Member[],
  replicaOptions: Partial<Omit<ReplicaConfig, "id" | "members" | "auth" | "voteSigner" | "voteVerifier">> = {},
): Promise<PbftCommittee> {
  const sks = members.map((m) => keyOf.get(m.account)!);
  const pks = sks.map(publicKeyOf);
  const committee = members.map((m) => m.nodeId);
  const decisions = members.map(() => [] as Decision[]);
  const decidedAt = members.map(() => [] as number[]);
  const transports = members.map((m, i) => {
    const replica = createReplica({
      ...replicaOptions,
      id: i,
      members: members.map((x) => x.account.address),
      auth: secp256k1Authenticator(sks[i]!, pks),
      voteSigner: secretKeyVoteSigner(sks[i]!, PBFT_DOMAIN),
      voteVerifier: viemVoteVerifier(PBFT_DOMAIN),
    });
    const onDecide = (d: Decision) => {
      decisions[i]!.push(d);
      decidedAt[i]!.push(performance.now());
    };
    return new PbftTransport({ host: m.host, replica, committee, onDecide });
  });
  for (const t of transports) await t.start();
  return { transports, decisions, decidedAt, stop: async () => { for (const t of transports) await t.stop(); } };
}
