// A tiny raster plotter for the training report: line charts with axes, ticks and digit labels, drawn
// into an RGBA buffer and encoded as PNG with pngjs (no canvas or native dependency).
import { PNG } from 'pngjs';

export type RGB = readonly [number, number, number];

export interface Series {
  label: string;
  color: RGB;
  /** Points (x, y); x need not be evenly spaced. */
  points: readonly (readonly [number, number])[];
}

export interface Panel {
  title: string;
  series: Series[];
  /** Fixed y range; by default the data's range with a margin. */
  yRange?: readonly [number, number];
}

// 3×5 bitmap glyphs, one row per string, '#' = ink. Digits and the few symbols tick labels and
// legends need; other characters are skipped.
const GLYPHS: Record<string, string[]> = {
  '0': ['###', '#.#', '#.#', '#.#', '###'],
  '1': ['.#.', '##.', '.#.', '.#.', '###'],
  '2': ['###', '..#', '###', '#..', '###'],
  '3': ['###', '..#', '.##', '..#', '###'],
  '4': ['#.#', '#.#', '###', '..#', '..#'],
  '5': ['###', '#..', '###', '..#', '###'],
  '6': ['###', '#..', '###', '#.#', '###'],
  '7': ['###', '..#', '.#.', '.#.', '.#.'],
  '8': ['###', '#.#', '###', '#.#', '###'],
  '9': ['###', '#.#', '###', '..#', '###'],
  '.': ['...', '...', '...', '...', '.#.'],
  '-': ['...', '...', '###', '...', '...'],
  '%': ['#.#', '..#', '.#.', '#..', '#.#'],
  e: ['...', '##.', '###', '#..', '.##'],
  a: ['...', '.##', '#.#', '#.#', '.##'],
  c: ['...', '.##', '#..', '#..', '.##'],
  l: ['#..', '#..', '#..', '#..', '.##'],
  o: ['...', '.#.', '#.#', '#.#', '.#.'],
  s: ['...', '.##', '.#.', '..#', '##.'],
  t: ['.#.', '###', '.#.', '.#.', '.##'],
  r: ['...', '#.#', '##.', '#..', '#..'],
  i: ['.#.', '...', '.#.', '.#.', '.#.'],
  n: ['...', '##.', '#.#', '#.#', '#.#'],
  p: ['...', '##.', '#.#', '##.', '#..'],
  h: ['#..', '#..', '##.', '#.#', '#.#'],
  u: ['...', '#.#', '#.#', '#.#', '.##'],
  y: ['...', '#.#', '.##', '..#', '##.'],
  d: ['..#', '..#', '.##', '#.#', '.##'],
  m: ['...', '#.#', '###', '#.#', '#.#'],
  f: ['.##', '#..', '##.', '#..', '#..'],
  w: ['...', '#.#', '#.#', '###', '#.#'],
  g: ['...', '.##', '#.#', '.##', '##.'],
  b: ['#..', '#..', '##.', '#.#', '##.'],
  k: ['#..', '#.#', '##.', '##.', '#.#'],
  v: ['...', '#.#', '#.#', '#.#', '.#.'],
  x: ['...', '#.#', '.#.', '.#.', '#.#'],
  ' ': ['...', '...', '...', '...', '...'],
};

export class Canvas {
  readonly png: PNG;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }

  set(x: number, y: number, c: RGB, alpha = 1): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = 4 * (y * this.width + x);
    for (let k = 0; k < 3; k++) this.png.data[i + k] = Math.round(this.png.data[i + k] * (1 - alpha) + c[k] * alpha);
  }

  /** A line `thick` pixels wide, stepped at sub-pixel spacing so steep and shallow lines look alike. */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, thick = 1): void {
    const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) * 2));
    const r = (thick - 1) / 2;
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let dy = -Math.ceil(r); dy <= Math.ceil(r); dy++) for (let dx = -Math.ceil(r); dx <= Math.ceil(r); dx++) if (dx * dx + dy * dy <= r * r + 0.25) this.set(x + dx, y + dy, c);
    }
  }

  rect(x: number, y: number, w: number, h: number, c: RGB): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }

  /** Draws text with the 3×5 font scaled by `scale`; returns the width drawn. */
  text(s: string, x: number, y: number, c: RGB, scale = 2): number {
    let cx = x;
    for (const ch of s) {
      const g = GLYPHS[ch] ?? GLYPHS[ch.toLowerCase()];
      if (!g) continue;
      g.forEach((row, gy) => [...row].forEach((p, gx) => p === '#' && this.rect(cx + gx * scale, y + gy * scale, scale, scale, c)));
      cx += 4 * scale;
    }
    return cx - x;
  }

  encode(): Uint8Array {
    return PNG.sync.write(this.png);
  }
}

export function textWidth(s: string, scale = 2): number {
  return [...s].filter((ch) => GLYPHS[ch] ?? GLYPHS[ch.toLowerCase()]).length * 4 * scale;
}

/** The most ticks niceTicks returns for a given target (a 1-2-5 step gives at most ~2.5 per target tick). */
export function maxTicks(target: number): number {
  return 4 * tickTarget(target) + 4;
}

function tickTarget(target: number): number {
  return Math.min(50, Math.max(1, Math.floor(target) || 1));
}

/**
 * 'nice' tick positions (1, 2, 5 × 10^k steps) inside [lo, hi]. Ticks are counted by an integer index rather
 * than by adding the step, so a range a few ulps wide (where v + step === v) cannot loop forever; where the
 * step is not representable beside the values (tiny relative width, subnormal or overflowing spans) the two
 * ends are the ticks. Non-finite ends give only the finite ones.
 */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [lo, hi].filter((v, i, a) => Number.isFinite(v) && a.indexOf(v) === i);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const n = tickTarget(target);
  const ends = [lo, hi];
  // Halves first: hi − lo overflows for ends near ±Number.MAX_VALUE.
  const raw = ((hi / 2 - lo / 2) / n) * 2;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  if (!(step > 0) || !Number.isFinite(step)) return ends;
  const k0 = Math.ceil(lo / step - 1e-9);
  const k1 = Math.floor(hi / step + 1e-9);
  // lo/step is rounded to ~|k|·2⁻⁵³ steps: past 2³⁰ a tick could land outside the range (the labels could not
  // tell such ticks apart anyway), and a step below the values' spacing would repeat ticks.
  if (!(k1 >= k0) || k1 - k0 + 1 > maxTicks(n) || Math.max(Math.abs(k0), Math.abs(k1)) > 2 ** 30) return ends;
  const out: number[] = [];
  for (let k = k0; k <= k1; k++) {
    const v = k === 0 ? 0 : k * step;
    if (out.length && !(v > out[out.length - 1])) return ends;
    out.push(v);
  }
  return out;
}

function label(v: number, step: number): string {
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(Math.min(digits, 4));
}

const AXIS: RGB = [40, 40, 40];
const GRID: RGB = [225, 225, 225];

/** Draws panels side by side (each an x/y line chart with a legend) and returns PNG bytes. */
export function plotPanels(panels: Panel[], width = 480, height = 320): Uint8Array {
  const cv = new Canvas(width * panels.length, height);
  panels.forEach((p, k) => drawPanel(cv, p, k * width, width, height));
  return cv.encode();
}

function drawPanel(cv: Canvas, p: Panel, ox: number, W: number, H: number): void {
  const left = ox + 56;
  const right = ox + W - 16;
  const top = 34;
  const bottom = H - 34;
  const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let [x0, x1] = pts.length ? [Math.min(...pts.map((q) => q[0])), Math.max(...pts.map((q) => q[0]))] : [0, 1];
  if (x1 <= x0) x1 = x0 + 1;
  let [y0, y1] = p.yRange ?? (pts.length ? [Math.min(...pts.map((q) => q[1])), Math.max(...pts.map((q) => q[1]))] : [0, 1]);
  if (!p.yRange) {
    // A range a few ulps wide (a single-step run) gets a margin relative to its values, as a flat one does.
    let m = (y1 - y0) * 0.05;
    if (!(m > Math.max(Math.abs(y0), Math.abs(y1)) * 1e-9)) m = Math.abs(y0) * 0.05 || 1;
    y0 -= m;
    y1 += m;
  }
  if (x0 === x1) x0 -= 1;
  const X = (x: number): number => left + ((x - x0) / (x1 - x0)) * (right - left);
  const Y = (y: number): number => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  const yt = niceTicks(y0, y1);
  const xt = niceTicks(x0, x1, 6);
  for (const v of yt) {
    cv.line(left, Y(v), right, Y(v), GRID);
    const s = label(v, yt.length > 1 ? yt[1] - yt[0] : 1);
    cv.text(s, left - 6 - textWidth(s), Y(v) - 5, AXIS);
    cv.line(left - 4, Y(v), left, Y(v), AXIS);
  }
  for (const v of xt) {
    const s = label(v, xt.length > 1 ? xt[1] - xt[0] : 1);
    cv.line(X(v), bottom, X(v), bottom + 4, AXIS);
    cv.text(s, X(v) - textWidth(s) / 2, bottom + 8, AXIS);
  }
  cv.line(left, top, left, bottom, AXIS);
  cv.line(left, bottom, right, bottom, AXIS);
  cv.text(p.title, left, 10, AXIS);
  let lx = right;
  for (const s of [...p.series].reverse()) {
    lx -= textWidth(s.label) + 30;
    cv.rect(lx, 12, 12, 6, s.color);
    cv.text(s.label, lx + 16, 10, AXIS);
  }
  for (const s of p.series) {
    const q = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (q.length === 1) cv.rect(X(q[0][0]) - 2, Y(q[0][1]) - 2, 5, 5, s.color);
    for (let i = 1; i < q.length; i++) cv.line(X(q[i - 1][0]), Y(q[i - 1][1]), X(q[i][0]), Y(q[i][1]), s.color, 2);
  }
}
