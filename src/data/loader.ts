// Batching over an ImageDataset: seeded shuffling per epoch, normalisation, optional random shifts.
import { fail } from '../errors.js';
import { Generator } from '../random.js';
import { type Tensor } from '../tensor.js';
import { tensor } from '../creation.js';
import type { ImageDataset } from './dataset.js';

export interface LoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch with a generator seeded from `seed` (default false: dataset order). */
  shuffle?: boolean;
  seed?: number;
  /** Per-channel normalisation (x − mean) / std; default 0 and 1 (none). */
  mean?: number;
  std?: number;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Random translation by up to this many pixels (zero fill), a cheap augmentation; default 0. */
  maxShift?: number;
}

export interface Batch {
  /** [B, C, H, W], normalised. */
  x: Tensor;
  labels: Int32Array;
}

export class DataLoader {
  readonly batchSize: number;
  private readonly mean: number;
  private readonly std: number;

  constructor(
    readonly dataset: ImageDataset,
    readonly options: LoaderOptions,
  ) {
    const b = options.batchSize;
    if (!Number.isInteger(b) || b < 1) fail('DataLoader', `batchSize must be a positive integer, got ${b}`);
    if (dataset.count === 0) fail('DataLoader', `dataset ${dataset.name} is empty`);
    this.batchSize = b;
    this.mean = options.mean ?? 0;
    this.std = options.std ?? 1;
    if (!(this.std > 0)) fail('DataLoader', `std must be positive, got ${this.std}`);
    const s = options.maxShift ?? 0;
    if (!Number.isInteger(s) || s < 0) fail('DataLoader', `maxShift must be a non-negative integer, got ${s}`);
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.count / this.batchSize;
    return this.options.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /**
   * The batches of epoch `index` (0-based). Tensors are created lazily, one batch at a time, so a tidy
   * scope per step frees each batch. Order and shifts depend only on (seed, index): a run resumed at
   * epoch k draws exactly the batches an unbroken run would.
   */
  *epoch(index = 0): IterableIterator<Batch> {
    const ds = this.dataset;
    const gen = new Generator(((this.options.seed ?? 0) * 1_000_003 + index) >>> 0);
    const order = this.options.shuffle ? gen.permutation(ds.count) : Int32Array.from({ length: ds.count }, (_, i) => i);
    const per = ds.channels * ds.height * ds.width;
    for (let k = 0; k < this.length; k++) {
      const idx = order.subarray(k * this.batchSize, Math.min(ds.count, (k + 1) * this.batchSize));
      const buf = new Float32Array(idx.length * per);
      const labels = new Int32Array(idx.length);
      idx.forEach((j, i) => {
        this.copyImage(ds, j, buf, i * per, gen);
        labels[i] = ds.labels[j];
      });
      yield { x: tensor(buf, [idx.length, ds.channels, ds.height, ds.width]), labels };
    }
  }

  private copyImage(ds: ImageDataset, j: number, out: Float32Array, at: number, gen: Generator): void {
    const { channels: c, height: h, width: w } = ds;
    const src = ds.pixels.subarray(j * c * h * w, (j + 1) * c * h * w);
    const s = this.options.maxShift ?? 0;
    const dy = s ? gen.int(2 * s + 1) - s : 0;
    const dx = s ? gen.int(2 * s + 1) - s : 0;
    const bg = (0 - this.mean) / this.std;
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        const sy = y - dy;
        for (let x = 0; x < w; x++) {
          const sx = x - dx;
          const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          out[at + (ch * h + y) * w + x] = inside ? (src[(ch * h + sy) * w + sx] - this.mean) / this.std : bg;
        }
      }
    }
  }
}
