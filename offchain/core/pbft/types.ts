/**
 * PBFT (Castro-Liskov) message, input and output types. The replica is a pure state machine:
 * it consumes one `ReplicaInput` at a time and returns `ReplicaOutput[]`; it never touches a
 * socket, a clock or a disk. Drivers (the libp2p adapter, the simulator, the benchmark) own I/O.
 *
 * What is agreed is a batch of attestation verdict proposals, each the EIP-712 `Vote` of
 * offchain/chain/eip712.ts. Commits carry the replica's EIP-712 signature of every vote in the
 * batch, so 2f+1 matching commits are a TrustBoard certificate.
 */
import type { Address, Hex } from "viem";
import type { Vote } from "../../chain/eip712.js";
import { TrustmeshError } from "../errors.js";

export type { Vote };

export class PbftError extends TrustmeshError {
  override name = "PbftError";
}

/** Every wire message carries its sender (replica index) and the sender's authenticator. */
interface Base {
  /** Index of the sending replica, 0..n-1. */
  replica: number;
  /** Authenticator over `signingBytes(message)` (the canonical encoding without `sig`). */
  sig: Hex;
}

/** A verdict proposal forwarded to every replica so backups can time out a slow primary. */
export interface RequestMsg extends Base {
  type: "request";
  vote: Vote;
}

export interface PrePrepareMsg extends Base {
  type: "pre-prepare";
  view: number;
  seq: number;
  /** batchDigest(batch); the null request of a new view has an empty batch. */
  digest: Hex;
  batch: Vote[];
}

export interface PrepareMsg extends Base {
  type: "prepare";
  view: number;
  seq: number;
  digest: Hex;
}

/** The replica's EIP-712 Vote signature and its VRF output for that round. */
export interface VoteEndorsement {
  signature: Hex;
  /** bytes32 sortition output of the signer for vote.round (zero when not supplied). */
  vrfOutput: Hex;
}

export interface CommitMsg extends Base {
  type: "commit";
  view: number;
  seq: number;
  digest: Hex;
  /**
   * One entry per vote of the batch, same order. `null` where this replica already signed a
   * different vote for that round (it never signs two), so that entry gets no signature.
   */
  endorsements: (VoteEndorsement | null)[];
}

export interface CheckpointMsg extends Base {
  type: "checkpoint";
  seq: number;
  /** Hash chain over the digests of all batches executed up to `seq`. */
  stateDigest: Hex;
}

/** A pre-prepare plus 2f matching prepares from distinct backups: proof that a batch was prepared. */
export interface PreparedProof {
  prePrepare: PrePrepareMsg;
  prepares: PrepareMsg[];
}

export interface ViewChangeMsg extends Base {
  type: "view-change";
  /** The view the sender wants to move to. */
  view: number;
  /** Sequence number of the sender's last stable checkpoint. */
  stableSeq: number;
  /** 2f+1 matching checkpoint messages for stableSeq (empty when stableSeq is 0). */
  checkpointProof: CheckpointMsg[];
  /** Prepared proofs for every sequence above stableSeq the sender prepared. */
  prepared: PreparedProof[];
}

export interface NewViewMsg extends Base {
  type: "new-view";
  view: number;
  /** 2f+1 view-change messages for `view`, from distinct replicas. */
  viewChanges: ViewChangeMsg[];
  /** The pre-prepares the new primary re-issues (computed deterministically from viewChanges). */
  prePrepares: PrePrepareMsg[];
}

export type PbftMessage = RequestMsg | PrePrepareMsg | PrepareMsg | CommitMsg | CheckpointMsg | ViewChangeMsg | NewViewMsg;
export type PbftMessageType = PbftMessage["type"];

/** A message before its authenticator is attached. */
export type Unsigned<M extends PbftMessage> = Omit<M, "sig">;

/** Timers the replica asks its driver to run; they come back as `timeout` inputs. */
export type TimerId =
  /** The primary waits this long for more requests before sending a partial batch. */
  | { kind: "batch"; view: number }
  /** A backup with pending requests suspects the primary of `view` when this fires. */
  | { kind: "request"; view: number }
  /** Waiting for the new view `view` to be installed; on expiry move on to view + 1. */
  | { kind: "view-change"; view: number };

/** Stable string key for a timer, for drivers that keep timers in a map. */
export function timerKey(t: TimerId): string {
  return `${t.kind}:${t.view}`;
}

export type ReplicaInput =
  /**
   * An authenticated-or-not message from the network; the replica verifies it. `relayed`:
   * the driver knows this copy is not its author's own broadcast (a relay, or a replica's
   * `send` of its log to help this one). A duplicate of such a copy says nothing about its
   * author lagging, so it never earns the author a copy of the decided log; without the
   * flag, a laggard answered each helper's bundle with help of its own.
   */
  | { type: "message"; message: PbftMessage; relayed?: boolean }
  /** A verdict proposal from this gateway (the PBFT "client request"). */
  | { type: "request"; vote: Vote }
  | { type: "timeout"; timer: TimerId };

/** Normal operation, or waiting for a new view after suspecting the primary. */
export const ReplicaMode = { Normal: "normal", ViewChange: "view-change" } as const;
export type ReplicaMode = (typeof ReplicaMode)[keyof typeof ReplicaMode];

/** Progress of one sequence number within one view. */
export const SlotPhase = {
  PrePrepared: "pre-prepared",
  Prepared: "prepared",
  Committed: "committed",
} as const;
export type SlotPhase = (typeof SlotPhase)[keyof typeof SlotPhase];

/** What TrustBoard.submitCertificate takes: the vote and 2f+1 signatures, signers ascending. */
export interface Certificate {
  vote: Vote;
  signers: Address[];
  signatures: Hex[];
  vrfOutputs: Hex[];
}

export interface Decision {
  view: number;
  seq: number;
  digest: Hex;
  batch: Vote[];
  /** Per vote of the batch: a certificate when 2f+1 endorsements were collected, else null. */
  certificates: (Certificate | null)[];
}

/** What must be durably written before any message that follows it in the same output list. */
export type JournalRecord =
  /** This replica entered `view` (it never acts in a lower view again), waiting for it or running it. */
  | { type: "view"; view: number; mode: ReplicaMode }
  /** This replica (as primary, or as backup by preparing) accepted digest for (view, seq). */
  | { type: "pre-prepare"; message: PrePrepareMsg }
  | { type: "prepare"; view: number; seq: number; digest: Hex }
  /** Prepared certificate, written before the commit that depends on it is signed. */
  | { type: "prepared"; proof: PreparedProof }
  /** The vote this replica signs for `vote.round`; it signs no other vote for that round. */
  | { type: "vote-lock"; vote: Vote }
  | { type: "commit"; view: number; seq: number; digest: Hex }
  | { type: "executed"; seq: number; digest: Hex; stateDigest: Hex; batch: Vote[] }
  | { type: "stable-checkpoint"; seq: number; stateDigest: Hex; proof: CheckpointMsg[] };

export type RejectReason =
  | "auth"
  | "malformed"
  | "unknown-replica"
  | "wrong-view"
  | "not-primary"
  | "out-of-window"
  | "conflicting-pre-prepare"
  | "bad-digest"
  | "bad-endorsement"
  | "bad-proof"
  | "invalid-request";

export type ReplicaOutput =
  | { type: "persist"; record: JournalRecord }
  | { type: "send"; to: number; message: PbftMessage }
  /** Deliver to every other replica. */
  | { type: "broadcast"; message: PbftMessage }
  | { type: "decide"; decision: Decision }
  /** A certificate that was missing in the decision of `seq`, completed by commits that came later. */
  | { type: "certificate"; seq: number; index: number; certificate: Certificate }
  | { type: "set-timer"; timer: TimerId; ms: number }
  | { type: "cancel-timer"; timer: TimerId }
  | { type: "new-view-installed"; view: number; primary: number }
  | { type: "stable-checkpoint"; seq: number; stateDigest: Hex }
  /** Stable checkpoint beyond what this replica executed: the app must fetch batches in (from, to]. */
  | { type: "state-transfer"; fromSeq: number; toSeq: number; stateDigest: Hex }
  /** A message was dropped; drivers may lower the sender's peer score. */
  | { type: "reject"; from: number; reason: RejectReason; messageType: PbftMessageType };

/** Message authentication over the canonical encoding; sync or async. */
export interface Authenticator {
  sign(bytes: Uint8Array): Hex | Promise<Hex>;
  verify(replica: number, bytes: Uint8Array, sig: Hex): boolean | Promise<boolean>;
}

/** EIP-712 Vote signing for this replica's address (e.g. viem account.signTypedData). */
export interface VoteSigner {
  signVote(vote: Vote): Hex | Promise<Hex>;
  /** bytes32 VRF output of this replica for the round; zero bytes32 when absent. */
  vrfOutput?(round: bigint): Hex | Promise<Hex>;
}

/** Checks another replica's Vote signature against its registered address. */
export interface VoteVerifier {
  verifyVote(vote: Vote, signature: Hex, signer: Address): boolean | Promise<boolean>;
}

export interface ReplicaConfig {
  /** This replica's index, 0..n-1. */
  id: number;
  /** Vote-signing address of every replica by index; n = members.length = 3f+1. */
  members: Address[];
  auth: Authenticator;
  voteSigner: VoteSigner;
  voteVerifier: VoteVerifier;
  /** Checkpoint every K executed sequence numbers (default 16). */
  checkpointInterval?: number;
  /** High watermark = low + window (default 2 * checkpointInterval). */
  watermarkWindow?: number;
  /** Largest batch a primary proposes (default 32; 1 disables batching). */
  maxBatch?: number;
  /** While an earlier batch is in flight, the primary waits this long for a full one (default 2 ms); an idle primary proposes at once. */
  batchTimeoutMs?: number;
  /** Backup suspects the primary when a pending request is not executed in time (default 500 ms). */
  requestTimeoutMs?: number;
  /** First wait for a new view; doubles with every consecutive failed view change (default 500 ms). */
  viewChangeTimeoutMs?: number;
  /** Cap of the exponential view-change backoff (default 30 s). */
  maxViewChangeTimeoutMs?: number;
  /**
   * When to check other replicas' Vote signatures (EIP-712 recovery is the most expensive step):
   * "on-receipt" (default) checks every counted commit; "at-certificate" checks only when
   * building a certificate, and only until 2f+1 valid ones are found. Ordering is unaffected
   * either way (commits are authenticated); a bad signature only keeps that signer out.
   */
  endorsementCheck?: "on-receipt" | "at-certificate";
  /** Whether decisions carry certificates (default true; e.g. only the submitting replica needs them). */
  buildCertificates?: boolean;
  /** Application check of a proposal (e.g. "matches my own evaluation"); default accepts all. */
  validateRequest?: (vote: Vote) => boolean;
}

/** Read-only snapshot of the replica, for drivers, tests and dashboards. */
export interface ReplicaStatus {
  id: number;
  view: number;
  primary: number;
  mode: ReplicaMode;
  lastExecuted: number;
  stableSeq: number;
  lowWatermark: number;
  highWatermark: number;
  pendingRequests: number;
  logSize: number;
}
