// Image files → tensors in Node: PNG (pngjs) and JPEG (jpeg-js) decoding and file reading, for `gpugrad predict`
// and users feeding their own pictures; the pixel → tensor steps are in pixels.ts (browser-safe) and re-exported.
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { fail } from '../errors.js';
import { type RawImage } from './pixels.js';

export { type RawImage, type ImageTensorOptions, toPlanar, resizePlanar, imageToTensor, IMAGENET_MEAN, IMAGENET_STD } from './pixels.js';

/** Decodes PNG or JPEG bytes (sniffed from the signature, not the file name). */
export function decodeImage(bytes: Uint8Array, what = 'image'): RawImage {
  const op = 'decodeImage';
  const isPng = bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8;
  if (!isPng && !isJpeg) fail(op, `${what} is neither a PNG nor a JPEG (its first bytes are ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'missing'})`);
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    // The memory cap guards against decompression bombs in untrusted files.
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (e) {
    fail(op, `${what} is a corrupt ${isPng ? 'PNG' : 'JPEG'}: ${(e as Error).message}`);
  }
}

/** Reads and decodes an image file; a missing file is a GpugradError, not an ENOENT stack. */
export function readImage(path: string): RawImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail('readImage', code === 'ENOENT' ? `image file not found: ${path}` : `cannot read ${path} (${code ?? (e as Error).message})`);
  }
  return decodeImage(bytes, path);
}

/** Encodes a [H, W] or [3, H, W] planar image in [0, 1] as PNG bytes (tests, debugging, fixtures). */
export function encodePng(data: Float32Array, width: number, height: number, channels: 1 | 3 = 1): Uint8Array {
  const png = new PNG({ width, height });
  const n = width * height;
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = data[(channels === 1 ? 0 : ch * n) + i];
      png.data[4 * i + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png);
}
