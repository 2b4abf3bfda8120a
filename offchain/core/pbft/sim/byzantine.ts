/**
 * Byzantine replicas for the simulator. Each runs a real replica underneath (so its messages
 * look plausible and are validly authenticated with its own key) and then lies about what it
 * sends. A Byzantine replica only ever holds its own keys.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Hex } from "viem";
import { batchDigest, signingBytes } from "../codec.js";
import type { Replica } from "../replica.js";
import type { Authenticator, CommitMsg, PbftMessage, PrePrepareMsg, PrepareMsg, ReplicaInput, ReplicaOutput, Vote, VoteSigner } from "../types.js";
import type { Prng } from "./prng.js";

export const Behaviour = {
  Honest: "honest",
  Silent: "silent",
  EquivocatingPrimary: "equivocating-primary",
  EquivocatingBackup: "equivocating-backup",
  Forging: "forging",
  Replaying: "replaying",
} as const;
export type Behaviour = (typeof Behaviour)[keyof typeof Behaviour];

export const BYZANTINE_BEHAVIOURS: readonly Behaviour[] = [
  Behaviour.Silent,
  Behaviour.EquivocatingPrimary,
  Behaviour.EquivocatingBackup,
  Behaviour.Forging,
  Behaviour.Replaying,
];

function tamper(v: Vote): Vote {
  return { ...v, verdict: v.verdict === 1 ? 2 : 1, score: (v.score + 37) % 101 };
}

function tamperBatch(batch: readonly Vote[], seq: number): Vote[] {
  if (batch.length === 0) {
    return [{ round: BigInt(1_000_000 + seq), node: 9n, verdict: 2, score: 0, evidenceCid: "0x01", policyCid: "0x02" }];
  }
  return [tamper(batch[0]!), ...batch.slice(1)];
}

function randomDigest(rng: Prng): Hex {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++) b[i] = rng.int(0, 255);
  return `0x${bytesToHex(keccak_256(b))}`;
}

export class ByzantineNode {
  private readonly seen: PbftMessage[] = [];

  constructor(
    readonly behaviour: Behaviour,
    private readonly inner: Replica,
    private readonly auth: Authenticator,
    private readonly voteSigner: VoteSigner,
    private readonly rng: Prng,
    private readonly n: number,
  ) {}

  get id(): number {
    return this.inner.id;
  }

  private async sign<M extends PbftMessage>(m: M): Promise<M> {
    return { ...m, sig: await this.auth.sign(signingBytes(m)) };
  }

  private others(): number[] {
    return [...Array(this.n).keys()].filter((i) => i !== this.id);
  }

  /** Outputs with every message addressed explicitly (`send`), after the lie is applied. */
  async step(input: ReplicaInput): Promise<ReplicaOutput[]> {
    if (this.behaviour === Behaviour.Silent) return [];
    if (input.type === "message" && this.seen.length < 2000) this.seen.push(input.message);
    const outputs = await this.inner.step(input);
    const result: ReplicaOutput[] = [];
    for (const o of outputs) {
      if (o.type === "broadcast") {
        for (const to of this.others()) result.push(...(await this.lie(to, o.message)));
      } else if (o.type === "send") {
        result.push(...(await this.lie(o.to, o.message)));
      } else if (o.type === "set-timer" || o.type === "cancel-timer") {
        result.push(o);
      }
    }
    if (this.behaviour === Behaviour.Replaying && this.seen.length > 0) {
      for (let k = this.rng.int(0, 3); k > 0; k--) {
        result.push({ type: "send", to: this.rng.pick(this.others()), message: this.rng.pick(this.seen) });
      }
    }
    return result;
  }

  private async lie(to: number, m: PbftMessage): Promise<ReplicaOutput[]> {
    const send = (message: PbftMessage): ReplicaOutput => ({ type: "send", to, message });
    const split = to % 2 === 0;
    switch (this.behaviour) {
      case Behaviour.EquivocatingPrimary:
        if (m.type === "pre-prepare" && split) {
          const batch = tamperBatch(m.batch, m.seq);
          return [send(await this.sign<PrePrepareMsg>({ ...m, batch, digest: batchDigest(batch) }))];
        }
        return [send(m)];
      case Behaviour.EquivocatingBackup:
        if (m.type === "prepare" && split) return [send(await this.sign<PrepareMsg>({ ...m, digest: randomDigest(this.rng) }))];
        if (m.type === "commit" && split) return [send(await this.conflictingCommit(m))];
        return [send(m)];
      case Behaviour.Forging: {
        const victim = this.rng.pick(this.others());
        const forged = { ...m, replica: victim } as PbftMessage;
        if (forged.type === "prepare" || forged.type === "commit" || forged.type === "pre-prepare") forged.digest = randomDigest(this.rng);
        return [send(m), send(await this.sign(forged))];
      }
      default:
        return [send(m)];
    }
  }

  /** A commit for a different batch whose endorsements are really signed (a slashable double vote). */
  private async conflictingCommit(m: CommitMsg): Promise<CommitMsg> {
    const fakeVote: Vote = { round: BigInt(m.seq), node: 1n, verdict: 2, score: 1, evidenceCid: "0x00", policyCid: "0x00" };
    const endorsements = await Promise.all(
      m.endorsements.map(async () => ({ signature: await this.voteSigner.signVote(fakeVote), vrfOutput: `0x${"11".repeat(32)}` as Hex })),
    );
    return this.sign<CommitMsg>({ ...m, digest: randomDigest(this.rng), endorsements });
  }
}
