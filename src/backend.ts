// The narrow interface every backend implements, and the registry that selects the one in use.
//
// A backend stores flat float32 buffers (its own `Storage` handles) and runs one kernel per primitive.
// Shapes are checked by the front end before a backend is called, so kernels may trust their geometry.
import { fail } from './errors.js';
import type { Shape } from './shape.js';
import { CORE_MEMBERS } from './backends/core-only.js';
import { FAST_PATHS, withDefaults } from './backends/defaults.js';

/** An opaque handle to a backend's buffer of `size` float32 values. */
export interface Storage {
  readonly size: number;
}

/** sigmoid, tanh and erf are primitives: composed from exp they cost 5-15 passes and overflow in their gradients. */
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'relu' | 'pow' | 'abs' | 'sigmoid' | 'tanh' | 'erf';
/** `eq`, `ne` and `gt` give 1 or 0 and take no gradient; they build masks for the gradient rules. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'eq' | 'ne' | 'gt';
export type ReduceOp = 'sum' | 'max';

/**
 * Batched C[b] = op(A[b]) · op(B[b]) with op = transpose when the flag is set.
 * A holds `batchA` matrices and B `batchB`; output matrix b reads A[b % batchA] and B[b % batchB]
 * (both divide `batch`), which covers no broadcast, a shared operand and leading broadcast dims.
 * A is [m,k] ([k,m] if transA), B is [k,n] ([n,k] if transB), C is [m,n].
 */
export interface MatmulGeometry {
  batch: number;
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
}

/** Training-mode batch norm's outputs: y, and the batch mean and biased variance per channel (c values each). */
export interface BatchNormResult {
  out: Storage;
  mean: Storage;
  var: Storage;
}

export interface BatchNormGrads {
  dx: Storage;
  dweight: Storage;
  dbias: Storage;
}

/**
 * A GEMM's fused epilogue on C [m, n]: C[i, j] = act(C[i, j]·scale[i] + shift[i] (+ residual[i, j])), act
 * ReLU or identity. scale and shift hold m values, residual (when given) m·n in C's layout.
 */
export interface GemmEpilogue {
  scale: Storage;
  shift: Storage;
  residual: Storage | null;
  relu: boolean;
}

/**
 * Sliding-window geometry shared by im2col/col2im and the pools.
 * Input [n, c, h, w]; window kh×kw with stride, zero padding and dilation; output oh×ow.
 */
export interface WindowGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  oh: number;
  ow: number;
}

/**
 * An index gather along one axis: x viewed as [outer, n, inner] and an index [outer, k, inner] of positions in
 * 0..n−1 (float values) give out[o, j, i] = x[o, index[o, j, i], i]; scatterAdd is its adjoint.
 */
export interface GatherGeometry {
  outer: number;
  n: number;
  k: number;
  inner: number;
}

export interface AvgPoolGeometry extends WindowGeometry {
  countIncludePad: boolean;
}

/** Fused optimizer updates (one kernel per parameter); hyper-parameters follow torch.optim. */
export interface SgdParams {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  /** First step: the momentum buffer starts as the gradient itself (torch.optim semantics). */
  firstStep: boolean;
}
export interface AdamParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decoupled weight decay. */
  decoupled: boolean;
  step: number;
}

/**
 * The required core every backend implements: storage, the elementwise/reduce/layout kernels, matmul and
 * im2col/col2im. Every op, gradient rule and fast path of gpugrad reduces to these; a new backend starts here
 * and gets the rest from withDefaults() (src/backends/defaults.ts).
 *
 * **Deferred execution.** A backend with `deferred: true` (gpu.js on worker threads or WebGPU) returns storages
 * at once and runs their kernels later, but always in call order, so a kernel sees every earlier write. `read`
 * waits until the kernels writing its storage have run; there is no `readSync`. `release` is ordered after every
 * pending use of the storage (a queued kernel may still read it), and `copyInto` like any kernel, after pending
 * use of both storages. With `deferred: false` each call has finished when it returns. Callers never need to
 * know which: they issue calls in program order and await `read`; composed defaults follow the same rule.
 */
export interface CoreBackend {
  /** 'reference', 'gpujs' or 'wasm'. */
  readonly name: string;
  /** The mode within the backend ('float64' for reference, gpu.js's mode for gpujs). */
  readonly mode: string;
  /** Why the backend runs in a mode other than the one asked for, or null. */
  readonly fallbackReason: string | null;
  /** Whether kernels run after their call returns (in call order); see the rule above. */
  readonly deferred: boolean;
  /**
   * The most bytes one storage can ever take here (4 GiB for wasm32's heap), where the backend has such a
   * limit; creation functions refuse larger tensors before making any host copy.
   */
  readonly maxBytes?: number;

  upload(data: Float32Array): Storage;
  fill(size: number, value: number): Storage;
  read(s: Storage): Promise<Float32Array>;
  /** Present only where a synchronous read is honest (data already on the host; never when deferred). */
  readSync?(s: Storage): Float32Array;
  release(s: Storage): void;
  /**
   * Overwrites dst's values with src's (same size) in place: every tensor sharing dst sees them. On deferred
   * backends it is ordered after pending use of both, like any kernel.
   */
  copyInto(dst: Storage, src: Storage): void;
  /** Bytes the storage holds on the backend (may exceed 4·size for padded or packed layouts). */
  bytes(s: Storage): number;

  unary(op: UnaryOp, x: Storage, param: number): Storage;
  binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage;
  /** Reduces `axes` of `shape` (sorted, unique); the result has those dims set to 1. */
  reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Storage;
  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage;
  slice(x: Storage, shape: Shape, axis: number, start: number, length: number): Storage;
  concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Storage;
  /** out[o, j, i] = x[o, index[o, j, i], i]: copies, so values elsewhere in x (NaN, ±∞) cannot leak in. */
  gather(x: Storage, index: Storage, g: GatherGeometry): Storage;
  /** The adjoint of gather: out [outer, n, inner] with out[o, index[o, j, i], i] += src[o, j, i]. */
  scatterAdd(src: Storage, index: Storage, g: GatherGeometry): Storage;
  matmul(a: Storage, b: Storage, g: MatmulGeometry): Storage;
  /**
   * im2col: [n,c,h,w] → [c·kh·kw, n·oh·ow]. Row r = (c·kh + ky)·kw + kx, column j = (b·oh + oy)·ow + ox;
   * padding reads 0. Batch sits in the columns so a convolution is one GEMM with the weight [o, c·kh·kw].
   */
  im2col(x: Storage, g: WindowGeometry): Storage;
  /** col2im, the adjoint of im2col: [c·kh·kw, n·oh·ow] → [n,c,h,w], overlapping windows summed. */
  col2im(cols: Storage, g: WindowGeometry): Storage;

  /** Frees compiled kernels and pools; the backend is unusable afterwards. */
  destroy?(): void;
  /**
   * For a backend usable at once that finishes starting in the background (the wasm worker pool): resolves
   * when that is done. Ops before then are correct, only slower.
   */
  whenReady?(): Promise<void>;
}

/**
 * Fast paths: not primitives, each one kernel (or a few) where a composition of the core would take many passes.
 * A backend may implement any of them; withDefaults() composes the others from the core with the same results
 * (up to rounding), so callers use them without asking whether they exist.
 */
export interface FastPaths {
  /**
   * Training-mode batch norm over x [n, c, h, w] (shape): batch mean and biased variance per channel, then
   * y = (x − mean)/√(var + eps)·weight + bias. weight and bias hold c values.
   */
  batchNorm(x: Storage, shape: Shape, weight: Storage, bias: Storage, eps: number): BatchNormResult;
  /** Its gradient from dy, the input and the saved statistics (the formula: src/backends/batchnorm.ts). */
  batchNormBackward(dy: Storage, x: Storage, shape: Shape, mean: Storage, variance: Storage, weight: Storage, eps: number): BatchNormGrads;
  /**
   * matmul (batch 1) with the epilogue applied while C is hot. Used only where no gradient is recorded
   * (eval-mode conv + folded batch norm + residual + ReLU).
   */
  matmulEpilogue(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue): Storage;
  /**
   * An eval-mode convolution (groups 1) with the same epilogue: the values of
   * matmulEpilogue(weight as [oc, c·kh·kw], im2col(x, g), e), laid out [oc, n·oh·ow]. A backend may skip the
   * columns (packing the GEMM operand straight from the image) or use fewer multiplies (Winograd); results
   * then differ by rounding only. Used only where no gradient is recorded.
   */
  convEpilogue(x: Storage, weight: Storage, g: WindowGeometry, oc: number, e: GemmEpilogue): Storage;
  /**
   * A groups-1 convolution of x [n, c, h, w] with weight [oc, c, kh, kw] over window g, laid out [oc, n·oh·ow]:
   * the values of matmul(weight as [oc, c·kh·kw], im2col(x, g)). The conv primitive's forward (training); a
   * backend may skip the columns or use fewer multiplies (Winograd); results then differ by rounding only.
   * `cols`: im2col(x, g) where the backend made it anyway (the caller keeps it for the weight's gradient or
   * releases it), else null.
   */
  convForward(x: Storage, weight: Storage, g: WindowGeometry, oc: number): { out: Storage; cols: Storage | null };
  /**
   * The input gradient of a groups-1 convolution of x [n, c, h, w] with weight [oc, c, kh, kw] over window g:
   * from gy [oc, n·oh·ow] (the conv primitive's layout), dx [n, c, h, w] = col2im(weightᵀ·gy). A backend may
   * convolve gy with the flipped, transposed weight instead (Winograd); results then differ by rounding only.
   */
  convInputGrad(gy: Storage, weight: Storage, g: WindowGeometry, oc: number): Storage;
  /**
   * The weight gradient of the same convolution, [oc, c·kh·kw] = gy·colsᵀ, with cols = im2col(x, g): the forward's
   * columns where convForward handed them over, else null (the backend makes them, or uses Winograd).
   */
  convWeightGrad(gy: Storage, x: Storage, cols: Storage | null, g: WindowGeometry, oc: number): Storage;
  /** Max pool; `indices` holds, per output, the flat index (y·w + x) within the plane of its first maximum, or of its last NaN (PyTorch's rule). */
  maxPool2d(x: Storage, g: WindowGeometry): { out: Storage; indices: Storage };
  maxPool2dBackward(gy: Storage, indices: Storage, g: WindowGeometry): Storage;
  avgPool2d(x: Storage, g: AvgPoolGeometry): Storage;
  avgPool2dBackward(gy: Storage, g: AvgPoolGeometry): Storage;
  /** In-place optimizer updates: they overwrite `param` and the state buffers. */
  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): void;
  adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamParams): void;
}

/** What a backend implements: the core and any of the fast paths. */
export type BackendImpl = CoreBackend & Partial<FastPaths>;

/**
 * The completed interface the engine calls: every member present (withDefaults() fills the fast paths a
 * backend lacks). Tensors hold a Backend, so nothing above this layer tests for an optional kernel.
 */
export interface Backend extends CoreBackend, FastPaths {}

export interface BackendOptions {
  /** gpu.js mode ('webasm', 'headlessgl', 'webgpu', 'webgl2', 'cpu'); ignored by other backends. */
  mode?: string;
  /** Worker threads for backends that can use them. */
  threads?: number;
  /** Cap on the backend's memory in bytes, where it has one (wasm: default 4 GiB). */
  maxBytes?: number;
  /** wasm: fused multiply-add kernels through relaxed SIMD (default: where the engine validates it; see README). */
  relaxed?: boolean;
  /** wasm: which of training's GEMMs fuse with `relaxed`: true (the default), 'gradients' (backward()'s only), false. */
  fmaTraining?: boolean | 'gradients';
  /** wasm: keep eval conv weights packed (and Winograd-transformed) between calls (default true). */
  prepack?: boolean;
  /** wasm: Winograd F(2×2,3×3) for 3×3 stride-1 convs: 'auto' (default: where measured faster), 'on', 'off'. */
  winograd?: 'auto' | 'on' | 'off';
}

/** Makes a backend: the core and any fast paths; setBackend() completes it with withDefaults(). */
export type BackendFactory = (options: BackendOptions) => BackendImpl | Promise<BackendImpl>;

const factories = new Map<string, BackendFactory>();
const instances = new Map<string, Backend>();
let current: Backend | null = null;
let defaultName = 'reference';

/** What the default backend is and why; `syncOptions` start it without awaiting (e.g. no worker pool). */
export interface DefaultChoice {
  name: string;
  options: BackendOptions;
  syncOptions?: BackendOptions;
  reason: string;
}
let chooser: (() => DefaultChoice) | null = null;
let chosen: DefaultChoice | null = null;

/** Installs the function that picks the default backend (index.ts does, once every backend is registered). */
export function setDefaultBackendChooser(fn: () => DefaultChoice): void {
  chooser = fn;
  chosen = null;
}

/** The default backend, its options and the reason it was chosen (computed once). */
export function defaultBackendChoice(): DefaultChoice {
  if (!chosen) chosen = chooser ? chooser() : { name: defaultName, options: {}, reason: 'no chooser installed' };
  return chosen;
}

/** Makes a backend selectable by name. Later registrations replace earlier ones. */
export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
}

export function registeredBackends(): string[] {
  return [...factories.keys()];
}

/** Sets which backend `getBackend()` falls back to when none was chosen. */
export function setDefaultBackendName(name: string): void {
  defaultName = name;
  chooser = null;
  chosen = null;
}

/** One instance per name and options: every option counts (a backend's own ones too, e.g. wasm's winograd). */
function key(name: string, options: BackendOptions): string {
  const set = Object.entries(options as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `${name}:${JSON.stringify(set.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

/**
 * Selects the backend new tensors are created on. Returns a Promise when the backend starts
 * asynchronously (gpu.js WebGPU) or finishes starting in the background (the wasm worker pool); in the
 * latter case the backend is already selected and usable, and the Promise says when it runs at full speed.
 */
export function setBackend(name: string, options: BackendOptions = {}): Backend | Promise<Backend> {
  const made = install(name, options);
  if (made instanceof Promise || !made.whenReady) return made;
  return made.whenReady().then(() => made);
}

/** Creates (once per name and options) and selects a backend; a Promise only for asynchronous factories. */
function install(name: string, options: BackendOptions): Backend | Promise<Backend> {
  const factory = factories.get(name);
  if (!factory) fail('setBackend', `unknown backend '${name}' (available: ${registeredBackends().join(', ')})`);
  const k = key(name, options);
  const existing = instances.get(k);
  if (existing) {
    current = existing;
    return existing;
  }
  const made = factory(options);
  if (made instanceof Promise) {
    return made.then((impl) => {
      const b = withDefaults(impl);
      instances.set(k, b);
      current = b;
      return b;
    });
  }
  const b = withDefaults(made);
  instances.set(k, b);
  current = b;
  return b;
}

/** The backend in use (created on first use). */
export function currentBackend(): Backend {
  if (current) return current;
  const c = defaultBackendChoice();
  const made = install(c.name, c.syncOptions ?? c.options);
  if (made instanceof Promise) fail('getBackend', `default backend '${c.name}' starts asynchronously: await readyBackend() or setBackend('${c.name}') first`);
  return made;
}

/**
 * The backend in use, starting the default one first if none was chosen; unlike getBackend() this also
 * works when the default backend starts asynchronously (worker pools).
 */
export async function readyBackend(): Promise<Backend> {
  const c = defaultBackendChoice();
  const b = current ?? (await install(c.name, c.options));
  await b.whenReady?.();
  return b;
}

/**
 * A backend's name and mode as messages print them, e.g. 'gpujs:webasm' or 'wasm:relaxed-simd-threads2'; the
 * plain reference backend is 'reference' (it has one precision, so its mode says nothing).
 */
export function backendLabel(b: { readonly name: string; readonly mode: string }): string {
  return b.name === 'reference' && b.mode === 'float64' ? 'reference' : `${b.name}:${b.mode}`;
}

/** Names the backend and mode in use, e.g. 'reference' or 'gpujs:webasm'. */
export function getBackend(): string {
  return backendLabel(currentBackend());
}

/** Why the current backend runs in a mode other than the one asked for, or null. */
export function backendFallbackReason(): string | null {
  return currentBackend().fallbackReason;
}

/** Backend members that take storages: each refuses one it does not own (see guardStorages). */
const STORAGE_MEMBERS = [...CORE_MEMBERS.filter((m) => m !== 'upload' && m !== 'fill' && m !== 'destroy' && m !== 'whenReady'), ...FAST_PATHS];

/**
 * Makes every storage-taking member of `backend` check, before any pointer, texture or array is touched, that the
 * storages it was given are its own: a tensor made on another backend (or another instance of the same one, with
 * its own heap) is refused with an error naming both, instead of being read as a raw address.
 */
export function guardStorages(backend: BackendImpl, owns: (s: Storage) => boolean): void {
  const self = backend as unknown as Record<string, unknown>;
  const check = (op: string, v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const e of v) if (e !== null && typeof e === 'object' && 'size' in e) check(op, e);
      return;
    }
    if (!('size' in v)) {
      // An argument bundle (the GEMM epilogue): check its storages.
      for (const e of Object.values(v)) if (e !== null && typeof e === 'object' && 'size' in e) check(op, e);
      return;
    }
    if (!owns(v as Storage)) {
      // Storages name their backend in an `owner` field where they have one (all of gpugrad's do).
      const other = (v as { owner?: unknown }).owner;
      const known = other && typeof other === 'object' && 'name' in other && 'mode' in other ? (other as Backend) : null;
      fail(op, `backend '${backendLabel(backend)}' was given a storage that belongs to ${known ? `'${backendLabel(known)}'` : 'another backend'}; move the tensor with toBackend() (or Module.to()) first`);
    }
  };
  for (const m of STORAGE_MEMBERS) {
    const f = self[m];
    if (typeof f !== 'function') continue;
    self[m] = function guarded(this: unknown, ...args: unknown[]) {
      for (const a of args) check(m, a);
      return (f as (...a: unknown[]) => unknown).apply(backend, args);
    };
  }
}
