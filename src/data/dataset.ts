// In-memory image classification datasets: uint8-or-float pixels in NCHW order plus integer labels,
// with a deterministic stratified hold-out split.
import { fail } from '../errors.js';

/** N images of C×H×W pixels scaled to [0, 1], and their class labels. */
export interface ImageDataset {
  readonly name: string;
  /** Pixels in [0, 1], image after image, each in CHW order. */
  readonly pixels: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly classes: number;
}

/** A dataset holding the images at `indices` (in that order). */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = ds.name): ImageDataset {
  const per = ds.channels * ds.height * ds.width;
  const pixels = new Float32Array(indices.length * per);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= ds.count) fail('subset', `index ${j} is outside the ${ds.count} images of ${ds.name}`);
    pixels.set(ds.pixels.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j];
  }
  return { ...ds, name, pixels, labels, count: indices.length };
}

/**
 * Splits off `holdout` images for evaluation, the same share from every class and always the last images
 * of each class, so the held-out set is fixed whatever the training seed.
 */
export function splitHoldout(ds: ImageDataset, holdout: number): { train: ImageDataset; test: ImageDataset } {
  if (!Number.isInteger(holdout) || holdout < 1 || holdout >= ds.count) {
    fail('splitHoldout', `holdout must be an integer in [1, ${ds.count - 1}] for ${ds.count} images, got ${holdout}`);
  }
  const byClass: number[][] = Array.from({ length: ds.classes }, () => []);
  for (let i = 0; i < ds.count; i++) byClass[ds.labels[i]].push(i);
  // Largest-remainder apportionment so the shares add up to exactly `holdout`.
  const exact = byClass.map((c) => (c.length * holdout) / ds.count);
  const take = exact.map(Math.floor);
  let left = holdout - take.reduce((a, b) => a + b, 0);
  const order = exact.map((e, k) => [e - Math.floor(e), k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, k] of order) {
    if (left === 0) break;
    take[k]++;
    left--;
  }
  const train: number[] = [];
  const test: number[] = [];
  byClass.forEach((c, k) => {
    train.push(...c.slice(0, c.length - take[k]));
    test.push(...c.slice(c.length - take[k]));
  });
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  return { train: subset(ds, train, `${ds.name} (train)`), test: subset(ds, test, `${ds.name} (held out)`) };
}
