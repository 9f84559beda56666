// Reader for the IDX format of MNIST and Fashion-MNIST (optionally gzipped), the big-endian files
// train-images-idx3-ubyte / train-labels-idx1-ubyte and their t10k siblings.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { fail } from '../errors.js';
import type { ImageDataset } from './dataset.js';

/** An unsigned-byte IDX array: its dimensions and its values in row-major order. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const OP = 'readIdx';

/**
 * Default for ReadIdxOptions.maxBytes: 1 GiB of data (MNIST's training images are 47 MB, EMNIST's largest file
 * 550 MB). As float32 pixels a dataset takes four times its IDX bytes.
 */
export const MAX_IDX_BYTES = 2 ** 30;

export interface ReadIdxOptions {
  /** Largest data section accepted (bytes after the header); checked from the header, before decompressing. */
  maxBytes?: number;
}

const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The data size an IDX header declares (rank and dims), or null when `b` is too short to hold the header. */
function declared(b: Uint8Array): { header: number; count: number } | null {
  if (b.length < 4) return null;
  const rank = b[3];
  const header = 4 + 4 * rank;
  if (b.length < header) return null;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let count = 1;
  for (let i = 0; i < rank; i++) count *= view.getUint32(4 + 4 * i, false);
  return { header, count };
}

/**
 * Decompresses a gzipped IDX file without trusting it: the first bytes are inflated alone to read the header,
 * whose declared size is checked against the limit, and the whole stream is then inflated with that size as a
 * hard cap that zlib enforces chunk by chunk, so a small file that inflates to gigabytes is stopped within one
 * chunk of its declared size.
 */
function gunzipIdx(b: Uint8Array, what: string, maxBytes: number): Uint8Array {
  const sync = { finishFlush: constants.Z_SYNC_FLUSH };
  let head: Uint8Array = new Uint8Array(0);
  try {
    // A prefix of the stream inflates to what it holds (Z_SYNC_FLUSH: no error at its cut); 4 KB inflate to at most ~4 MB.
    for (let n = 4096; ; n *= 4) {
      head = gunzipSync(b.subarray(0, n), { ...sync, maxOutputLength: 1 << 24 });
      if (declared(head) || n >= b.length) break;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') fail(OP, `${what} looks gzipped but does not decompress (${(e as Error).message})`);
  }
  const d = declared(head);
  if (!d) return head; // too short for a header: readIdx says so
  if (d.count > maxBytes) fail(OP, `${what}: the IDX header declares ${d.count} bytes of data, over the limit of ${maxBytes} (option maxBytes)`);
  const cap = d.header + d.count;
  try {
    return gunzipSync(b, { maxOutputLength: cap + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') fail(OP, `${what} decompresses to more than the ${cap} bytes its IDX header declares (header + ${d.count} bytes of data); refused while inflating`);
    return fail(OP, `${what} looks gzipped but does not decompress (${(e as Error).message})`);
  }
}

/**
 * Parses IDX bytes (gzip detected by its magic 0x1f 0x8b). Only the unsigned-byte type (0x08) is
 * accepted: magic 0x00000801 for label files and 0x00000803 for image files.
 */
export function readIdx(bytes: Uint8Array, what = 'IDX data', options: ReadIdxOptions = {}): IdxArray {
  const maxBytes = options.maxBytes ?? MAX_IDX_BYTES;
  const b = isGzip(bytes) ? gunzipIdx(bytes, what, maxBytes) : bytes;
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
  if (count > maxBytes) fail(OP, `${what}: the IDX header declares [${dims.join(',')}] = ${count} bytes of data, over the limit of ${maxBytes} (option maxBytes)`);
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
