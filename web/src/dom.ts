/** Tiny DOM helpers: escaped HTML building, tables and status messages. No framework. */

export function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

export function input(id: string): HTMLInputElement {
  return $(id) as HTMLInputElement;
}

export interface Col<T> {
  header: string;
  cell: (row: T) => string; // already-escaped HTML
  cls?: string;
}

export function tableHtml<T>(rows: readonly T[], cols: readonly Col<T>[], rowAttrs?: (row: T) => string): string {
  const head = cols.map((c) => `<th class="${c.cls ?? ""}">${esc(c.header)}</th>`).join("");
  const body = rows.map((r) => `<tr ${rowAttrs ? rowAttrs(r) : ""}>${cols.map((c) => `<td class="${c.cls ?? ""}">${c.cell(r)}</td>`).join("")}</tr>`).join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export type MessageKind = "info" | "ok" | "error";

/** Shows a sentence in a message box (role=status / role=alert for errors). */
export function say(id: string, kind: MessageKind, text: string): void {
  const el = $(id);
  el.className = `msg ${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.textContent = text;
}

export function formatTokens(v: bigint): string {
  const whole = v / 10n ** 18n;
  const frac = (v % 10n ** 18n).toString().padStart(18, "0").slice(0, 2).replace(/0+$/, "");
  return `${whole.toLocaleString("en-US")}${frac ? `.${frac}` : ""}`;
}

export function shortHex(h: string, keep = 6): string {
  return h.length > 2 * keep + 4 ? `${h.slice(0, keep + 2)}…${h.slice(-keep)}` : h;
}

export function tierName(t: number): string {
  return ["0 · software", "1 · TPM", "2 · TPM + EK cert"][t] ?? String(t);
}
