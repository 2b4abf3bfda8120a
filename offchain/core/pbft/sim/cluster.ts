/**
 * A simulated PBFT committee: n replicas (some Byzantine) on the lossy network of network.ts,
 * driven by one seeded PRNG. Honest replicas run exactly the production state machine; the
 * driver here plays the role the libp2p adapter plays in a gateway (journal, timers, sending).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { privateKeyToAccount } from "viem/accounts";
import type { Address, Hex } from "viem";
import { trustBoardDomain } from "../../../chain/eip712.js";
import { publicKeyOf, secp256k1Authenticator, secretKeyVoteSigner, viemVoteVerifier } from "../auth.js";
import { voteDigest } from "../codec.js";
import { Replica } from "../replica.js";
import {
  timerKey,
  type Authenticator,
  type Decision,
  type JournalRecord,
  type ReplicaConfig,
  type ReplicaOutput,
  type Vote,
  type VoteSigner,
  type VoteVerifier,
} from "../types.js";
import { Behaviour, ByzantineNode } from "./byzantine.js";
import { hmacAuthenticator, hmacVoteSigner, hmacVoteVerifier, simKey } from "./hmac.js";
import { EventQueue, SimNetwork, type NetworkConfig } from "./network.js";
import { Prng } from "./prng.js";

export type CryptoMode = "hmac" | "secp256k1";

export interface SimRequest {
  at: number;
  /** replicas that receive this proposal as a local request */
  to: number[];
  vote: Vote;
}

export interface SimConfig {
  seed: number;
  n: number;
  byzantine?: Record<number, Behaviour>;
  network: NetworkConfig;
  requests: SimRequest[];
  replica?: Partial<Omit<ReplicaConfig, "id" | "members" | "auth" | "voteSigner" | "voteVerifier">>;
  crypto?: CryptoMode;
  /** stop at this virtual time */
  until: number;
  maxEvents?: number;
  /** checked every 25 events: stop early once the property under test is settled */
  stopWhen?: (r: SimResult) => boolean;
}

export interface SimResult {
  honest: number[];
  /** replica -> seq -> decision */
  decisions: Map<number, Map<number, Decision>>;
  /** replica -> round -> digests of every vote the replica's signer was asked to sign */
  signedVotes: Map<number, Map<string, Set<Hex>>>;
  journals: Map<number, JournalRecord[]>;
  /** count of reject outputs by reason, over honest replicas */
  rejects: Map<string, number>;
  replicas: Map<number, Replica>;
  time: number;
  events: number;
  dropped: number;
  verifier: VoteVerifier;
  members: Address[];
}

interface Keys {
  members: Address[];
  auth: (i: number) => Authenticator;
  voteSigner: (i: number) => VoteSigner;
  verifier: VoteVerifier;
}

const SIM_DOMAIN = trustBoardDomain(31337, "0x00000000000000000000000000000000000000b0");

export function simKeys(seed: number, n: number, mode: CryptoMode): Keys {
  if (mode === "hmac") {
    const keys = [...Array(n).keys()].map((i) => simKey(seed, i));
    const members = keys.map((k) => `0x${bytesToHex(sha256(k)).slice(0, 40)}` as Address);
    const byAddress = new Map(members.map((a, i) => [a.toLowerCase(), keys[i]!]));
    return {
      members,
      auth: (i) => hmacAuthenticator(keys[i]!, keys),
      voteSigner: (i) => hmacVoteSigner(keys[i]!),
      verifier: hmacVoteVerifier(byAddress),
    };
  }
  const sks = [...Array(n).keys()].map((i) => `0x${bytesToHex(sha256(utf8ToBytes(`pbft-sim-sk:${seed}:${i}`)))}` as Hex);
  const accounts = sks.map((sk) => privateKeyToAccount(sk));
  const pks = sks.map(publicKeyOf);
  return {
    members: accounts.map((a) => a.address),
    auth: (i) => secp256k1Authenticator(sks[i]!, pks),
    // Byte for byte the signature viemVoteSigner(accounts[i]) makes (test/core/crypto.test.ts).
    voteSigner: (i) => secretKeyVoteSigner(sks[i]!, SIM_DOMAIN),
    verifier: viemVoteVerifier(SIM_DOMAIN),
  };
}

type Node = { kind: "honest"; replica: Replica } | { kind: "byzantine"; node: ByzantineNode };

export async function runSimulation(cfg: SimConfig): Promise<SimResult> {
  const rng = new Prng(cfg.seed);
  const queue = new EventQueue();
  const net = new SimNetwork(cfg.network, rng, queue);
  const keys = simKeys(cfg.seed, cfg.n, cfg.crypto ?? "hmac");
  const byz = cfg.byzantine ?? {};
  const result: SimResult = {
    honest: [],
    decisions: new Map(),
    signedVotes: new Map(),
    journals: new Map(),
    rejects: new Map(),
    replicas: new Map(),
    time: 0,
    events: 0,
    dropped: 0,
    verifier: keys.verifier,
    members: keys.members,
  };
  const nodes: Node[] = [];
  for (let i = 0; i < cfg.n; i++) {
    const behaviour = byz[i] ?? Behaviour.Honest;
    const signer = keys.voteSigner(i);
    const signed = new Map<string, Set<Hex>>();
    const recording: VoteSigner = {
      signVote: (vote) => {
        const r = vote.round.toString();
        if (!signed.has(r)) signed.set(r, new Set());
        signed.get(r)!.add(voteDigest(vote));
        return signer.signVote(vote);
      },
    };
    const replica = new Replica({
      ...cfg.replica,
      id: i,
      members: keys.members,
      auth: keys.auth(i),
      voteSigner: behaviour === Behaviour.Honest ? recording : signer,
      voteVerifier: keys.verifier,
    });
    if (behaviour === Behaviour.Honest) {
      result.honest.push(i);
      result.signedVotes.set(i, signed);
      result.decisions.set(i, new Map());
      result.journals.set(i, []);
      result.replicas.set(i, replica);
      nodes.push({ kind: "honest", replica });
    } else {
      nodes.push({ kind: "byzantine", node: new ByzantineNode(behaviour, replica, keys.auth(i), signer, rng, cfg.n) });
    }
  }
  for (const r of cfg.requests) for (const to of r.to) queue.push(r.at, { kind: "request", replica: to, vote: r.vote });

  const timerTokens = new Map<string, number>();
  let tokenSeq = 0;
  const apply = (i: number, now: number, outputs: ReplicaOutput[]) => {
    for (const o of outputs) {
      switch (o.type) {
        case "persist":
          result.journals.get(i)?.push(o.record);
          break;
        case "broadcast":
          for (let to = 0; to < cfg.n; to++) if (to !== i) net.send(now, i, to, o.message);
          break;
        case "send":
          if (o.to !== i && o.to >= 0 && o.to < cfg.n) net.send(now, i, o.to, o.message);
          break;
        case "set-timer": {
          const token = ++tokenSeq;
          timerTokens.set(`${i}/${timerKey(o.timer)}`, token);
          queue.push(now + o.ms, { kind: "timer", replica: i, timer: o.timer, token });
          break;
        }
        case "cancel-timer":
          timerTokens.delete(`${i}/${timerKey(o.timer)}`);
          break;
        case "decide":
          result.decisions.get(i)?.set(o.decision.seq, o.decision);
          break;
        case "reject":
          result.rejects.set(o.reason, (result.rejects.get(o.reason) ?? 0) + 1);
          break;
        default:
          break;
      }
    }
  };

  const maxEvents = cfg.maxEvents ?? 200_000;
  for (;;) {
    const q = queue.pop();
    if (!q || q.time > cfg.until || result.events >= maxEvents) break;
    result.time = q.time;
    result.events++;
    if (cfg.stopWhen && result.events % 25 === 0 && cfg.stopWhen(result)) break;
    const e = q.event;
    const i = e.kind === "deliver" ? e.to : e.replica;
    const node = nodes[i]!;
    if (e.kind === "timer") {
      const key = `${i}/${timerKey(e.timer)}`;
      if (timerTokens.get(key) !== e.token) continue;
      timerTokens.delete(key);
    }
    const input =
      e.kind === "deliver"
        ? ({ type: "message", message: e.message } as const)
        : e.kind === "timer"
          ? ({ type: "timeout", timer: e.timer } as const)
          : ({ type: "request", vote: e.vote } as const);
    const outputs = node.kind === "honest" ? await node.replica.step(input) : await node.node.step(input);
    apply(i, q.time, outputs);
  }
  result.dropped = net.dropped;
  return result;
}

export interface SafetyViolation {
  kind: "divergent-decision" | "double-sign" | "bad-certificate";
  detail: string;
}

/** Safety: honest replicas agree per sequence number and never sign two votes for one round; certificates verify. */
export async function checkSafety(r: SimResult, quorum: number): Promise<SafetyViolation[]> {
  const violations: SafetyViolation[] = [];
  const bySeq = new Map<number, { replica: number; digest: Hex }>();
  for (const i of r.honest) {
    for (const [seq, d] of r.decisions.get(i)!) {
      const first = bySeq.get(seq);
      if (!first) bySeq.set(seq, { replica: i, digest: d.digest });
      else if (first.digest !== d.digest) {
        violations.push({ kind: "divergent-decision", detail: `seq ${seq}: replica ${first.replica} ${first.digest} vs ${i} ${d.digest}` });
      }
      for (const cert of d.certificates) {
        if (!cert) continue;
        const ok =
          cert.signers.length >= quorum &&
          new Set(cert.signers.map((a) => a.toLowerCase())).size === cert.signers.length &&
          cert.signers.every((a, k) => k === 0 || BigInt(cert.signers[k - 1]!) < BigInt(a));
        let sigsOk = ok;
        for (let k = 0; sigsOk && k < cert.signers.length; k++) {
          sigsOk = await r.verifier.verifyVote(cert.vote, cert.signatures[k]!, cert.signers[k]!);
        }
        if (!sigsOk) violations.push({ kind: "bad-certificate", detail: `seq ${seq} replica ${i} round ${cert.vote.round}` });
      }
    }
    for (const [round, digests] of r.signedVotes.get(i)!) {
      if (digests.size > 1) violations.push({ kind: "double-sign", detail: `replica ${i} signed ${digests.size} votes for round ${round}` });
    }
  }
  return violations;
}

/** Votes decided by replica i (in decision order). */
export function decidedVotes(r: SimResult, i: number): Set<Hex> {
  const out = new Set<Hex>();
  for (const d of r.decisions.get(i)!.values()) for (const v of d.batch) out.add(voteDigest(v));
  return out;
}
