/**
 * One error base for the whole off-chain code base, in the shape viem uses:
 * a short message for people, optional lines of facts, details for logs, a cause.
 * Domains subclass it (AttestError, VrfError, ...) and give every failure a stable `code`
 * so callers and tests can branch on it without string matching.
 */
export interface TrustmeshErrorOptions {
  /** Extra lines a CLI prints under the short message (facts, hints). */
  metaMessages?: string[];
  /** Longer text for logs. */
  details?: string;
  cause?: unknown;
}

export class TrustmeshError extends Error {
  override name = "TrustmeshError";
  readonly code: string;
  readonly shortMessage: string;
  readonly metaMessages: string[];
  readonly details: string | undefined;

  constructor(code: string, shortMessage: string, options: TrustmeshErrorOptions = {}) {
    const lines = [shortMessage, ...(options.metaMessages ?? [])];
    if (options.details) lines.push(`Details: ${options.details}`);
    super(lines.join("\n"), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.shortMessage = shortMessage;
    this.metaMessages = options.metaMessages ?? [];
    this.details = options.details;
  }
}

/** True when `e` is a TrustmeshError (optionally with the given code). */
export function isTrustmeshError(e: unknown, code?: string): e is TrustmeshError {
  return e instanceof TrustmeshError && (code === undefined || e.code === code);
}
