/**
 * The key broker (docs/task-protocol.md sections 2-4): holds a task's private key and
 * releases it, HPKE-sealed to the claimant HPC's ephemeral key, to the valid claim with
 * the lowest VRF output seen when the claim window closes (the window opens with the
 * first valid claim). Invalid claims are refused at once with a typed reason; valid ones
 * that lose get "not-chosen". One bad claim never disturbs the others.
 */
import { sealCapsule } from "../core/capsule/seal.js";
import { keyFromHex } from "../core/capsule/keys.js";
import { keyClaimSigner, type ClaimDomain, type KeyClaim } from "./claim.js";
import { ClaimRejectedError } from "./errors.js";
import { judgeClaim } from "./rules.js";
import type { BrokerChainView } from "./types.js";

/** The role a released task key is sealed under (capsule associated data). */
export { TASK_KEY_ROLE } from "../core/capsule/roles.js";
import { TASK_KEY_ROLE } from "../core/capsule/roles.js";

export interface KeyGrant {
  taskId: bigint;
  /** A capsule (role "task-key") holding the task's X25519 private key. */
  sealedKey: Uint8Array;
}

interface Waiting {
  claim: KeyClaim;
  outputInt: bigint;
  resolve: (g: KeyGrant) => void;
  reject: (e: Error) => void;
}

interface Held {
  privateKey: Uint8Array;
  waiting: Waiting[];
  timer?: NodeJS.Timeout;
  releasedTo?: bigint;
}

export interface KeyBrokerOptions {
  chain: BrokerChainView;
  domain: ClaimDomain;
  /** How long after the first valid claim the broker waits for lower ones (ms). */
  windowMs: number;
  log?: (line: string, fields?: Record<string, unknown>) => void;
}

export class KeyBroker {
  private readonly tasks = new Map<bigint, Held>();

  constructor(private readonly o: KeyBrokerOptions) {}

  /** Takes custody of a task's private key (the creator generated the pair). */
  hold(taskId: bigint, privateKey: Uint8Array): void {
    this.tasks.set(taskId, { privateKey: Uint8Array.from(privateKey), waiting: [] });
  }

  /** The node the key went to, once released. */
  releasedTo(taskId: bigint): bigint | undefined {
    return this.tasks.get(taskId)?.releasedTo;
  }

  /**
   * Resolves with the grant when this claim wins its window; rejects with
   * ClaimRejectedError (a typed `reason`) otherwise.
   */
  async submit(claim: KeyClaim): Promise<KeyGrant> {
    const held = this.tasks.get(claim.taskId);
    if (!held) throw this.reject(claim, "unknown-task", `this broker holds no key for task ${claim.taskId}`);
    if (held.releasedTo !== undefined) throw this.reject(claim, "window-closed", `the key was already released to node ${held.releasedTo}`);
    const c = this.o.chain;
    const task = await c.task(claim.taskId);
    const [signer, node, seed, latestVerdict] = await Promise.all([
      keyClaimSigner(this.o.domain, claim),
      task ? c.node(claim.node, task.createdAt) : Promise.resolve(null),
      task ? c.epochSeed(task.seedEpoch) : Promise.resolve(new Uint8Array(32)),
      c.latestVerdict(claim.node),
    ]);
    const j = judgeClaim(claim, { task, signer, node, seed, latestVerdict });
    if (!j.ok) throw this.reject(claim, j.reason, j.detail);
    if (held.releasedTo !== undefined) throw this.reject(claim, "window-closed", `the key was already released to node ${held.releasedTo}`);
    return new Promise<KeyGrant>((resolve, reject) => {
      held.waiting.push({ claim, outputInt: j.outputInt, resolve, reject });
      this.o.log?.("valid key claim", { taskId: claim.taskId.toString(), node: claim.node.toString() });
      held.timer ??= setTimeout(() => void this.close(claim.taskId), this.o.windowMs);
    });
  }

  /** Forgets every held key (shutdown); pending claims get "window-closed". */
  stop(): void {
    for (const [taskId, held] of this.tasks) {
      clearTimeout(held.timer);
      for (const w of held.waiting.splice(0)) w.reject(new ClaimRejectedError("window-closed", `broker stopped (task ${taskId})`));
      held.privateKey.fill(0);
    }
    this.tasks.clear();
  }

  private async close(taskId: bigint): Promise<void> {
    const held = this.tasks.get(taskId);
    if (!held) return;
    const waiting = held.waiting.splice(0);
    // Lowest output wins; equal outputs (a sha256 collision) go to the lower node id.
    waiting.sort((a, b) => (a.outputInt < b.outputInt ? -1 : a.outputInt > b.outputInt ? 1 : a.claim.node < b.claim.node ? -1 : 1));
    const [winner, ...losers] = waiting;
    if (!winner) return;
    held.releasedTo = winner.claim.node;
    for (const l of losers) l.reject(new ClaimRejectedError("not-chosen", `node ${winner.claim.node} has a lower VRF output`));
    try {
      const sealed = await sealCapsule({ payload: held.privateKey, recipients: [keyFromHex(winner.claim.ephemeralKey)], taskId, role: TASK_KEY_ROLE });
      this.o.log?.("task key released", { taskId: taskId.toString(), node: winner.claim.node.toString(), claims: waiting.length });
      winner.resolve({ taskId, sealedKey: sealed.bytes });
    } catch (e) {
      winner.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private reject(claim: KeyClaim, reason: ConstructorParameters<typeof ClaimRejectedError>[0], detail: string): ClaimRejectedError {
    this.o.log?.("key claim rejected", { taskId: String(claim.taskId), node: String(claim.node), reason, detail });
    return new ClaimRejectedError(reason, detail);
  }
}
