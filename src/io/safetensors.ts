// The safetensors weight format (Hugging Face): an 8-byte little-endian header length, a JSON header naming
// each tensor's dtype, shape and byte range, then the raw little-endian data. Pure functions on Uint8Array.
import { currentBackend } from '../backend.js';
import { fail, fmt } from '../errors.js';
import { fromStorage, Tensor } from '../tensor.js';

const OP = 'safetensors';

/** Bytes per element of each dtype gpugrad reads (safetensors' names; the .pth reader maps torch's storages onto them). */
export const DTYPE_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 } as const;
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;
/** The dtypes writeSafetensors can produce. */
export type WriteDtype = 'F32' | 'F16' | 'BF16' | 'I64';

/** The reference implementation refuses headers above 100 MB; so do we (a corrupted length would otherwise allocate). */
const MAX_HEADER = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range within the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Entries sorted by their position in the data section. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute offset of the data section in the file. */
  dataStart: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates the header without touching the data: every entry's dtype, shape, and byte range
 * (inside the data section, matching the shape, not overlapping another, no gaps, covering the section).
 * Throws a GpugradError naming the first problem.
 */
export function parseSafetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
  if (!(bytes instanceof Uint8Array)) fail(OP, 'expected the file contents as a Uint8Array');
  if (bytes.length < 8) fail(OP, `truncated file: ${bytes.length} bytes, fewer than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const headerLen = hi * 4294967296 + lo;
  if (headerLen > bytes.length - 8) fail(OP, `header length ${headerLen} runs past the end of the file (${bytes.length - 8} bytes after the length field)`);
  if (headerLen > MAX_HEADER) fail(OP, `header length ${headerLen} exceeds the ${MAX_HEADER}-byte limit`);
  let json: unknown;
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    json = JSON.parse(text);
  } catch (e) {
    fail(OP, `header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(json)) fail(OP, 'header must be a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) fail(OP, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') fail(OP, `__metadata__['${k}'] must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(raw)) fail(OP, `tensor '${name}': entry must be an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      fail(OP, `tensor '${name}': unknown or unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(OP, `tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(OP, `tensor '${name}': data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(OP, `tensor '${name}': data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) fail(OP, `tensor '${name}': data_offsets [${begin}, ${end}] are out of range of the ${dataLen}-byte data section`);
    const dt = dtype as SafetensorsDtype;
    const elems = (shape as number[]).reduce((a, b) => a * b, 1);
    const want = elems * DTYPE_BYTES[dt];
    if (want !== end - begin) {
      fail(OP, `tensor '${name}': shape ${fmt(shape as number[])} of ${dt} needs ${want} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.push({ name, dtype: dt, shape: shape as number[], begin, end });
  }
  // Empty tensors share an offset, so ties keep the header's written order (Object.entries would hoist
  // integer-like names such as '0' ahead of the others).
  const rank = topLevelKeyOrder(text);
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end || (rank.get(a.name) ?? 0) - (rank.get(b.name) ?? 0));
  let pos = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.begin < pos) fail(OP, `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap tensor '${entries[i - 1].name}' (which ends at ${pos})`);
    if (e.begin > pos) fail(OP, `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${pos}`);
    pos = e.end;
  }
  if (pos !== dataLen) fail(OP, `the tensors cover ${pos} bytes but the data section holds ${dataLen} (truncated or trailing bytes)`);
  return { entries, metadata, dataStart };
}

/** The keys of a (valid) JSON object's top level in written order; a repeated key keeps its last place, as JSON.parse does. */
function topLevelKeyOrder(text: string): Map<string, number> {
  const order = new Map<string, number>();
  let depth = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (k < text.length && /\s/.test(text[k])) k++;
        if (text[k] === ':') {
          const key = JSON.parse(text.slice(i, j + 1)) as string;
          order.delete(key);
          order.set(key, n++);
        }
      }
      i = j;
    }
  }
  return order;
}

const f32scratch = new Float32Array(1);
const u32scratch = new Uint32Array(f32scratch.buffer);

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 → binary16 with round-to-nearest-even (overflow to ±Inf, NaN kept). */
function floatToHalf(v: number): number {
  f32scratch[0] = v;
  const x = u32scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  let m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const he = e - 127 + 15;
  if (he >= 31) return sign | 0x7c00;
  if (he <= 0) {
    if (he < -10) return sign;
    m |= 0x800000;
    const shift = 14 - he;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (he << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

function floatToBf16(v: number): number {
  f32scratch[0] = v;
  const x = u32scratch[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** `n` little-endian elements of `dtype` starting at byte `p` of `dv`, as float32 (integers exact up to 2^24). */
export function decodeElements(dv: DataView, p: number, dtype: SafetensorsDtype, n: number): Float32Array {
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(p + 4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(p + 8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(p + 2 * i, true));
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) {
        u32scratch[0] = dv.getUint16(p + 2 * i, true) << 16;
        out[i] = f32scratch[0];
      }
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(p + 8 * i, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(p + 4 * i, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(p + 2 * i, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(p + i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = dv.getUint8(p + i);
      break;
  }
  return out;
}

function decode(dv: DataView, at: number, e: SafetensorsEntry): Float32Array {
  return decodeElements(dv, at + e.begin, e.dtype, (e.end - e.begin) / DTYPE_BYTES[e.dtype]);
}

/**
 * Reads a safetensors file into float32 tensors on the current backend, in file order. The whole header
 * is validated before any tensor is created, so a bad file throws without allocating anything.
 */
export function readSafetensors(bytes: Uint8Array): Map<string, Tensor> {
  const h = parseSafetensorsHeader(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoded = h.entries.map((e) => decode(dv, h.dataStart, e));
  const be = currentBackend();
  const out = new Map<string, Tensor>();
  h.entries.forEach((e, i) => out.set(e.name, fromStorage(be, be.upload(decoded[i]), e.shape)));
  return out;
}

/** The metadata strings of a safetensors file (the `__metadata__` object). */
export function readSafetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  return parseSafetensorsHeader(bytes).metadata;
}

export interface WriteSafetensorsOptions {
  /** Stored in `__metadata__` (string values only, as the format requires). */
  metadata?: Record<string, string>;
  /** dtype for the floating-point tensors (default 'F32'). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /**
   * Which tensors are stored as I64: by default the BatchNorm counters `*num_batches_tracked`, which
   * torch keeps as int64 (gpugrad as float32), so that torch's load_state_dict accepts the file.
   */
  int64?: (name: string) => boolean;
}

const defaultInt64 = (name: string): boolean => name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked');

/** Encodes named host arrays; the synchronous and asynchronous writers share it. */
export function encodeSafetensors(items: readonly { name: string; shape: readonly number[]; data: Float32Array }[], options: WriteSafetensorsOptions = {}): Uint8Array {
  const floatDtype = options.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(floatDtype)) fail('writeSafetensors', `dtype must be 'F32', 'F16' or 'BF16', got ${JSON.stringify(floatDtype)}`);
  const isInt = options.int64 ?? defaultInt64;
  const seen = new Set<string>();
  const parts: string[] = [];
  if (options.metadata) {
    for (const [k, v] of Object.entries(options.metadata)) if (typeof v !== 'string') fail('writeSafetensors', `metadata['${k}'] must be a string`);
    parts.push(`"__metadata__":${JSON.stringify(options.metadata)}`);
  }
  const plan: { dtype: WriteDtype; data: Float32Array; at: number }[] = [];
  let offset = 0;
  for (const it of items) {
    if (it.name === '__metadata__' || seen.has(it.name)) fail('writeSafetensors', `tensor name '${it.name}' is reserved or repeated`);
    seen.add(it.name);
    const dtype: WriteDtype = isInt(it.name) ? 'I64' : floatDtype;
    if (dtype === 'I64') {
      for (const v of it.data) if (!Number.isInteger(v)) fail('writeSafetensors', `tensor '${it.name}' is written as I64 but holds the non-integer ${v}`);
    }
    const len = it.data.length * (DTYPE_BYTES as Record<string, number>)[dtype];
    parts.push(`${JSON.stringify(it.name)}:{"dtype":"${dtype}","shape":${JSON.stringify([...it.shape])},"data_offsets":[${offset},${offset + len}]}`);
    plan.push({ dtype, data: it.data, at: offset });
    offset += len;
  }
  // Built by hand so the key order is the given order (JS objects would hoist integer-like names).
  let header = new TextEncoder().encode(`{${parts.join(',')}}`);
  // Pad with spaces to 8 bytes so the data section is aligned, as the reference writer does.
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) {
    const h2 = new Uint8Array(padded).fill(0x20);
    h2.set(header);
    header = h2;
  }
  const out = new Uint8Array(8 + header.length + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, header.length, true);
  dv.setUint32(4, 0, true);
  out.set(header, 8);
  const base = 8 + header.length;
  for (const p of plan) {
    const at = base + p.at;
    const d = p.data;
    if (p.dtype === 'F32') for (let i = 0; i < d.length; i++) dv.setFloat32(at + 4 * i, d[i], true);
    else if (p.dtype === 'F16') for (let i = 0; i < d.length; i++) dv.setUint16(at + 2 * i, floatToHalf(d[i]), true);
    else if (p.dtype === 'BF16') for (let i = 0; i < d.length; i++) dv.setUint16(at + 2 * i, floatToBf16(d[i]), true);
    else for (let i = 0; i < d.length; i++) dv.setBigInt64(at + 8 * i, BigInt(d[i]), true);
  }
  return out;
}

function checkMap(op: string, map: Map<string, Tensor>): void {
  if (!(map instanceof Map)) fail(op, 'expected a Map<string, Tensor> (e.g. model.stateDict())');
  for (const [k, t] of map) if (!(t instanceof Tensor)) fail(op, `value for '${k}' is not a Tensor`);
}

/**
 * Encodes tensors (e.g. `model.stateDict()`) as safetensors bytes, in the map's order. Synchronous, so it
 * needs backends that read synchronously; use writeSafetensorsAsync otherwise.
 */
export function writeSafetensors(map: Map<string, Tensor>, options: WriteSafetensorsOptions = {}): Uint8Array {
  checkMap('writeSafetensors', map);
  return encodeSafetensors([...map].map(([name, t]) => ({ name, shape: t.shape, data: t.dataSync() })), options);
}

export async function writeSafetensorsAsync(map: Map<string, Tensor>, options: WriteSafetensorsOptions = {}): Promise<Uint8Array> {
  checkMap('writeSafetensors', map);
  const items: { name: string; shape: readonly number[]; data: Float32Array }[] = [];
  for (const [name, t] of map) items.push({ name, shape: t.shape, data: await t.data() });
  return encodeSafetensors(items, options);
}
