// Decoded images → tensors without any host facility: planar conversion, bilinear resizing, centre cropping and
// normalisation into NCHW float tensors. Browser-safe (the package index exports it); decoding files is in
// image.ts (Node), and in a page a canvas's getImageData() gives the RGBA bytes.
import { type Tensor } from '../tensor.js';
import { tensor } from '../creation.js';
import { fail } from '../errors.js';

/** Decoded pixels: `channels` interleaved bytes per pixel (RGBA from the decoders). */
export interface RawImage {
  width: number;
  height: number;
  /** RGBA bytes, row after row. */
  rgba: Uint8Array;
}

/**
 * Planar float pixels in [0, 1]: 1 channel (ITU-R 601 luma) or 3 (RGB). Transparent pixels are composited
 * over `background` (0 black, 1 white) so a digit drawn on a transparent canvas still reads.
 */
export function toPlanar(img: RawImage, channels: 1 | 3, background = 1): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(channels * n);
  for (let i = 0; i < n; i++) {
    const a = img.rgba[4 * i + 3] / 255;
    const r = (img.rgba[4 * i] / 255) * a + background * (1 - a);
    const g = (img.rgba[4 * i + 1] / 255) * a + background * (1 - a);
    const b = (img.rgba[4 * i + 2] / 255) * a + background * (1 - a);
    if (channels === 1) out[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    else {
      out[i] = r;
      out[n + i] = g;
      out[2 * n + i] = b;
    }
  }
  return out;
}

/**
 * Bilinear resize of planar [c, h, w] data with half-pixel centres (align_corners=False), averaging over
 * the source footprint when shrinking so that downscaled digits do not alias.
 */
export function resizePlanar(src: Float32Array, c: number, h: number, w: number, oh: number, ow: number): Float32Array {
  if (![h, w, oh, ow].every((v) => Number.isInteger(v) && v > 0)) fail('resize', `sizes must be positive integers, got ${h}×${w} → ${oh}×${ow}`);
  // Shrinking by more than 2×: box-filter first so every source pixel contributes.
  if (h >= 2 * oh || w >= 2 * ow) {
    const fy = Math.max(1, Math.floor(h / oh));
    const fx = Math.max(1, Math.floor(w / ow));
    const bh = Math.floor(h / fy);
    const bw = Math.floor(w / fx);
    const box = new Float32Array(c * bh * bw);
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < bh; y++)
        for (let x = 0; x < bw; x++) {
          let s = 0;
          for (let dy = 0; dy < fy; dy++) for (let dx = 0; dx < fx; dx++) s += src[(ch * h + y * fy + dy) * w + x * fx + dx];
          box[(ch * bh + y) * bw + x] = s / (fy * fx);
        }
    return resizePlanar(box, c, bh, bw, oh, ow);
  }
  const out = new Float32Array(c * oh * ow);
  const sy = h / oh;
  const sx = w / ow;
  for (let y = 0; y < oh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ty = fy - y0;
    for (let x = 0; x < ow; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const tx = fx - x0;
      for (let ch = 0; ch < c; ch++) {
        const p = ch * h * w;
        const top = src[p + y0 * w + x0] * (1 - tx) + src[p + y0 * w + x1] * tx;
        const bot = src[p + y1 * w + x0] * (1 - tx) + src[p + y1 * w + x1] * tx;
        out[(ch * oh + y) * ow + x] = top * (1 - ty) + bot * ty;
      }
    }
  }
  return out;
}

export interface ImageTensorOptions {
  channels: 1 | 3;
  /** Output size (square). */
  size: number;
  /**
   * 'imagenet': resize the shorter side to size·256/224 then centre-crop (torchvision's eval transform);
   * 'stretch': resize the whole image to size×size.
   */
  fit?: 'imagenet' | 'stretch';
  /** Per-channel mean and std for (x − mean)/std. */
  mean: readonly number[];
  std: readonly number[];
  /**
   * Make the picture light-on-dark like MNIST: 'auto' inverts when the border is brighter than the
   * middle grey (a dark digit on white paper). Default false.
   */
  invert?: boolean | 'auto';
}

/** Turns a decoded image into a normalised [1, C, size, size] tensor. */
export function imageToTensor(img: RawImage, o: ImageTensorOptions): Tensor {
  const c = o.channels;
  if (o.mean.length !== c || o.std.length !== c) fail('imageToTensor', `mean and std need ${c} values each, got ${o.mean.length} and ${o.std.length}`);
  let data = toPlanar(img, c, o.invert ? 1 : 0);
  let h = img.height;
  let w = img.width;
  if ((o.fit ?? 'stretch') === 'imagenet') {
    const short = Math.round((o.size * 256) / 224);
    const [rh, rw] = h <= w ? [short, Math.max(short, Math.round((w * short) / h))] : [Math.max(short, Math.round((h * short) / w)), short];
    data = resizePlanar(data, c, h, w, rh, rw);
    const top = Math.floor((rh - o.size) / 2);
    const left = Math.floor((rw - o.size) / 2);
    const crop = new Float32Array(c * o.size * o.size);
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < o.size; y++) crop.set(data.subarray((ch * rh + top + y) * rw + left, (ch * rh + top + y) * rw + left + o.size), (ch * o.size + y) * o.size);
    data = crop;
  } else {
    data = resizePlanar(data, c, h, w, o.size, o.size);
  }
  h = w = o.size;
  let invert = o.invert === true;
  if (o.invert === 'auto') {
    let border = 0;
    let k = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        if (y === 0 || x === 0 || y === h - 1 || x === w - 1) {
          border += data[y * w + x];
          k++;
        }
    invert = border / k > 0.5;
  }
  const n = h * w;
  for (let ch = 0; ch < c; ch++)
    for (let i = 0; i < n; i++) {
      const v = invert ? 1 - data[ch * n + i] : data[ch * n + i];
      data[ch * n + i] = (v - o.mean[ch]) / o.std[ch];
    }
  return tensor(data, [1, c, h, w]);
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
