// Image input and the training plot: PNG/JPEG decoding, resizing, normalisation into NCHW, and the
// pngjs rasteriser (ticks, lines, legend) — all on the host, no backend work.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImage, encodePng, imageToTensor, resizePlanar, IMAGENET_MEAN, IMAGENET_STD } from '../src/io/image.js';
import { maxTicks, niceTicks, plotPanels } from '../src/cli/plot.js';
import '../src/index.js'; // registers the backends

describe('image decoding', () => {
  it('PNG round trip and JPEG decoding give the same pixels (JPEG within its loss)', () => {
    const w = 16;
    const h = 12;
    const gray = Float32Array.from({ length: w * h }, (_, i) => (i % w) / (w - 1));
    const png = decodeImage(encodePng(gray, w, h));
    expect([png.width, png.height]).toEqual([w, h]);
    for (let i = 0; i < w * h; i++) expect(png.rgba[4 * i]).toBe(Math.round(gray[i] * 255));
    const rgba = Buffer.from(png.rgba);
    const jpg = jpeg.encode({ data: rgba, width: w, height: h }, 95).data;
    const dj = decodeImage(jpg);
    expect([dj.width, dj.height]).toEqual([w, h]);
    let err = 0;
    for (let i = 0; i < w * h; i++) err = Math.max(err, Math.abs(dj.rgba[4 * i] - png.rgba[4 * i]));
    expect(err).toBeLessThan(24);
  });

  it('refuses other formats and corrupt files naming the file', () => {
    expect(() => decodeImage(new TextEncoder().encode('GIF89a...'), 'a.gif')).toThrow(/a\.gif is neither a PNG nor a JPEG/);
    const png = encodePng(new Float32Array(64), 8, 8);
    expect(() => decodeImage(png.subarray(0, 40), 'cut.png')).toThrow(/cut\.png is a corrupt PNG/);
    expect(() => decodeImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 3, 1]), 'cut.jpg')).toThrow(/cut\.jpg is a corrupt JPEG/);
  });
});

describe('resize and normalise', () => {
  it('resizing a constant image keeps it constant; identity size is exact', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true }), (h, w, oh, ow, v) => {
        const out = resizePlanar(new Float32Array(h * w).fill(v), 1, h, w, oh, ow);
        expect(out.length).toBe(oh * ow);
        for (const x of out) expect(Math.abs(x - v)).toBeLessThan(1e-5);
        const src = Float32Array.from({ length: h * w }, (_, i) => (i * 7919) % 13);
        expect([...resizePlanar(src, 1, h, w, h, w)]).toEqual([...src]);
      }),
      { numRuns: 40 },
    );
  });

  it('ImageNet transform: shorter side, centre crop, per-channel normalisation', async () => {
    // A 40×20 picture whose left half is red and right half blue; a 16×16 centre crop straddles both.
    const w = 40;
    const h = 20;
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = 4 * (y * w + x);
        rgba.set(x < w / 2 ? [255, 0, 0, 255] : [0, 0, 255, 255], i);
      }
    const t = imageToTensor({ width: w, height: h, rgba }, { channels: 3, size: 16, fit: 'imagenet', mean: IMAGENET_MEAN, std: IMAGENET_STD });
    expect(t.shape).toEqual([1, 3, 16, 16]);
    const d = await t.data();
    expect(d[0]).toBeCloseTo((1 - 0.485) / 0.229, 4); // red at the left edge
    expect(d[2 * 256 + 15]).toBeCloseTo((1 - 0.406) / 0.225, 4); // blue at the right edge
    t.dispose();
  });

  it("auto-inversion turns a dark digit on white paper into MNIST's light-on-dark", async () => {
    const px = new Float32Array(28 * 28).fill(1);
    for (let y = 8; y < 20; y++) px[y * 28 + 14] = 0;
    const img = decodeImage(encodePng(px, 28, 28));
    const t = imageToTensor(img, { channels: 1, size: 28, mean: [0], std: [1], invert: 'auto' });
    const d = await t.data();
    expect(d[0]).toBeCloseTo(0, 5);
    expect(d[10 * 28 + 14]).toBeCloseTo(1, 5);
    t.dispose();
  });
});

describe('plot', () => {
  it('nice ticks cover the range with 1-2-5 steps', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (lo, span) => {
        const t = niceTicks(lo, lo + span);
        expect(t.length).toBeGreaterThanOrEqual(2);
        const step = t[1] - t[0];
        const m = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
        expect([1, 2, 5, 10].some((k) => Math.abs(m - k) < 1e-6)).toBe(true);
        expect(t[0]).toBeGreaterThanOrEqual(lo - step * 1e-6);
        expect(t[t.length - 1]).toBeLessThanOrEqual(lo + span + step * 1e-6);
      }),
      { numRuns: 100 },
    );
  });

  // Ends drawn from every corner of the doubles: NaN, ±Infinity, ±0, subnormals, ±MAX_VALUE, and ranges an ulp
  // or a few wide (a single-step training run plotted a loss range 1 ulp wide and niceTicks never returned).
  const anyDouble = fc.oneof(
    fc.double(),
    fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, 2.2250738585072014e-308),
  );
  const nearby = fc.tuple(anyDouble, fc.integer({ min: 0, max: 8 })).map(([v, ulps]) => {
    let w = v;
    for (let i = 0; i < ulps && Number.isFinite(w); i++) w = nextUp(w);
    return [v, w] as const;
  });
  it('property: niceTicks returns, for any ends, a bounded ascending list that covers a finite range', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(anyDouble, anyDouble), nearby), fc.integer({ min: -2, max: 12 }), ([a, b], target) => {
        const t = niceTicks(a, b, target);
        expect(t.length).toBeLessThanOrEqual(maxTicks(target));
        for (let i = 1; i < t.length; i++) expect(t[i]).toBeGreaterThan(t[i - 1]);
        expect(t.every(Number.isFinite)).toBe(true);
        if (!Number.isFinite(a) || !Number.isFinite(b)) return;
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(t.length).toBeGreaterThanOrEqual(1);
        if (lo === hi) {
          expect(t).toEqual([lo]);
          return;
        }
        // Inside the range (to a millionth of it), and no gap at either end wider than the tick step.
        const slack = (hi / 2 - lo / 2) * 2e-6;
        expect(t[0]).toBeGreaterThanOrEqual(lo - slack);
        expect(t[t.length - 1]).toBeLessThanOrEqual(hi + slack);
        if (t.length === 1) return;
        const gap = t[1] / 2 - t[0] / 2;
        expect(t[0] / 2 - lo / 2).toBeLessThanOrEqual(gap * (1 + 1e-6));
        expect(hi / 2 - t[t.length - 1] / 2).toBeLessThanOrEqual(gap * (1 + 1e-6));
      }),
      { numRuns: 2000, examples: [[[0.30000000000000004, nextUp(0.30000000000000004)], 5], [[1, 1], 5], [[NaN, 1], 5], [[-Number.MAX_VALUE, Number.MAX_VALUE], 5], [[0, Number.MIN_VALUE], 5]] },
    );
  });

  it('plots a series whose values differ by one ulp (a single-step run)', () => {
    const y = 2.302585092994046;
    const bytes = plotPanels([{ title: 'loss', series: [{ label: 'a', color: [200, 0, 0], points: [[1, y], [1, nextUp(y)]] }] }], 200, 120);
    expect(PNG.sync.read(Buffer.from(bytes)).width).toBe(200);
  });

  it('draws the series in their colours inside a white PNG', () => {
    const bytes = plotPanels([{ title: 'loss', series: [{ label: 'a', color: [200, 0, 0], points: [[0, 1], [1, 0.5], [2, 0.2]] }] }], 200, 120);
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([200, 120]);
    let red = 0;
    let white = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      if (png.data[i] === 200 && png.data[i + 1] === 0) red++;
      if (png.data[i] === 255 && png.data[i + 1] === 255 && png.data[i + 2] === 255) white++;
    }
    expect(red).toBeGreaterThan(100);
    expect(white).toBeGreaterThan(png.width * png.height * 0.7);
  });
});

/** The next double above v (v finite). */
function nextUp(v: number): number {
  if (v === 0) return Number.MIN_VALUE;
  const f = new Float64Array([v]);
  const i = new BigInt64Array(f.buffer);
  i[0] += v > 0 ? 1n : -1n;
  return f[0];
}
