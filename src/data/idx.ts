// Reader for the IDX format of MNIST and Fashion-MNIST (optionally gzipped), the big-endian files
// train-images-idx3-ubyte / train-labels-idx1-ubyte and their t10k siblings.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fail } from '../errors.js';
import type { ImageDataset } from './dataset.js';

/** An unsigned-byte IDX array: its dimensions and its values in row-major order. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const OP = 'readIdx';

/**
 * Parses IDX bytes (gzip detected by its magic 0x1f 0x8b). Only the unsigned-byte type (0x08) is
 * accepted: magic 0x00000801 for label files and 0x00000803 for image files.
 */
export function readIdx(bytes: Uint8Array, what = 'IDX data'): IdxArray {
  let b = bytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      fail(OP, `${what} looks gzipped but does not decompress (${(e as Error).message})`);
    }
  }
  if (b.length < 8) fail(OP, `${what} is ${b.length} bytes, too short for an IDX header`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b[0] !== 0 || b[1] !== 0) fail(OP, `${what} does not start with the IDX magic 0x0000: got 0x${hex(b[0])}${hex(b[1])}`);
  if (b[2] !== 0x08) fail(OP, `${what} has element type 0x${hex(b[2])}; only unsigned bytes (0x08) are supported`);
  const rank = b[3];
  if (rank < 1 || rank > 4) fail(OP, `${what} has ${rank} dimensions; expected 1 to 4`);
  const header = 4 + 4 * rank;
  if (b.length < header) fail(OP, `${what} is truncated inside its header`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, d) => a * d, 1);
  if (b.length - header !== count) fail(OP, `${what}: the header declares [${dims.join(',')}] = ${count} bytes of data, but ${b.length - header} follow`);
  return { dims, data: b.subarray(header) };
}

function hex(v: number): string {
  return v.toString(16).padStart(2, '0');
}

function readFile(path: string, op: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(op, code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path} (${code ?? (e as Error).message})`);
  }
}

/** Loads an image file (rank 3, N×H×W) and its label file (rank 1, N) as a one-channel dataset. */
export function loadIdxPair(imagesPath: string, labelsPath: string, name = imagesPath): ImageDataset {
  const op = 'loadIdx';
  const images = readIdx(readFile(imagesPath, op), imagesPath);
  const labels = readIdx(readFile(labelsPath, op), labelsPath);
  if (images.dims.length !== 3) fail(op, `${imagesPath} must hold images [N, H, W] (magic 0x00000803), got dims [${images.dims.join(',')}]`);
  if (labels.dims.length !== 1) fail(op, `${labelsPath} must hold labels [N] (magic 0x00000801), got dims [${labels.dims.join(',')}]`);
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) fail(op, `${imagesPath} has ${n} images but ${labelsPath} has ${labels.dims[0]} labels`);
  if (n === 0) fail(op, `${imagesPath} holds no images`);
  let classes = 0;
  for (const l of labels.data) classes = Math.max(classes, l + 1);
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  return { name, pixels, labels: Uint8Array.from(labels.data), count: n, channels: 1, height: h, width: w, classes: Math.max(classes, 10) };
}

/**
 * Loads `<split>-images-idx3-ubyte[.gz]` and `<split>-labels-idx1-ubyte[.gz]` from a directory, the
 * layout of the MNIST/Fashion-MNIST distributions (split 'train' or 't10k').
 */
export function loadIdxDir(dir: string, split: 'train' | 't10k' = 'train'): ImageDataset {
  const find = (base: string): string => {
    for (const p of [join(dir, base), join(dir, `${base}.gz`), join(dir, base.replace(/-idx(\d)-/, '.idx$1-'))]) if (existsSync(p)) return p;
    fail('loadIdx', `no ${base}[.gz] in ${dir}`);
  };
  if (!existsSync(dir)) fail('loadIdx', `dataset directory not found: ${dir}`);
  return loadIdxPair(find(`${split}-images-idx3-ubyte`), find(`${split}-labels-idx1-ubyte`), `${dir} (${split})`);
}
