/**
 * Reputation over time as a hand-drawn SVG line chart: one polyline per node, x = block
 * number, y = reputation. Pure string building (testable without a DOM); the page puts
 * the result into an element.
 */

export interface SeriesPoint {
  block: number;
  value: number;
}

export interface Series {
  label: string;
  points: SeriesPoint[];
}

export interface ChartOptions {
  width?: number;
  height?: number;
  /** Upper bound of the y axis; defaults to the largest value (at least 1). */
  yMax?: number;
}

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563"];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function niceTicks(max: number, count: number): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

/** Returns an <svg> element as a string. Steps (not slopes): reputation holds between events. */
export function reputationChartSvg(series: readonly Series[], opts: ChartOptions = {}): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 220;
  const m = { l: 44, r: 110, t: 12, b: 28 };
  const iw = width - m.l - m.r;
  const ih = height - m.t - m.b;
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="no reputation data"><text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#6b7280">no reputation changes yet</text></svg>`;
  }
  const minB = Math.min(...all.map((p) => p.block));
  const maxB = Math.max(...all.map((p) => p.block), minB + 1);
  const yMax = opts.yMax ?? Math.max(1, ...all.map((p) => p.value));
  const ticks = niceTicks(yMax, 4);
  const top = Math.max(yMax, ticks[ticks.length - 1] ?? yMax);
  const x = (b: number) => m.l + ((b - minB) / (maxB - minB)) * iw;
  const y = (v: number) => m.t + ih - (v / top) * ih;
  const parts: string[] = [];
  parts.push(`<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="reputation over time">`);
  for (const t of ticks) {
    parts.push(`<line x1="${m.l}" x2="${m.l + iw}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#6b7280">${t}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${m.l + iw}" y1="${m.t + ih}" y2="${m.t + ih}" stroke="#9ca3af"/>`);
  parts.push(`<text x="${m.l}" y="${height - 8}" font-size="11" fill="#6b7280">block ${minB}</text>`);
  parts.push(`<text x="${m.l + iw}" y="${height - 8}" text-anchor="end" font-size="11" fill="#6b7280">block ${maxB}</text>`);
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const color = PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a.block - b.block);
    const coords: string[] = [];
    pts.forEach((p, j) => {
      if (j > 0) coords.push(`${x(p.block).toFixed(1)},${y(pts[j - 1]!.value).toFixed(1)}`);
      coords.push(`${x(p.block).toFixed(1)},${y(p.value).toFixed(1)}`);
    });
    const last = pts[pts.length - 1]!;
    coords.push(`${(m.l + iw).toFixed(1)},${y(last.value).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${coords.join(" ")}"><title>${esc(s.label)}</title></polyline>`);
    for (const p of pts) parts.push(`<circle cx="${x(p.block).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${s.label}: ${p.value} at block ${p.block}`)}</title></circle>`);
    parts.push(`<text x="${m.l + iw + 8}" y="${(m.t + 12 + i * 14).toFixed(1)}" font-size="11" fill="${color}">${esc(s.label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}
