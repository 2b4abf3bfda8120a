/**
 * Crash-test fault injection, off unless TRUSTMESH_FAULT names a point. A real crash is a
 * process killed at an arbitrary instruction; the crash test needs two exact instants
 * (just before a vote is signed, just after its signature reached the journal), which log
 * lines cannot hit reliably. At a named point the process SIGKILLs itself: no handler,
 * no flush, no cleanup runs, exactly as with `kill -9` from outside.
 *
 *   TRUSTMESH_FAULT=kill-before-sign          the first time any vote is about to be signed
 *   TRUSTMESH_FAULT=kill-after-sign:backup    only when endorsing another member's proposal
 *
 * One line goes to stderr first (synchronously) so the test learns which round it was.
 */
import { writeSync } from "node:fs";

export type FaultPoint = "kill-before-sign" | "kill-after-sign";

/**
 * Whose vote is being signed: this gateway's own choice ("primary": its own proposal, or the
 * decision a restarted gateway rejoins) or another member's proposal ("backup").
 */
export type FaultRole = "primary" | "backup";

export function faultPoint(point: FaultPoint, at: { round: bigint; role: FaultRole }): void {
  const spec = process.env.TRUSTMESH_FAULT;
  if (spec === undefined || spec === "") return;
  const [name, role] = spec.split(":");
  if (name !== point || (role !== undefined && role !== at.role)) return;
  writeSync(2, `TRUSTMESH_FAULT ${point} round=${at.round.toString()} role=${at.role}\n`);
  process.kill(process.pid, "SIGKILL");
}
