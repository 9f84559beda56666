// Image files → tensors in Node: PNG (pngjs) and JPEG (jpeg-js) decoding and file reading, for `gpugrad predict`
// and users feeding their own pictures; the pixel → tensor steps are in pixels.ts (browser-safe) and re-exported.
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { fail } from '../errors.js';
import { type RawImage } from './pixels.js';

export { type RawImage, type ImageTensorOptions, toPlanar, resizePlanar, imageToTensor, IMAGENET_MEAN, IMAGENET_STD } from './pixels.js';

/**
 * Default for DecodeImageOptions.maxPixels: 2^25 = 33,554,432 pixels (e.g. 8192×4096, more than a 24-megapixel
 * camera's). Decoding takes 4 bytes a pixel and turning it into a tensor 12 more, so this bounds an image at
 * about half a gigabyte.
 */
export const MAX_IMAGE_PIXELS = 2 ** 25;

export interface DecodeImageOptions {
  /** Largest width × height decoded; a file whose header claims more is refused before decoding. */
  maxPixels?: number;
}

/**
 * The width and height a PNG (IHDR, which must be the first chunk) or JPEG (its first start-of-frame marker)
 * declares, read from the header without decoding; null when the header does not say.
 */
export function imageHeaderSize(bytes: Uint8Array): { width: number; height: number } | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] === 0x89) {
    // Signature (8), then the IHDR chunk: length (4) 'IHDR' (4) width (4) height (4).
    if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return null;
    return { width: dv.getUint32(16, false), height: dv.getUint32(20, false) };
  }
  // JPEG: walk the marker segments after SOI until a start-of-frame (SOF0–SOF15 but DHT C4, JPG C8, DAC CC).
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return null;
    const m = bytes[p + 1];
    if (m === 0xff) {
      p++; // fill byte
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2; // markers without a length
      continue;
    }
    if (m === 0xd9 || m === 0xda) return null; // end of image or start of scan before any frame
    const len = dv.getUint16(p + 2, false);
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (p + 9 > bytes.length) return null;
      return { width: dv.getUint16(p + 7, false), height: dv.getUint16(p + 5, false) };
    }
    p += 2 + len;
  }
  return null;
}

/**
 * Inflates a PNG's image data before pngjs sees it, bounded by what its IHDR implies. pngjs allocates its whole
 * output buffer up front (a header within the pixel limit but with junk data would cost that much for nothing) and
 * inflates an interlaced image without any cap (a few kilobytes of IDAT could become gigabytes). Here junk fails
 * within one zlib chunk, and the data may not exceed (nor, when not interlaced, fall short of) the image's size.
 */
function checkPngData(bytes: Uint8Array, width: number, height: number, what: string): void {
  const op = 'decodeImage';
  if (bytes.length < 33) fail(op, `${what} is a corrupt PNG: ${bytes.length} bytes end inside its IHDR chunk`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  for (let p = 8; p + 8 <= bytes.length; ) {
    const len = dv.getUint32(p, false);
    if (String.fromCharCode(...bytes.subarray(p + 4, p + 8)) === 'IDAT') idat.push(bytes.subarray(p + 8, Math.min(bytes.length, p + 8 + len)));
    p += 12 + len;
  }
  if (idat.length === 0) fail(op, `${what} is a corrupt PNG: it holds no image data (IDAT chunk)`);
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[bytes[25]] ?? 4;
  const bits = channels * Math.max(1, bytes[24]);
  // The exact size of the filtered data: a filter byte per row, of the whole image or of each of Adam7's 7 passes.
  const rows = (w: number, h: number): number => (w > 0 && h > 0 ? h * (Math.ceil((w * bits) / 8) + 1) : 0);
  const interlaced = bytes[28] !== 0;
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  const bound = interlaced ? passes.reduce((n, [x0, y0, dx, dy]) => n + rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy)), 0) : rows(width, height);
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(Buffer.concat(idat), { maxOutputLength: bound });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') fail(op, `${what}: its PNG data inflate past the ${bound} bytes a ${width}×${height} image holds`);
    return fail(op, `${what} is a corrupt PNG: ${(e as Error).message}`);
  }
  if (inflated.length < bound) fail(op, `${what} is a corrupt PNG: its data inflate to ${inflated.length} bytes, fewer than the ${bound} a ${width}×${height} image needs`);
}

/** Decodes PNG or JPEG bytes (sniffed from the signature, not the file name). */
export function decodeImage(bytes: Uint8Array, what = 'image', options: DecodeImageOptions = {}): RawImage {
  const op = 'decodeImage';
  const isPng = bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8;
  if (!isPng && !isJpeg) fail(op, `${what} is neither a PNG nor a JPEG (its first bytes are ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'missing'})`);
  const kind = isPng ? 'PNG' : 'JPEG';
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  if (!(maxPixels > 0)) fail(op, `maxPixels must be a positive number, got ${maxPixels}`);
  // The size comes from the header and is checked before the decoder allocates anything.
  const size = imageHeaderSize(bytes);
  if (!size) fail(op, `${what} is a corrupt ${kind}: its header declares no image size (${isPng ? 'IHDR must be the first chunk' : 'no start-of-frame marker before the image data'})`);
  if (size.width === 0 || size.height === 0) fail(op, `${what} is a corrupt ${kind}: its header declares a ${size.width}×${size.height} image`);
  if (size.width * size.height > maxPixels) {
    fail(op, `${what}: the ${kind} header declares ${size.width}×${size.height} = ${size.width * size.height} pixels, over the limit of ${maxPixels} (raise it with the maxPixels option, or --max-pixels in the CLI)`);
  }
  if (isPng) checkPngData(bytes, size.width, size.height, what);
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    // The decoder's own caps also bound progressive files' coefficient buffers.
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: Math.ceil(maxPixels / 1e6), maxMemoryUsageInMB: Math.max(512, Math.ceil((16 * maxPixels) / 2 ** 20)) });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (e) {
    fail(op, `${what} is a corrupt ${kind}: ${(e as Error).message}`);
  }
}

/** Reads and decodes an image file; a missing file is a GpugradError, not an ENOENT stack. */
export function readImage(path: string, options: DecodeImageOptions = {}): RawImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail('readImage', code === 'ENOENT' ? `image file not found: ${path}` : `cannot read ${path} (${code ?? (e as Error).message})`);
  }
  return decodeImage(bytes, path, options);
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
