/**
 * The gateway journal on disk: a snapshot (journal.json) and an append-only log
 * (journal.log) of the changes made since that snapshot.
 *
 *   journal.json   the whole state, plus the `logGeneration` of the log that continues it
 *   journal.log    {"generation":g}\n, then one change per line:
 *                    {"set":"votes"|"intents"|"rounds","key":K,"value":{...}}
 *                    {"del":"votes"|"intents"|"rounds","key":K}
 *                    {"field":"nonceReservedUpTo"|"signingFloorEpoch","value":"123"}
 *
 * Every record is an absolute set or delete, so replaying a record the snapshot already
 * holds changes nothing: the order of the lines alone decides the state.
 *
 * A snapshot of generation g+1 is written before the log of generation g is replaced, so
 * a log whose generation is below the snapshot's is one the snapshot already holds. A
 * final line that is torn (no newline, or not JSON) is a write that was never
 * acknowledged; anything else that does not read is corruption and is refused: a gateway
 * that starts from less than it signed could sign twice.
 *
 * This module only reads; GatewayJournal (journal.ts) is the one writer.
 */
import { join } from "node:path";
import { TrustmeshError } from "../core/errors.js";
import { parseStateJson, readOptionalFile, readOptionalFileSync } from "./atomic-file.js";
import type { PendingRound, SignedVoteRecord } from "./journal.js";

export class JournalError extends TrustmeshError {
  override name = "JournalError";
}

/** What a gateway's journal holds: the snapshot's content once the log is replayed on it. */
export interface JournalState {
  version: 1;
  salt: string;
  nonceReservedUpTo: string;
  votes: Record<string, SignedVoteRecord>;
  /** Votes about to be signed (absent in journals written before intents existed). */
  intents?: Record<string, { voteHash: string; vote: Record<string, unknown> }>;
  rounds: Record<string, PendingRound>;
  /** Lowest epoch this gateway may still sign in (decimal; absent in older journals: 0). */
  signingFloorEpoch?: string;
}

export type JournalTable = "votes" | "intents" | "rounds";
export type JournalField = "nonceReservedUpTo" | "signingFloorEpoch";

export type LogRecord = { set: JournalTable; key: string; value: object } | { del: JournalTable; key: string } | { field: JournalField; value: string };

export interface JournalPaths {
  snapshot: string;
  log: string;
}

export function journalPaths(dir: string): JournalPaths {
  return { snapshot: join(dir, "journal.json"), log: join(dir, "journal.log") };
}

export function encodeRecord(record: LogRecord): string {
  return JSON.stringify(record) + "\n";
}

export function logHeader(generation: number): string {
  return JSON.stringify({ generation }) + "\n";
}

const TABLES: readonly string[] = ["votes", "intents", "rounds"] satisfies JournalTable[];
const FIELDS: readonly string[] = ["nonceReservedUpTo", "signingFloorEpoch"] satisfies JournalField[];
const DECIMAL = /^[0-9]+$/;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function hasExactly(x: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(x);
  return own.length === keys.length && keys.every((k) => Object.hasOwn(x, k));
}

// "__proto__" would replace a table's prototype on assignment instead of adding an entry.
function isKey(x: unknown): x is string {
  return typeof x === "string" && x !== "" && x !== "__proto__";
}

function isGeneration(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function asRecord(x: unknown): LogRecord | undefined {
  if (!isObject(x)) return undefined;
  if (hasExactly(x, ["set", "key", "value"])) {
    return TABLES.includes(x.set as string) && isKey(x.key) && isObject(x.value) ? (x as LogRecord) : undefined;
  }
  if (hasExactly(x, ["del", "key"])) {
    return TABLES.includes(x.del as string) && isKey(x.key) ? (x as LogRecord) : undefined;
  }
  if (hasExactly(x, ["field", "value"])) {
    return FIELDS.includes(x.field as string) && typeof x.value === "string" && DECIMAL.test(x.value) ? (x as LogRecord) : undefined;
  }
  return undefined;
}

export function applyRecord(state: JournalState, record: LogRecord): void {
  if ("set" in record) {
    const table = (state[record.set] ??= {}) as Record<string, unknown>;
    table[record.key] = record.value;
  } else if ("del" in record) {
    const table = state[record.del] as Record<string, unknown> | undefined;
    if (table) delete table[record.key];
  } else {
    state[record.field] = record.value;
  }
}

function corrupt(path: string, what: string, facts: string[] = []): JournalError {
  return new JournalError("JOURNAL_CORRUPT", `journal ${path} ${what}`, { metaMessages: facts });
}

export interface Snapshot {
  state: JournalState;
  /** The generation of the log that continues this snapshot (0 for journals older than the log). */
  generation: number;
  bytes: number;
}

export function parseSnapshot(buf: Buffer, path: string): Snapshot {
  const parsed = parseStateJson(buf, path);
  if (!isObject(parsed)) throw corrupt(path, "is not a JSON object");
  if (parsed.version !== 1) {
    throw new JournalError("JOURNAL_VERSION", `journal ${path} has unknown version ${String(parsed.version)}`);
  }
  if (parsed.signingFloorEpoch !== undefined && !(typeof parsed.signingFloorEpoch === "string" && DECIMAL.test(parsed.signingFloorEpoch))) {
    throw corrupt(path, "has an invalid signing floor", [`signingFloorEpoch: ${String(parsed.signingFloorEpoch)}`]);
  }
  // The log is replayed into these: a snapshot without them cannot be the base of one.
  const wellFormed =
    typeof parsed.salt === "string" &&
    typeof parsed.nonceReservedUpTo === "string" &&
    DECIMAL.test(parsed.nonceReservedUpTo) &&
    isObject(parsed.votes) &&
    isObject(parsed.rounds) &&
    (parsed.intents === undefined || isObject(parsed.intents));
  if (!wellFormed) throw corrupt(path, "lacks its salt, nonce mark, votes or rounds");
  const { logGeneration, ...state } = parsed;
  if (logGeneration !== undefined && !isGeneration(logGeneration)) throw corrupt(path, "has an invalid log generation", [`logGeneration: ${String(logGeneration)}`]);
  return { state: state as unknown as JournalState, generation: logGeneration ?? 0, bytes: buf.length };
}

export type LogStatus =
  | { kind: "missing" }
  /** Older than the snapshot: its content is in the snapshot already. */
  | { kind: "stale"; generation: number }
  /** Newer than the snapshot: the snapshot does not hold what came before this log. */
  | { kind: "newer"; generation: number }
  /** Replayed; `validBytes` is where its last whole record ends (a torn tail lies beyond). */
  | { kind: "replayed"; validBytes: number; size: number };

/**
 * Applies the log `buf` to `state` if it continues a snapshot of `generation`. Nothing is
 * applied unless the whole log reads: a corrupt log leaves `state` as it was.
 */
export function replayLog(state: JournalState, generation: number, buf: Buffer | undefined, path: string): LogStatus {
  if (buf === undefined) return { kind: "missing" };
  const headerEnd = buf.indexOf(0x0a);
  let header: unknown;
  try {
    header = headerEnd < 0 ? undefined : JSON.parse(buf.toString("utf8", 0, headerEnd));
  } catch {
    header = undefined;
  }
  // The header arrives with the file (it is written whole and renamed into place): it cannot be torn.
  if (!isObject(header) || !hasExactly(header, ["generation"]) || !isGeneration(header.generation)) {
    throw corrupt(path, "does not start with its generation line");
  }
  if (header.generation < generation) return { kind: "stale", generation: header.generation };
  if (header.generation > generation) return { kind: "newer", generation: header.generation };

  const records: LogRecord[] = [];
  let start = headerEnd + 1;
  let line = 1;
  for (;;) {
    const end = buf.indexOf(0x0a, start);
    if (end < 0) break; // a tail without its newline: an append cut short
    line++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.toString("utf8", start, end));
    } catch {
      if (end + 1 === buf.length) break; // the final line, cut short or filled with junk by the crash
      throw corrupt(path, `has an unreadable record at line ${line} with more records after it`);
    }
    const record = asRecord(parsed);
    if (record === undefined) throw corrupt(path, `has a record of unknown shape at line ${line}`, [buf.toString("utf8", start, Math.min(end, start + 200))]);
    records.push(record);
    start = end + 1;
  }
  for (const record of records) applyRecord(state, record);
  return { kind: "replayed", validBytes: start, size: buf.length };
}

export interface LoadedJournal extends Snapshot {
  log: LogStatus;
}

/** The snapshot with its log replayed on it; undefined when there is no journal yet. */
export function loadJournal(paths: JournalPaths, snapshot: Buffer | undefined, log: Buffer | undefined): LoadedJournal | undefined {
  if (snapshot === undefined) {
    // The snapshot is always written before its log: a log alone means the snapshot was lost.
    if (log !== undefined) throw corrupt(paths.log, `exists without its snapshot ${paths.snapshot}`);
    return undefined;
  }
  const loaded = parseSnapshot(snapshot, paths.snapshot);
  return { ...loaded, log: replayLog(loaded.state, loaded.generation, log, paths.log) };
}

export function newerLogError(paths: JournalPaths, loaded: LoadedJournal & { log: { kind: "newer" } }): JournalError {
  return corrupt(paths.log, "is newer than its snapshot: the snapshot lacks what came before it", [
    `snapshot ${paths.snapshot}: logGeneration ${loaded.generation}`,
    `log generation: ${loaded.log.generation}`,
  ]);
}

/**
 * A reader racing the writer may take the snapshot before a rewrite and the log after it
 * (a newer log): it reads both again. Two rewrites between two reads need megabytes of
 * changes in between, so a few attempts are plenty.
 */
const READ_ATTEMPTS = 5;

function settle(paths: JournalPaths, loaded: LoadedJournal | undefined, attempt: number): JournalState | undefined | "again" {
  if (loaded === undefined) return undefined;
  if (loaded.log.kind !== "newer") return loaded.state;
  if (attempt < READ_ATTEMPTS) return "again";
  throw newerLogError(paths, loaded as LoadedJournal & { log: { kind: "newer" } });
}

/**
 * The durable state of the journal in `dir` (undefined if there is none), for tools and
 * tests that do not own it: reads only, so it may run while the gateway writes. A torn
 * final record is left out, as the gateway would on its next start.
 */
export async function readJournalState(dir: string): Promise<JournalState | undefined> {
  const paths = journalPaths(dir);
  for (let attempt = 1; ; attempt++) {
    // The snapshot first: the writer replaces it before the log, so a log read after it is
    // of its generation, an older one (held by it) or a newer one (read again).
    const snapshot = await readOptionalFile(paths.snapshot);
    const result = settle(paths, loadJournal(paths, snapshot, await readOptionalFile(paths.log)), attempt);
    if (result !== "again") return result;
  }
}

/** readJournalState for synchronous callers. */
export function readJournalStateSync(dir: string): JournalState | undefined {
  const paths = journalPaths(dir);
  for (let attempt = 1; ; attempt++) {
    const snapshot = readOptionalFileSync(paths.snapshot);
    const result = settle(paths, loadJournal(paths, snapshot, readOptionalFileSync(paths.log)), attempt);
    if (result !== "again") return result;
  }
}
