// Builders for crafted (hostile) input files: torch.save-style zips around hand-written pickles, PNG and JPEG
// headers, IDX files and gzip streams. The hostile-input regression tests and the fuzz suite share them.
import { deflateSync, gzipSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const le32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
};
const be32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, false);
  return b;
};

// ---- pickles ----

/** Pickle opcodes as byte strings, for writing data.pkl by hand. */
export const pk = {
  proto: Uint8Array.of(0x80, 2),
  stop: Uint8Array.of(0x2e),
  mark: Uint8Array.of(0x28),
  tuple: Uint8Array.of(0x74),
  emptyTuple: Uint8Array.of(0x29),
  emptyDict: Uint8Array.of(0x7d),
  emptyList: Uint8Array.of(0x5d),
  setitems: Uint8Array.of(0x75),
  reduce: Uint8Array.of(0x52),
  binpersid: Uint8Array.of(0x51),
  false: Uint8Array.of(0x89),
  str: (s: string): Uint8Array => {
    const b = ascii(s);
    return concat(Uint8Array.of(0x58), le32(b.length), b);
  },
  /** BININT: a signed 32-bit integer. */
  int: (v: number): Uint8Array => concat(Uint8Array.of(0x4a), le32(v)),
  /** LONG1 of 8 bytes: any safe integer. */
  long: (v: number): Uint8Array => {
    const b = new Uint8Array(10);
    b[0] = 0x8a;
    b[1] = 8;
    new DataView(b.buffer).setBigInt64(2, BigInt(v), true);
    return b;
  },
  /** LONG4 of n bytes (all 0x01: a huge positive integer). */
  long4: (n: number): Uint8Array => concat(Uint8Array.of(0x8b), le32(n), new Uint8Array(n).fill(1)),
  global: (module: string, name: string): Uint8Array => concat(Uint8Array.of(0x63), ascii(`${module}\n${name}\n`)),
  ints: (vs: readonly number[]): Uint8Array => concat(pk.mark, ...vs.map((v) => (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? pk.int(v) : pk.long(v))), pk.tuple),
};

export interface CraftedTensor {
  name: string;
  /** Storage key (several tensors may share one). */
  key: string;
  /** Elements the pickle says the storage holds. */
  numel: number;
  offset: number;
  shape: readonly number[];
  stride: readonly number[];
}

/** data.pkl of a state dict whose tensors are the given (possibly hostile) float32 views. */
export function stateDictPickle(tensors: readonly CraftedTensor[]): Uint8Array {
  const items = tensors.map((t) =>
    concat(
      pk.str(t.name),
      pk.global('torch._utils', '_rebuild_tensor_v2'),
      pk.mark,
      pk.mark,
      pk.str('storage'),
      pk.global('torch', 'FloatStorage'),
      pk.str(t.key),
      pk.str('cpu'),
      pk.long(t.numel),
      pk.tuple,
      pk.binpersid,
      pk.long(t.offset),
      pk.ints(t.shape),
      pk.ints(t.stride),
      pk.false,
      pk.global('collections', 'OrderedDict'),
      pk.emptyTuple,
      pk.reduce,
      pk.tuple,
      pk.reduce,
    ),
  );
  return concat(pk.proto, pk.emptyDict, pk.mark, ...items, pk.setitems, pk.stop);
}

/** A zip of stored entries, as torch.save writes it. */
export function zipStored(entries: readonly [string, Uint8Array][]): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = ascii(name);
    const crc = crc32(data);
    const local = new Uint8Array(30);
    const dv = new DataView(local.buffer);
    dv.setUint32(0, 0x04034b50, true);
    dv.setUint16(4, 20, true);
    dv.setUint32(14, crc, true);
    dv.setUint32(18, data.length, true);
    dv.setUint32(22, data.length, true);
    dv.setUint16(26, n.length, true);
    const cd = new Uint8Array(46);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, n.length, true);
    cv.setUint32(42, offset, true);
    locals.push(local, n, data);
    central.push(cd, n);
    offset += 30 + n.length + data.length;
  }
  const cdBytes = concat(...central);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdBytes.length, true);
  ev.setUint32(16, offset, true);
  return concat(...locals, cdBytes, eocd);
}

/** A torch.save-style file: archive/data.pkl, and the storages as float32 bytes (`bytes` present per key). */
export function craftPth(pickle: Uint8Array, storages: Record<string, number> = {}): Uint8Array {
  return zipStored([['archive/data.pkl', pickle], ...Object.entries(storages).map(([k, n]) => [`archive/data/${k}`, new Uint8Array(n)] as [string, Uint8Array]), ['archive/byteorder', ascii('little')]]);
}

/** A .pth holding one hostile view of a storage of `numel` float32 elements, all present. */
export function viewPth(t: Omit<CraftedTensor, 'name' | 'key'>): Uint8Array {
  return craftPth(stateDictPickle([{ name: 'w', key: '0', ...t }]), { '0': 4 * t.numel });
}

/** A .pth whose data.pkl is one LONG4 integer of `n` bytes. */
export function longPth(n: number): Uint8Array {
  return craftPth(concat(pk.proto, pk.long4(n), pk.stop));
}

// ---- images ----

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const td = concat(ascii(type), data);
  return concat(be32(data.length), td, be32(crc32(td)));
}

/** A PNG whose IHDR claims width×height (8-bit RGBA); its IDAT is `idat` (default: none at all). */
export function pngHeader(width: number, height: number, idat: Uint8Array | null = null): Uint8Array {
  const ihdr = concat(be32(width), be32(height), Uint8Array.of(8, 6, 0, 0, 0));
  return concat(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), pngChunk('IHDR', ihdr), ...(idat ? [pngChunk('IDAT', idat)] : []), pngChunk('IEND', new Uint8Array(0)));
}

/** A JPEG's first markers: SOI, then a baseline SOF0 claiming width×height with 3 components, then EOI. */
export function jpegHeader(width: number, height: number, sof = 0xc0): Uint8Array {
  const sofSeg = Uint8Array.of(0xff, sof, 0, 17, 8, (height >> 8) & 0xff, height & 0xff, (width >> 8) & 0xff, width & 0xff, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0);
  return concat(Uint8Array.of(0xff, 0xd8), sofSeg, Uint8Array.of(0xff, 0xd9));
}

// ---- IDX ----

/** An IDX header for unsigned bytes with the given dims, followed by `data` (default: nothing). */
export function idxHeader(dims: readonly number[], data: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat(Uint8Array.of(0, 0, 8, dims.length), ...dims.map(be32), data);
}

/**
 * A gzip stream of an IDX file that declares `declared` dims but holds `bytes` zero bytes of data, built from
 * repeated gzip members of zeros so that gigabytes compress to a few megabytes without being allocated here.
 */
export function gzipIdxBomb(declared: readonly number[], bytes: number, member = 16 << 20): Uint8Array {
  const zeros = gzipSync(new Uint8Array(member), { level: 9 });
  const parts = [gzipSync(idxHeader(declared))];
  for (let left = bytes; left > 0; left -= member) parts.push(left >= member ? zeros : gzipSync(new Uint8Array(left), { level: 9 }));
  return concat(...parts);
}

/** An Adam7-interlaced 8-bit RGBA PNG of the given pixels (pngjs writes no interlaced files). */
export function interlacedPng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  const raw: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    if (x0 >= width || y0 >= height) continue;
    for (let y = y0; y < height; y += dy) {
      raw.push(0); // filter: none
      for (let x = x0; x < width; x += dx) raw.push(...rgba.subarray(4 * (y * width + x), 4 * (y * width + x) + 4));
    }
  }
  const ihdr = concat(be32(width), be32(height), Uint8Array.of(8, 6, 0, 0, 1));
  return concat(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Uint8Array.from(raw))), pngChunk('IEND', new Uint8Array(0)));
}
