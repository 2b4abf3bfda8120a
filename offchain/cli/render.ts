import { hexOf } from "../core/hex.js";
/**
 * Output for people and for scripts. Reads print a table (people) or JSON (`--json`,
 * bigints as decimal strings); progress goes to stderr and is silent under --json so
 * stdout stays one parseable document.
 */

/** JSON with bigints as decimal strings and Uint8Arrays as 0x hex. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Uint8Array) return hexOf(v);
      return v;
    },
    2,
  );
}

export function printJson(value: unknown, out: NodeJS.WritableStream = process.stdout): void {
  out.write(`${toJson(value)}\n`);
}

export interface Column<T> {
  header: string;
  get: (row: T) => string;
  align?: "left" | "right";
}

/** A plain-text table, columns padded to their widest cell. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.get(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => (row[i] ?? "").length)));
  const line = (vals: readonly string[]) =>
    vals
      .map((v, i) => (columns[i]?.align === "right" ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
  return `${out.join("\n")}\n`;
}

/** Key/value lines for one record. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const w = Math.max(...fields.map(([k]) => k.length));
  return `${fields.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n")}\n`;
}

/** 18-decimals token amounts for people: "1234.5". */
export function formatUnits18(v: bigint): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const whole = a / 10n ** 18n;
  const frac = (a % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}

/**
 * Progress for long operations: a spinner on a TTY, plain lines otherwise, nothing when
 * quiet (--json). Always on stderr.
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private text = "";
  private readonly tty: boolean;

  constructor(
    private readonly quiet: boolean,
    private readonly err: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(err.isTTY);
  }

  step(text: string): void {
    if (this.quiet) return;
    this.clear();
    this.text = text;
    if (!this.tty) {
      this.err.write(`… ${text}\n`);
      return;
    }
    const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    const draw = () => this.err.write(`\r${frames[this.frame++ % frames.length]} ${this.text}`);
    draw();
    this.timer = setInterval(draw, 80);
    this.timer.unref();
  }

  done(text?: string): void {
    if (this.quiet) return;
    this.clear();
    this.err.write(`✓ ${text ?? this.text}\n`);
  }

  fail(): void {
    if (this.quiet) return;
    this.clear();
  }

  private clear(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.err.write("\r\x1b[K");
    }
  }
}
