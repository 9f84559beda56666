// PyTorch checkpoints (`.pth`/`.pt` written by torch.save): since PyTorch 1.6 a zip archive of stored entries
// holding `data.pkl`, a pickle that names each tensor's storage, offset, size and stride, and one raw file per
// storage; before it, the same pickle and the storages one after another in a single stream. The pickle is read
// by a small interpreter that builds only dicts, lists, tuples, numbers, strings and tensors; any other Python
// global is refused, as torch.load(weights_only=True) refuses it, since unpickling it in Python could run arbitrary
// code. Pure functions on Uint8Array (no node:fs), so they run in browsers too.
import { currentBackend } from '../backend.js';
import { readZip } from './zip.js';
import { fail, GpugradError } from '../errors.js';
import { fromStorage, type Tensor } from '../tensor.js';
import { decodeElements, DTYPE_BYTES, type SafetensorsDtype } from './safetensors.js';

const OP = 'readTorchStateDict';

/**
 * Limits checked before any work: a crafted pickle must not make the reader decode a megabyte-long integer, hold a
 * gigabyte string, or turn a one-element storage viewed with stride 0 into billions of elements.
 */
/** Longest Python integer (LONG1/LONG4) in bytes: torch's magic number takes 10; a float64 holds at most ~128. */
export const MAX_PICKLE_INT_BYTES = 64;
/** Longest string or bytes object in the pickle (state-dict keys and metadata are short). */
export const MAX_PICKLE_STRING_BYTES = 64 << 20;
/** Default for ReadTorchOptions.maxExpandedElements. */
export const MAX_EXPANDED_ELEMENTS = 1 << 22;

const startsWith = (bytes: Uint8Array, head: readonly number[]): boolean => bytes.length >= head.length && head.every((b, i) => bytes[i] === b);
const ZIP = [0x50, 0x4b, 0x03, 0x04];
// The legacy (pre-1.6) format: a pickle (protocol 2) whose first value is torch's magic number 0x1950a86a20f9469cfc6c.
const LEGACY = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** True when the bytes start like a zip archive (how torch.save's files start). */
export function isTorchZip(bytes: Uint8Array): boolean {
  return startsWith(bytes, ZIP);
}

/** True for a torch.save file in either format (zip, or the legacy stream that starts with torch's magic number). */
export function isTorchFile(bytes: Uint8Array): boolean {
  return startsWith(bytes, ZIP) || startsWith(bytes, LEGACY);
}

// ---- storages and tensors ----

/** torch.save's storage classes and the element type each holds. */
const STORAGES = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
} as const satisfies Record<string, SafetensorsDtype>;
type Dtype = (typeof STORAGES)[keyof typeof STORAGES];

class StorageRef {
  constructor(readonly key: string, readonly dtype: Dtype, readonly numel: number) {}
}
/** A tensor named by the pickle: a strided view of a storage, gathered once the storages are located. */
class TensorView {
  /** Its element count (a safe integer: checked). */
  readonly numel: number;
  constructor(readonly ref: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {
    const view = `a tensor of size [${shape.join(', ')}], stride [${stride.join(', ')}] at offset ${offset}`;
    // torch.load(weights_only=True) refuses negative sizes too; a size of -1 would otherwise reach shape arithmetic.
    if (shape.some((n) => n < 0 || !Number.isSafeInteger(n))) fail(OP, `${view}: sizes must be non-negative integers`);
    this.numel = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(this.numel)) fail(OP, `${view}: its ${this.numel} elements exceed the largest count gpugrad represents (2^53)`);
    if (this.numel === 0) return;
    const last = offset + shape.reduce((s, n, d) => s + (n - 1) * stride[d], 0);
    if (offset < 0 || stride.some((x) => x < 0 || !Number.isSafeInteger(x)) || !Number.isSafeInteger(last) || last >= ref.numel) {
      fail(OP, `${view} runs past its storage '${ref.key}' of ${ref.numel} elements`);
    }
  }
}
class Tuple {
  constructor(readonly items: unknown[]) {}
}
class Global {
  constructor(readonly module: string, readonly name: string) {}
  get dotted(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Globals the interpreter builds; everything else is refused. */
const CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state']);
const allowed = (g: Global): boolean => CALLABLES.has(g.dotted) || (g.module === 'torch' && g.name in STORAGES);

const isInts = (v: unknown): v is Tuple => v instanceof Tuple && v.items.every((x) => Number.isInteger(x));

// ---- the pickle interpreter (protocols 2–5, the opcodes that plain containers and tensors use) ----

/**
 * Runs the pickle that starts at byte `start` of `pkl`: its value and the byte after its STOP. Storages it names are
 * recorded in `storages` by key.
 */
function unpickle(pkl: Uint8Array, start: number, storages: Map<string, StorageRef>): { value: unknown; end: number } {
  const dv = new DataView(pkl.buffer, pkl.byteOffset, pkl.byteLength);
  const text = new TextDecoder('utf-8');
  const stack: unknown[] = [];
  // Stack positions of the open marks, so popMark never scans the stack (a crafted pickle could make that quadratic).
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = start;
  const need = (n: number): number => {
    if (p + n > pkl.length) fail(OP, `data.pkl is truncated: needed ${n} bytes at byte ${p} of ${pkl.length}`);
    const at = p;
    p += n;
    return at;
  };
  const floor = (): number => (marks.length ? marks[marks.length - 1] : 0);
  const pop = (): unknown => {
    if (stack.length <= floor()) fail(OP, `data.pkl is damaged: stack empty at byte ${p}`);
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    if (marks.length === 0) fail(OP, `data.pkl is damaged: no mark at byte ${p}`);
    const items = stack.splice(marks.pop()!);
    return items;
  };
  const top = (): unknown => {
    if (stack.length <= floor()) fail(OP, `data.pkl is damaged: stack empty at byte ${p}`);
    return stack[stack.length - 1];
  };
  const line = (): string => {
    const end = pkl.indexOf(0x0a, p);
    if (end < 0) fail(OP, 'data.pkl is truncated inside a GLOBAL name');
    const s = text.decode(pkl.subarray(p, end));
    p = end + 1;
    return s;
  };
  // Sizes are checked against the limit before the bytes are looked at (and need() checks them against the file).
  const sized = (n: number, what: string): number => {
    if (n > MAX_PICKLE_STRING_BYTES) fail(OP, `data.pkl declares a ${what} of ${n} bytes at byte ${p}, over the ${MAX_PICKLE_STRING_BYTES}-byte limit for strings and bytes`);
    return n;
  };
  const str = (n: number): string => text.decode(pkl.subarray(need(sized(n, 'string')), p));
  const bytesOf = (n: number): Uint8Array => pkl.slice(need(sized(n, 'bytes object')), p);
  const long = (n: number): number => {
    // A LONG4 may declare up to 4 GB; decoding a long one through BigInt shifts is quadratic.
    if (n > MAX_PICKLE_INT_BYTES) fail(OP, `data.pkl declares a ${n}-byte integer at byte ${p}, over the ${MAX_PICKLE_INT_BYTES}-byte limit for integers`);
    const at = need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pkl[at + i]);
    if (n > 0 && pkl[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return Number(v);
  };
  const global = (g: Global): Global => {
    if (!allowed(g)) fail(OP, `refusing the Python global '${g.dotted}' in data.pkl: only state dicts of tensors and plain values (dicts, lists, numbers, strings) are read, as torch.load(weights_only=True) reads them`);
    return g;
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (!(d instanceof Map)) fail(OP, `data.pkl is damaged: SETITEM on a ${typeName(d)}`);
    for (let i = 0; i + 1 < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
  };
  const reduce = (f: unknown, args: unknown): unknown => {
    if (!(f instanceof Global) || !(args instanceof Tuple)) fail(OP, `data.pkl is damaged: REDUCE on a ${typeName(f)}`);
    const a = args.items;
    switch (f.dotted) {
      case 'collections.OrderedDict':
        return new Map();
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        if (!(a[0] instanceof TensorView)) fail(OP, `${f.dotted} of a ${typeName(a[0])}, expected a tensor`);
        return a[0];
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2': {
        const [ref, offset, size, stride] = a;
        if (!(ref instanceof StorageRef) || !Number.isInteger(offset) || !isInts(size) || !isInts(stride) || size.items.length !== stride.items.length) {
          fail(OP, `${f.dotted}(${a.slice(0, 4).map(typeName).join(', ')}): expected (storage, offset, size, stride) with one stride per dimension`);
        }
        return new TensorView(ref as StorageRef, offset as number, size.items as number[], stride.items as number[]);
      }
    }
    return fail(OP, `refusing to call '${f.dotted}' in data.pkl`);
  };
  for (;;) {
    const op = pkl[need(1)];
    switch (op) {
      case 0x80: need(1); break; // PROTO
      case 0x95: need(8); break; // FRAME
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail(OP, `data.pkl is damaged: ${stack.length} values left at STOP`);
        return { value: stack[0], end: p };
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x29: stack.push(new Tuple([])); break;
      case 0x5d: stack.push([]); break;
      case 0x7d: stack.push(new Map()); break;
      case 0x8f: stack.push([]); break; // EMPTY_SET (as a list)
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4a: stack.push(dv.getInt32(need(4), true)); break;
      case 0x4b: stack.push(pkl[need(1)]); break;
      case 0x4d: stack.push(dv.getUint16(need(2), true)); break;
      case 0x8a: stack.push(long(pkl[need(1)])); break;
      case 0x8b: stack.push(long(dv.getUint32(need(4), true))); break;
      case 0x47: stack.push(dv.getFloat64(need(8), false)); break;
      case 0x58: stack.push(str(dv.getUint32(need(4), true))); break;
      case 0x8c: stack.push(str(pkl[need(1)])); break;
      case 0x8d: stack.push(str(Number(dv.getBigUint64(need(8), true)))); break; // BINUNICODE8
      case 0x55: stack.push(str(pkl[need(1)])); break; // SHORT_BINSTRING
      case 0x54: stack.push(str(dv.getUint32(need(4), true))); break; // BINSTRING
      case 0x43: stack.push(bytesOf(pkl[need(1)])); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytesOf(dv.getUint32(need(4), true))); break; // BINBYTES
      case 0x8e: stack.push(bytesOf(Number(dv.getBigUint64(need(8), true)))); break; // BINBYTES8
      case 0x74: stack.push(new Tuple(popMark())); break;
      case 0x85: stack.push(new Tuple([pop()])); break;
      case 0x86: { const b = pop(); stack.push(new Tuple([pop(), b])); break; }
      case 0x87: { const c = pop(); const b = pop(); stack.push(new Tuple([pop(), b, c])); break; }
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) fail(OP, `data.pkl is damaged: APPEND to a ${typeName(l)}`); l.push(v); break; }
      case 0x65: case 0x90: { const vs = popMark(); const l = top(); if (!Array.isArray(l)) fail(OP, `data.pkl is damaged: APPENDS to a ${typeName(l)}`); for (const v of vs) l.push(v); break; }
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; }
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; }
      case 0x71: memo.set(pkl[need(1)], top()); break;
      case 0x72: memo.set(dv.getUint32(need(4), true), top()); break;
      case 0x94: memo.set(memo.size, top()); break;
      case 0x68: case 0x6a: {
        const i = op === 0x68 ? pkl[need(1)] : dv.getUint32(need(4), true);
        if (!memo.has(i)) fail(OP, `data.pkl is damaged: memo ${i} read before it was written`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: { const module = line(); stack.push(global(new Global(module, line()))); break; }
      case 0x93: { const name = pop(); const module = pop(); stack.push(global(new Global(String(module), String(name)))); break; }
      case 0x51: { // BINPERSID: ('storage', torch.<Type>Storage, key, location, numel[, view (legacy format: None)])
        const pid = pop();
        const t = pid instanceof Tuple ? pid.items : [];
        const [tag, type, key, , numel, legacyView] = t;
        if (tag !== 'storage' || !(type instanceof Global) || !(type.name in STORAGES) || typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0 || (t.length > 5 && legacyView !== null)) {
          fail(OP, `data.pkl names a persistent object it cannot read (${t.map(typeName).join(', ')}); expected ('storage', type, key, location, numel)`);
        }
        let ref = storages.get(key as string);
        if (!ref) {
          ref = new StorageRef(key as string, STORAGES[(type as Global).name as keyof typeof STORAGES], numel as number);
          storages.set(ref.key, ref);
        }
        stack.push(ref);
        break;
      }
      case 0x52: { const args = pop(); stack.push(reduce(pop(), args)); break; }
      case 0x62: { // BUILD: an OrderedDict's attributes (a state dict's `_metadata`), a parameter's state
        pop();
        const o = top();
        if (!(o instanceof Map) && !(o instanceof TensorView)) fail(OP, `data.pkl sets the state of a ${typeName(o)}, which gpugrad does not build`);
        break;
      }
      case 0x81:
      case 0x92:
        return fail(OP, `data.pkl constructs a Python object (opcode 0x${op.toString(16)}); only tensors and plain values are read`);
      default:
        fail(OP, `data.pkl uses pickle opcode 0x${op.toString(16)} at byte ${p - 1}, which this reader does not know`);
    }
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof TensorView) return `tensor [${v.shape.join(', ')}]`;
  if (v instanceof StorageRef) return `${v.dtype} storage`;
  if (v instanceof Tuple) return 'tuple';
  if (v instanceof Global) return v.dotted;
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}

/** The elements of a strided view of a storage, in row-major order of its shape. */
function gather(data: Float32Array, v: TensorView): Float32Array {
  const { shape, stride } = v;
  const numel = v.numel;
  const out = new Float32Array(numel);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let src = v.offset;
  for (let i = 0; i < numel; i++) {
    out[i] = data[src];
    // Advance the multi-index like an odometer, last dimension fastest.
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        src += stride[d];
        break;
      }
      src -= (shape[d] - 1) * stride[d];
      idx[d] = 0;
    }
  }
  return out;
}

export interface ReadTorchOptions {
  /**
   * Where the state dict sits in a checkpoint that holds more than one (e.g. 'model' in
   * `{ epoch, model, optimizer }`); without it the file's top-level dict must map names to tensors.
   */
  key?: string;
  /**
   * How many elements views that repeat storage elements (stride 0, overlapping strides: what `expand` saves) may
   * add in all when they are materialised, beyond the elements of the storages themselves (default 4,194,304:
   * 16 MB of float32). A file past it is refused before anything is decoded.
   */
  maxExpandedElements?: number;
}

/**
 * Reads a state dict saved with torch.save (`torch.save(model.state_dict(), 'model.pth')`, torchvision's weight
 * files, in the zip or the legacy format) into float32 tensors on the current backend, in file order. The whole
 * file is read and checked before any tensor is created, so a truncated, damaged or foreign file throws and
 * allocates nothing.
 */
export function readTorchStateDict(bytes: Uint8Array, options: ReadTorchOptions = {}): Map<string, Tensor> {
  if (!(bytes instanceof Uint8Array)) fail(OP, 'expected the file contents as a Uint8Array');
  if (!isTorchFile(bytes)) {
    fail(OP, `not a PyTorch checkpoint: it starts with neither a zip header nor torch's legacy magic number (first bytes ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  }
  let host: [string, number[], Float32Array][];
  try {
    host = readHost(bytes, options);
  } catch (e) {
    // Every check names its problem; a damaged file that slips past them still gets a GpugradError.
    if (e instanceof GpugradError) throw e;
    return fail(OP, `damaged file: ${(e as Error).message}`);
  }
  const be = currentBackend();
  const out = new Map<string, Tensor>();
  try {
    for (const [k, shape, data] of host) out.set(k, fromStorage(be, be.upload(data), shape));
  } catch (e) {
    // Out of backend memory part way: free what was uploaded and say so, rather than let a RangeError escape.
    for (const t of out.values()) t.dispose();
    const bytes = host.reduce((n, [, , d]) => n + d.byteLength, 0);
    return fail(OP, `cannot place the ${host.length} tensors (${bytes} bytes of float32) on '${be.name}': ${(e as Error).message}`);
  }
  return out;
}

/** The state dict's tensors on the host: name, shape and float32 elements, in file order. */
function readHost(bytes: Uint8Array, options: ReadTorchOptions): [string, number[], Float32Array][] {
  const file = isTorchZip(bytes) ? zipFormat(bytes) : legacyFormat(bytes);
  let root = file.root;
  if (options.key !== undefined) {
    if (!(root instanceof Map) || !root.has(options.key)) fail(OP, `key '${options.key}' not found: the file holds ${describe(root)}`);
    root = root.get(options.key);
  }
  if (!(root instanceof Map)) fail(OP, `expected a dict of tensors, the file holds ${describe(root)}`);
  const bad = [...root].filter(([k, v]) => typeof k !== 'string' || !(v instanceof TensorView));
  if (bad.length > 0) {
    const [k, v] = bad[0];
    const hint = options.key === undefined ? `; for a checkpoint, pass { key } naming its state dict (the file holds ${describe(root)})` : '';
    fail(OP, `entry ${JSON.stringify(String(k))} is a ${typeName(v)}, not a tensor${hint}`);
  }
  const views = [...(root as Map<string, TensorView>)];
  // Every size is checked before anything is decoded: each storage's bytes are present, and views that repeat
  // elements (stride 0, overlaps) add at most `maxExpandedElements` to what the storages hold.
  const limit = options.maxExpandedElements ?? MAX_EXPANDED_ELEMENTS;
  const raws = new Map<string, Uint8Array>();
  let stored = 0;
  let viewed = 0;
  for (const [k, v] of views) {
    if (!raws.has(v.ref.key)) {
      raws.set(v.ref.key, file.storage(v.ref));
      stored += v.ref.numel;
    }
    viewed += v.numel;
    if (viewed - stored > limit) {
      fail(OP, `tensor '${k}' of size [${v.shape.join(', ')}], stride [${v.stride.join(', ')}] repeats elements of its storage '${v.ref.key}' (${v.ref.numel} elements): materialising the views would add ${viewed - stored} elements, over the limit of ${limit} (option maxExpandedElements)`);
    }
  }
  // Decode each storage the state dict uses once (views share them), gather every tensor, then upload.
  const decoded = new Map<string, Float32Array>();
  return views.map(([k, v]) => {
    let data = decoded.get(v.ref.key);
    if (!data) {
      const raw = raws.get(v.ref.key)!;
      data = decodeElements(new DataView(raw.buffer, raw.byteOffset, raw.byteLength), 0, v.ref.dtype, v.ref.numel);
      decoded.set(v.ref.key, data);
    }
    return [k, v.shape, gather(data, v)];
  });
}

/** Checks a storage's bytes against the element count the pickle gave it. */
function storageBytes(raw: Uint8Array | undefined, ref: StorageRef): Uint8Array {
  if (!raw) return fail(OP, `storage '${ref.key}' is named in the pickle but missing from the file`);
  const need = ref.numel * DTYPE_BYTES[ref.dtype];
  if (raw.length < need) fail(OP, `truncated file: storage '${ref.key}' holds ${raw.length} bytes, fewer than its ${ref.numel} ${ref.dtype} elements need (${need})`);
  return raw;
}

/** PyTorch ≥ 1.6: `<name>/data.pkl` and one `<name>/data/<key>` entry per storage. */
function zipFormat(bytes: Uint8Array): { root: unknown; storage: (ref: StorageRef) => Uint8Array } {
  const entries = readZip(bytes, OP);
  const pklName = [...entries.keys()].find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pklName === undefined) fail(OP, `the zip archive has no data.pkl (entries: ${[...entries.keys()].slice(0, 5).join(', ')}); is it a torch.save file?`);
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(order).trim() !== 'little') fail(OP, 'the checkpoint was saved big-endian; only little-endian files are read');
  const { value } = unpickle(entries.get(pklName)!, 0, new Map());
  return { root: value, storage: (ref) => storageBytes(entries.get(`${prefix}data/${ref.key}`), ref) };
}

/**
 * The legacy format (before PyTorch 1.6, still written with `_use_new_zipfile_serialization=False`): five pickles
 * in a row (magic number, protocol version, system info, the object, its storage keys), then each storage as an
 * int64 element count and its raw bytes, in the order of those keys.
 */
function legacyFormat(bytes: Uint8Array): { root: unknown; storage: (ref: StorageRef) => Uint8Array } {
  const refs = new Map<string, StorageRef>();
  let p = unpickle(bytes, 0, refs).end; // the magic number (its bytes were checked by isTorchFile)
  p = unpickle(bytes, p, refs).end; // protocol version
  const info = unpickle(bytes, p, refs);
  if (info.value instanceof Map && info.value.get('little_endian') === false) fail(OP, 'the checkpoint was saved big-endian; only little-endian files are read');
  const main = unpickle(bytes, info.end, refs);
  const keys = unpickle(bytes, main.end, refs);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) fail(OP, `legacy file: expected the list of storage keys after the object, found a ${typeName(keys.value)}`);
  const raw = new Map<string, Uint8Array>();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  p = keys.end;
  for (const key of keys.value as string[]) {
    const ref = refs.get(key);
    if (!ref) fail(OP, `legacy file: storage '${key}' is listed but no tensor names it`);
    if (p + 8 > bytes.length) fail(OP, `truncated file: storage '${key}' starts past its end (${bytes.length} bytes)`);
    const numel = Number(dv.getBigInt64(p, true));
    const len = numel * DTYPE_BYTES[ref.dtype];
    if (numel !== ref.numel) fail(OP, `legacy file: storage '${key}' holds ${numel} elements, the pickle says ${ref.numel}`);
    raw.set(key, bytes.subarray(p + 8, Math.min(bytes.length, p + 8 + len)));
    p += 8 + len;
  }
  return { root: main.value, storage: (ref) => storageBytes(raw.get(ref.key), ref) };
}

function describe(v: unknown): string {
  if (v instanceof Map) {
    const keys = [...v.keys()].map((k) => JSON.stringify(String(k)));
    return `a dict with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? `, … (${keys.length})` : ''}`;
  }
  return `a ${typeName(v)}`;
}
