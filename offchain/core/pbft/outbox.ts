import type { JournalRecord, PbftMessage, RejectReason, ReplicaOutput, TimerId } from "./types.js";

/** The output list of one step, with helpers that keep persist-before-send ordering readable. */
export class Outbox {
  readonly items: ReplicaOutput[] = [];
  persist(record: JournalRecord): void {
    this.items.push({ type: "persist", record });
  }
  broadcast(message: PbftMessage): void {
    this.items.push({ type: "broadcast", message });
  }
  send(to: number, message: PbftMessage): void {
    this.items.push({ type: "send", to, message });
  }
  setTimer(timer: TimerId, ms: number): void {
    this.items.push({ type: "set-timer", timer, ms });
  }
  cancelTimer(timer: TimerId): void {
    this.items.push({ type: "cancel-timer", timer });
  }
  reject(from: number, reason: RejectReason, messageType: PbftMessage["type"]): void {
    this.items.push({ type: "reject", from, reason, messageType });
  }
  push(o: ReplicaOutput): void {
    this.items.push(o);
  }
}

