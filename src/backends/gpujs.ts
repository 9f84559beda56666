// The gpu.js backend: runs the kernel sources of kernels/gpujs on one gpu.js mode (cpu, webasm, headlessgl,
// webgl2, webgpu). The only file in src/ that imports gpu.js. It compiles one kernel per op and shape (cached),
// keeps data device-resident on GL (pipeline textures), reads back only in read(), and guards gpu.js's silent
// failures: loop truncation (loopMaxIterations), f32 flat indices at or above 2^24, GL output limits.
import { GPU, Input, WebAssemblyKernel, type IKernelRunShortcut, type Texture } from 'gpu.js';
import * as gpujsModule from 'gpu.js';
import { guardStorages, type AdamParams, type AvgPoolGeometry, type Backend, type GatherGeometry, type BatchNormGrads, type BatchNormResult, type BinaryOp, type GemmEpilogue, type MatmulGeometry, type ReduceOp, type SgdParams, type Storage, type UnaryOp, type WindowGeometry } from '../backend.js';
import { broadcastStrides, sizeOf, type Shape } from '../shape.js';
import { fail } from '../errors.js';
import { ReferenceBackend } from './reference.js';
import { bnBackwardComposed, bnForwardComposed } from './batchnorm.js';
import type { KernelSpec } from '../../kernels/gpujs/common.js';
import { binarySource, copySource, fillSource, unarySource } from '../../kernels/gpujs/elementwise.js';
import { reduceSource } from '../../kernels/gpujs/reduce.js';
import { concatSource, gatherSource, permuteSource, scatterAddSource, sliceSource } from '../../kernels/gpujs/layout.js';
import { applyEpilogueHost, epilogueSource, gemmHostSource, glGemmLayout, glGemmSource, glPackASource, glPackBSource, glPacked, glUnpackSource, hostOperandDims, matmulSource, transposedGeometry, unpackHostQuads, type GemmSpec } from '../../kernels/gpujs/matmul.js';
import { avgPoolBackwardSource, avgPoolSource, col2imSource, im2colSource, maxPoolBackwardSource, maxPoolSource } from '../../kernels/gpujs/window.js';
import { adamFusedSource, adamSource, sgdBufSource, sgdFusedSource, sgdParamSource } from '../../kernels/gpujs/optim.js';
import { host } from '../platform.js';

export type GpujsMode = 'cpu' | 'webasm' | 'headlessgl' | 'webgl2' | 'webgl' | 'webgpu';

/**
 * Flat indices are f32 inside gpu.js kernels on webasm/GL/webgpu: at 2^24 they stop being exact and reads
 * land on neighbours. No kernel here sees a tensor of this many elements; larger work is tiled.
 */
export const FLAT_INDEX_LIMIT = 2 ** 24;

/**
 * gpu.js's kernel class per mode, to detect a silent degrade to another mode. Kernels are identified by the
 * class object that gpu.js exports under this name, never by `constructor.name`: bundlers rename classes
 * (esbuild gives `WebAssemblyKernel2`, minifiers `e`).
 */
const kernelClass: Record<GpujsMode, string> = {
  cpu: 'CPUKernel',
  webasm: 'WebAssemblyKernel',
  headlessgl: 'HeadlessGLKernel',
  webgl2: 'WebGL2Kernel',
  webgl: 'WebGLKernel',
  webgpu: 'WebGPUKernel',
};

/** The canonical class name (a kernelClass value) of a compiled kernel's class, by identity. */
function kernelClassName(ctor: unknown): string {
  const exported = gpujsModule as unknown as Record<string, unknown>;
  for (const name of Object.values(kernelClass)) if (exported[name] === ctor) return name;
  return `an unexpected kernel class (${(ctor as { name?: string }).name || 'anonymous'})`;
}

/**
 * A gpu.js buffer: host array (cpu/webasm, and tensors too large for any kernel) or a device texture. On the
 * asynchronous modes a storage is handed out before its kernel has run (both null until then); `error` holds
 * what made that kernel fail, reported by every later use.
 */
class GpujsStorage implements Storage {
  error: unknown = null;
  freed = false;
  constructor(
    readonly owner: GpujsBackend,
    readonly size: number,
    public host: Float32Array | null,
    public tex: Texture | null,
  ) {}
}

/**
 * One backend operation written once for both kinds of gpu.js mode: it yields whatever a kernel call returned
 * (a value, or on the asynchronous modes a Promise of one) and is resumed with the value. Synchronous modes
 * drive it to the end at once (`finish`); asynchronous ones queue it behind earlier operations (`finishAsync`).
 */
type Step<T> = Generator<unknown, T, unknown>;
function* settle<T>(v: T | Promise<T>): Step<T> {
  return (yield v) as T;
}
function finish<T>(g: Step<T>): T {
  let r = g.next();
  while (!r.done) {
    if (r.value instanceof Promise) fail('gpujs', 'internal: a kernel answered asynchronously on a synchronous mode');
    r = g.next(r.value);
  }
  return r.value;
}
async function finishAsync<T>(g: Step<T>): Promise<T> {
  let r = g.next();
  while (!r.done) {
    let v: unknown;
    try {
      v = await r.value;
    } catch (e) {
      r = g.throw(e);
      continue;
    }
    r = g.next(v);
  }
  return r.value;
}

type Arg = Float32Array | Texture;
const EMPTY_STANDIN = new Float32Array(1);

function argSize(a: Arg): string {
  if (a instanceof Float32Array) return String(a.length);
  return (a as unknown as { output: number[] }).output.join('x');
}

function isGLMode(mode: GpujsMode): boolean {
  return mode === 'headlessgl' || mode === 'webgl2' || mode === 'webgl';
}

/**
 * Which of two GL users holds this Node process's OpenGL, where they cannot share it: headless-gl (a GLX context,
 * made by gpu.js's first support check) and the webgpu shim's Dawn device on its OpenGL ES backend. On Mesa each
 * makes its context current on the main thread, and the second fails: Dawn finds no adapter (eglMakeCurrent gives
 * EGL_BAD_ACCESS), or headless-gl's glXMakeCurrent raises an X error that ends the process. The first one used
 * keeps the process; the other reports itself unavailable and says why.
 */
let glHolder: 'headlessgl' | 'dawn-gles' | null = null;
const HELD_BY_DAWN = "the webgpu mode's Dawn OpenGL ES device already holds this process's GL; one process runs one of the two";
const HELD_BY_GL = "headless-gl already holds this process's GL, and Dawn's OpenGL ES backend cannot make a context current beside it; one process runs one of the two";

/** Why headlessgl cannot run here (for fallback messages). */
function headlessglWhy(): string {
  return glHolder === 'dawn-gles' ? HELD_BY_DAWN : "the optional 'gl' package did not load or no display";
}

/** Why webgpu cannot run here (for fallback messages). */
function webgpuUnavailableWhy(): string {
  if (webgpuWhy) return webgpuWhy;
  return typeof process !== 'undefined' ? "no navigator.gpu in Node until `await installWebGPU()` (setBackend('gpujs', { mode: 'webgpu' }) does it)" : 'no navigator.gpu';
}

/** Whether a mode can run here (honest: the package loads and a context can be made). */
export function gpujsModeAvailable(mode: GpujsMode): boolean {
  // Lets CI prove the fallback when the optional packages are installed anyway.
  if (typeof process !== 'undefined' && process.env.GPUGRAD_GPUJS_NO_OPTIONAL === '1' && (mode === 'headlessgl' || mode === 'webgpu')) return false;
  try {
    switch (mode) {
      case 'cpu':
        return true;
      case 'webasm':
        return GPU.isWebAssemblySupported;
      case 'headlessgl':
        if (glHolder === 'dawn-gles') return false;
        if (!(GPU.isHeadlessGLSupported && GPU.isSinglePrecisionSupported)) return false;
        glHolder ??= 'headlessgl'; // gpu.js's check made a GL context, and it stays
        return true;
      case 'webgl2':
        return GPU.isWebGL2Supported;
      case 'webgl':
        return GPU.isWebGLSupported;
      case 'webgpu':
        return GPU.isWebGPUSupported;
    }
  } catch {
    return false;
  }
}

/**
 * gpu.js's webgpu mode looks only for `navigator.gpu`. Node has none; the optional `webgpu` package (Dawn) gives
 * one. Dawn's default backends come first (Vulkan, Metal, D3D12: a real GPU); on a machine without one it works on
 * its OpenGL ES backend over Mesa, with a surfaceless EGL display and adapters requested at feature level
 * 'compatibility' (../shared/notes/gpujs.md). Installs that shim once and takes gpu.js's shared device; resolves
 * null when webgpu kernels can run, else the reason they cannot.
 */
let webgpuInstall: Promise<string | null> | null = null;
let webgpuWhy: string | null | undefined; // the settled answer, for synchronous fallback messages
export function installWebGPU(): Promise<string | null> {
  webgpuInstall ??= (async (): Promise<string | null> => {
    const g = globalThis as { navigator?: { gpu?: unknown }; process?: { env: Record<string, string | undefined> } };
    if (g.process?.env.GPUGRAD_GPUJS_NO_OPTIONAL === '1') return 'optional packages disabled (GPUGRAD_GPUJS_NO_OPTIONAL=1)';
    if (!g.navigator?.gpu) {
      if (!g.process) return 'no navigator.gpu in this browser';
      type Gpu = { requestAdapter(o?: object): Promise<unknown> };
      let gpu: Gpu;
      try {
        g.process.env.EGL_PLATFORM ??= 'surfaceless';
        const pkg = 'webgpu'; // not a literal: the optional package may be absent when this is compiled
        const dawn = (await import(/* @vite-ignore */ pkg)) as { create(flags: string[]): Gpu; globals: object };
        Object.assign(globalThis, dawn.globals);
        gpu = dawn.create([]);
        if (!(await gpu.requestAdapter())) {
          if (glHolder === 'headlessgl') return `no GPU adapter, and ${HELD_BY_GL}`;
          gpu = dawn.create(['backend=opengles']);
          const request = gpu.requestAdapter.bind(gpu);
          gpu.requestAdapter = (o: object = {}): Promise<unknown> => request({ featureLevel: 'compatibility', ...o });
          glHolder = 'dawn-gles';
        }
      } catch (e) {
        return `the optional 'webgpu' package did not load (${(e as Error).message.split('\n')[0]}); in Node the webgpu mode needs 'npm install webgpu@0.6.2'`;
      }
      if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
    }
    try {
      // gpu.js shares one device among all its webgpu kernels; take it now so a failure is reported here.
      await (gpujsModule as unknown as { WebGPUContext: { acquire(): Promise<unknown> } }).WebGPUContext.acquire();
      return null;
    } catch (e) {
      // The whole first line: a sentence split at '.' cut names like 'navigator.gpu' in half.
      return `navigator.gpu failed: ${(e as Error).message.split('\n')[0]}`;
    }
  })().then((why) => (webgpuWhy = why));
  return webgpuInstall;
}

/** Whether gpu.js's webasm mode can split kernels over worker threads here. */
export function gpujsThreadsAvailable(): boolean {
  try {
    return GPU.isWebAssemblySupported && (WebAssemblyKernel as unknown as { isThreadsSupported: boolean }).isThreadsSupported === true;
  } catch {
    return false;
  }
}

/** The fastest mode that runs here (measured order, ../shared/notes/gpujs.md). */
export function fastestGpujsMode(): GpujsMode {
  for (const m of ['webgl2', 'headlessgl', 'webasm'] as const) if (gpujsModeAvailable(m)) return m;
  return 'cpu';
}

/** The float64 host kernels, for the rare ops on tensors too large for any gpu.js kernel. */
const hostRef = new ReferenceBackend();

/**
 * Kernel sources memoised by their arguments: generating a source and hashing it on every call is most of the
 * per-call garbage of small ops. Each spec gets an id the compiled-kernel cache keys on.
 */
const specIds = new WeakMap<KernelSpec, number>();
let nextSpecId = 0;
function memo<A extends unknown[]>(name: string, make: (...a: A) => KernelSpec): (...a: A) => KernelSpec {
  const seen = new Map<string, KernelSpec>();
  return (...a: A): KernelSpec => {
    const key = JSON.stringify(a);
    let spec = seen.get(key);
    if (!spec) {
      spec = make(...a);
      seen.set(key, spec);
      specIds.set(spec, nextSpecId++);
    }
    return spec;
  };
  void name;
}
const K = {
  copySource: memo('copySource', copySource),
  fillSource: memo('fillSource', fillSource),
  unarySource: memo('unarySource', unarySource),
  binarySource: memo('binarySource', binarySource),
  reduceSource: memo('reduceSource', reduceSource),
  permuteSource: memo('permuteSource', permuteSource),
  sliceSource: memo('sliceSource', sliceSource),
  gatherSource: memo('gatherSource', gatherSource),
  scatterAddSource: memo('scatterAddSource', scatterAddSource),
  concatSource: memo('concatSource', concatSource),
  matmulSource: memo('matmulSource', matmulSource),
  im2colSource: memo('im2colSource', im2colSource),
  col2imSource: memo('col2imSource', col2imSource),
  maxPoolSource: memo('maxPoolSource', maxPoolSource),
  maxPoolBackwardSource: memo('maxPoolBackwardSource', maxPoolBackwardSource),
  avgPoolSource: memo('avgPoolSource', avgPoolSource),
  avgPoolBackwardSource: memo('avgPoolBackwardSource', avgPoolBackwardSource),
  sgdParamSource: memo('sgdParamSource', sgdParamSource),
  sgdBufSource: memo('sgdBufSource', sgdBufSource),
  adamSource: memo('adamSource', adamSource),
  sgdFusedSource: memo('sgdFusedSource', sgdFusedSource),
  adamFusedSource: memo('adamFusedSource', adamFusedSource),
};

/** What a webasm kernel holds between calls: one wasm module, instance and memory per argument-size entry. */
interface WasmKernelInternals {
  _moduleCache?: Map<string, unknown>;
  _active?: unknown;
  _releaseEntry?(entry: unknown): void;
}

/**
 * gpu.js's webasm mode gives every compiled kernel its own WebAssembly.Memory, kept between calls. Browsers
 * reserve address space per memory (V8: ~10 GB of guard regions inside a 1 TB sandbox), so after a few dozen
 * kernels — a ResNet has hundreds — `new WebAssembly.Memory()` throws RangeError. The kernels that ran least
 * recently therefore give their memories back (gpu.js rebuilds the module from the compiled kernel on the next
 * call, a few ms); the compiled kernels themselves stay cached. Shared by every gpujs backend of the process.
 */
const warmWasmKernels = new Set<WasmKernelInternals>();
function parkWasmKernel(inner: WasmKernelInternals): void {
  const cache = inner._moduleCache;
  if (!cache || typeof inner._releaseEntry !== 'function') return;
  for (const entry of cache.values()) inner._releaseEntry(entry);
  inner._moduleCache = new Map();
  inner._active = null;
}

export class GpujsBackend implements Backend {
  /**
   * webasm kernels that keep their wasm memory between calls: in browsers 24 (well under V8's limit, with room
   * for the page's own memories); unbounded in Node, whose V8 has no such reservation limit.
   */
  static webasmWarmKernels = host() === 'node' ? Infinity : 24;

  readonly name = 'gpujs';
  /** gpu.js's mode, with ':threadsN' when webasm runs on a worker pool. */
  readonly mode: string;
  readonly gpuMode: GpujsMode;
  /** Worker threads (webasm only; 1 = on the calling thread). */
  readonly threads: number;
  /**
   * Whether gpu.js runs kernels asynchronously here (threaded webasm, webgpu): ops then return storages at
   * once and queue their kernels in call order; `read` waits for them and there is no synchronous read.
   */
  readonly deferred: boolean;
  readonly readSync?: (s: Storage) => Float32Array;
  fallbackReason: string | null = null;
  private readonly gpu: GPU;
  private readonly gl: boolean;
  private readonly kernels = new Map<string, IKernelRunShortcut>();
  /** Kernels compiled so far (for cache tests). */
  compiled = 0;
  /** Storages alive on this backend (textures or host arrays), to prove release() frees them. */
  live = 0;
  /** gpu.js kernel class each op actually ran as (tests assert the mode, not just the request). */
  readonly ranAs = new Map<string, string>();
  /** Calls that took the host path because a tensor reached FLAT_INDEX_LIMIT. */
  hostFallbacks = 0;
  /** Raises the index limit's stand-in for tests (never above the real limit). */
  indexLimit = FLAT_INDEX_LIMIT;
  private warned = false;

  /**
   * Starts the backend; for webgpu first installs Node's `navigator.gpu` shim (asynchronous), then checks that an
   * adapter exists, falling back (and saying why) when not.
   */
  static async create(requested?: string, threads = 1): Promise<GpujsBackend> {
    if (requested === 'webgpu') {
      const why = await installWebGPU();
      if (why) {
        const b = new GpujsBackend(fastestGpujsMode(), threads);
        b.fallbackReason = `gpujs mode 'webgpu' is not available here (${why}); using '${b.gpuMode}'`;
        b.warn(b.fallbackReason);
        return b;
      }
    }
    return new GpujsBackend(requested, threads);
  }

  constructor(requested?: string, threads = 1) {
    let mode = (requested ?? fastestGpujsMode()) as GpujsMode;
    if (!(mode in kernelClass)) fail('setBackend', `gpujs mode '${requested}' is not one of ${Object.keys(kernelClass).join(', ')}`);
    if (!Number.isInteger(threads) || threads < 1) fail('setBackend', `gpujs threads must be a positive integer, got ${threads}`);
    if (threads > 1 && mode !== 'webasm') fail('setBackend', `gpujs threads apply to mode 'webasm' only, got mode '${mode}' with threads ${threads}`);
    if (!gpujsModeAvailable(mode)) {
      const to = fastestGpujsMode();
      this.fallbackReason = `gpujs mode '${mode}' is not available here (${mode === 'headlessgl' ? headlessglWhy() : mode === 'webgpu' ? webgpuUnavailableWhy() : 'not supported'}); using '${to}'`;
      this.warn(this.fallbackReason);
      mode = to;
    }
    if (threads > 1 && (mode !== 'webasm' || !gpujsThreadsAvailable())) {
      const why = `gpujs webasm threads are not available here (${mode !== 'webasm' ? `running '${mode}'` : 'no SharedArrayBuffer or worker threads'}); running on the calling thread`;
      this.fallbackReason ??= why;
      this.warn(why);
      threads = 1;
    }
    this.gpuMode = mode;
    this.threads = threads;
    this.mode = threads > 1 ? `${mode}:threads${threads}` : mode;
    // gpu.js's webgpu kernels always answer with Promises (results come back through mapAsync).
    this.deferred = threads > 1 || mode === 'webgpu';
    if (!this.deferred) this.readSync = (s: Storage): Float32Array => this.hostOf(s).slice();
    this.gl = isGLMode(mode);
    this.gpu = new GPU({ mode });
    guardStorages(this, (s) => s instanceof GpujsStorage && s.owner === this);
  }

  private make(size: number, host: Float32Array | null, tex: Texture | null): GpujsStorage {
    this.live++;
    return new GpujsStorage(this, size, host, tex);
  }

  private warn(msg: string): void {
    if (this.warned) return;
    this.warned = true;
    console.warn(`gpugrad: ${msg}`);
  }

  // ---- kernels ----

  /** One compiled kernel per source (op + shape) and argument sizes: gpu.js fixes both at compile time. */
  private kernel(spec: KernelSpec, args: readonly Arg[]): { k: IKernelRunShortcut; fresh: boolean } {
    const id = specIds.get(spec);
    const key = `${id === undefined ? spec.source : id}|${args.map(argSize).join(',')}`;
    let k = this.kernels.get(key);
    const fresh = !k;
    if (!k) {
      const settings = {
        output: [spec.output],
        precision: 'single',
        // Loops bounded above 1000 are silently cut at loopMaxIterations (default 1000) on every mode.
        loopMaxIterations: Math.max(1000, spec.maxLoop + 1),
        pipeline: this.gl,
        // Pipeline kernels otherwise hand back the same texture on every call.
        immutable: this.gl,
        tactic: 'precision',
        dynamicOutput: false,
        ...this.asyncSettings(),
        ...(spec.vec4 ? { returnType: 'Array(4)' } : {}),
      } as Parameters<GPU['createKernel']>[1];
      k = spec.subKernels
        ? (this.gpu.createKernelMap(spec.subKernels as never, spec.source as never, settings as never) as unknown as IKernelRunShortcut)
        : this.gpu.createKernel(spec.source, settings);
      this.kernels.set(key, k);
      this.compiled++;
    }
    return { k, fresh };
  }

  /** Threaded webasm: gpu.js's async contract, which splits kernels of ≥ 4,096 outputs over a worker pool. */
  private asyncSettings(): { asyncMode?: boolean; poolSize?: number } {
    return this.threads > 1 ? { asyncMode: true, poolSize: this.threads } : {};
  }

  /**
   * gpu.js gives every compiled kernel its own worker pool (60–70 ms to start, `threads` workers each); a
   * ResNet has hundreds of kernels. All of this backend's kernels share the first pool instead.
   */
  private pool: { dispatchCount: number; liveWorkerCount: number } | null = null;
  /** Kernel calls split over the worker pool so far, and the pool's live workers (threaded webasm). */
  get poolDispatches(): number {
    return this.pool?.dispatchCount ?? 0;
  }
  get poolWorkers(): number {
    return this.pool?.liveWorkerCount ?? 0;
  }
  /** Distinct worker pools behind this backend's kernels: 1 once any ran threaded, as they share it. */
  get poolCount(): number {
    const pools = new Set<unknown>();
    for (const k of this.kernels.values()) {
      const p = (k as unknown as { kernel?: { _pool?: unknown } }).kernel?._pool;
      if (p) pools.add(p);
    }
    return pools.size;
  }
  private sharePool(k: IKernelRunShortcut): void {
    if (this.threads <= 1) return;
    const inner = (k as unknown as { kernel?: { _pool?: GpujsBackend['pool'] } }).kernel;
    if (!inner) return;
    if (!this.pool) this.pool = inner._pool ?? null;
    else if (!inner._pool) inner._pool = this.pool;
  }

  /** Calls a compiled kernel; on the asynchronous modes the step waits for its result. */
  private *call<R>(k: IKernelRunShortcut, args: readonly unknown[]): Step<R> {
    this.sharePool(k);
    if (this.gpuMode === 'webasm') this.keepWarm(k);
    const res = yield* settle((k as unknown as (...a: unknown[]) => R | Promise<R>)(...args));
    this.sharePool(k);
    return res;
  }

  /** Marks a webasm kernel most recently used, parking the least recent beyond webasmWarmKernels. */
  private keepWarm(k: IKernelRunShortcut): void {
    const inner = (k as unknown as { kernel?: WasmKernelInternals }).kernel;
    if (!inner) return;
    warmWasmKernels.delete(inner);
    warmWasmKernels.add(inner);
    for (const old of warmWasmKernels) {
      if (warmWasmKernels.size <= GpujsBackend.webasmWarmKernels) break;
      warmWasmKernels.delete(old);
      parkWasmKernel(old);
    }
  }

  /** This backend's webasm kernels holding a wasm memory now. */
  get warmWasmKernels(): number {
    let n = 0;
    for (const k of this.kernels.values()) if (((k as unknown as { kernel?: WasmKernelInternals }).kernel?._moduleCache?.size ?? 0) > 0) n++;
    return n;
  }

  private checkMode(k: IKernelRunShortcut, op: string): void {
    const inner = (k as unknown as { kernel?: { constructor: unknown; fallbackReason?: string | null } }).kernel;
    if (!inner) return;
    const ran = kernelClassName(inner.constructor);
    this.ranAs.set(op, ran);
    if (ran !== kernelClass[this.gpuMode] || inner.fallbackReason) {
      const why = `gpujs:${this.gpuMode} kernel '${op}' ran as ${ran}${inner.fallbackReason ? `: ${inner.fallbackReason}` : ''}`;
      if (!this.fallbackReason) this.fallbackReason = why;
      this.warn(why);
    }
  }

  private arg(s: Storage): Arg {
    const g = this.checked(s);
    if (g.tex) return g.tex;
    if (g.host) return g.host;
    return fail('gpujs', 'internal: storage read before its kernel ran');
  }

  /** The storage, checked: not released, and its kernel did not fail (that error is reported again here). */
  private checked(s: Storage): GpujsStorage {
    const g = s as GpujsStorage;
    if (g.error !== null) throw g.error;
    if (g.freed) fail('gpujs', 'storage used after release');
    return g;
  }

  /** Runs a kernel and wraps its result. Inputs/outputs must be below the flat-index limit. */
  private *run(spec: KernelSpec, argsIn: readonly Arg[]): Step<GpujsStorage> {
    let args = argsIn;
    if (spec.output >= this.indexLimit) fail(`gpujs ${spec.op}`, `internal: kernel output of ${spec.output} elements reaches the flat-index limit`);
    if (spec.output === 0) return this.make(0, new Float32Array(0), null);
    // gpu.js rejects empty arrays; a kernel with an empty input never reads it (its loops run zero times).
    args = args.map((a) => (a instanceof Float32Array && a.length === 0 ? EMPTY_STANDIN : a));
    const { k, fresh } = this.kernel(spec, args);
    const out = yield* this.call<Float32Array | Texture>(k, args);
    if (fresh) this.checkMode(k, spec.op);
    if (out instanceof Float32Array) return this.make(spec.output, out.length === spec.output ? out : out.slice(0, spec.output), null);
    if (Array.isArray(out)) return this.make(spec.output, Float32Array.from(out as number[]), null);
    return this.make(spec.output, null, out as Texture);
  }

  /** GL: runs a kernel map; its outputs in order (the returned value, then each sub-kernel's in spec order). */
  private *runMap(spec: KernelSpec, args: readonly Arg[]): Step<GpujsStorage[]> {
    if (!this.gl || !spec.subKernels) fail(`gpujs ${spec.op}`, 'internal: kernel maps run on the GL modes only');
    if (spec.output >= this.indexLimit) fail(`gpujs ${spec.op}`, `internal: kernel output of ${spec.output} elements reaches the flat-index limit`);
    const { k, fresh } = this.kernel(spec, args);
    const out = yield* this.call<Record<string, Texture>>(k, args);
    if (fresh) this.checkMode(k, spec.op);
    return ['result', ...Object.keys(spec.subKernels)].map((nm) => this.make(spec.output, null, out[nm]));
  }

  private hostOf(s: Storage): Float32Array {
    const g = this.checked(s);
    if (g.host) return g.host;
    if (g.tex) return (g.tex.toArray() as Float32Array).subarray(0, g.size);
    return fail('gpujs', 'internal: storage read before its kernel ran');
  }

  private isBig(...sizes: number[]): boolean {
    return sizes.some((n) => n >= this.indexLimit);
  }

  /** Host path for huge tensors: the float64 reference kernels on host copies (logged once). */
  private *viaHost<T>(op: string, fn: (r: ReferenceBackend, h: (s: Storage) => Storage) => Step<T>): Step<T> {
    this.hostFallbacks++;
    this.warnBig(op);
    return yield* fn(hostRef, (s) => hostRef.upload(this.hostOf(s)));
  }
  private bigWarned = new Set<string>();
  private warnBig(op: string): void {
    if (this.bigWarned.has(op)) return;
    this.bigWarned.add(op);
    console.warn(`gpugrad: gpujs ${op} on a tensor of ≥ 2^24 elements runs on the host (gpu.js flat indices are f32)`);
  }
  /** Wraps a host result (from the reference path or a tiled assembly) as this backend's storage. */
  private *fromHost(a: Float32Array): Step<GpujsStorage> {
    if (this.gl && a.length < this.indexLimit && a.length > 0) return yield* this.run(K.copySource(a.length), [a]);
    return this.make(a.length, a, null);
  }
  private fromRef(s: Storage): Step<GpujsStorage> {
    return this.fromHost(hostRef.readSync(s));
  }

  // ---- running operations now (synchronous modes) or in call order (asynchronous modes) ----

  /** Settled when every operation queued so far has run; never rejects (failures land on their outputs). */
  private tail: Promise<void> = Promise.resolve();

  /** Runs a job after every earlier one; if it fails, `outs` carry the error to whoever uses them next. */
  private queue(outs: readonly GpujsStorage[], job: () => Promise<void>): void {
    this.tail = this.tail.then(job).catch((e: unknown) => {
      for (const o of outs) o.error = e;
    });
  }

  /** An operation with one output of `size` elements. */
  private one(size: number, step: () => Step<GpujsStorage>): Storage {
    if (!this.deferred) return finish(step());
    const out = this.make(size, null, null);
    this.queue([out], async () => this.adopt(out, await finishAsync(step())));
    return out;
  }

  /** An operation that updates storages in place (the optimizer steps). */
  private inPlace(touched: readonly (Storage | null)[], step: () => Step<void>): void {
    if (!this.deferred) return finish(step());
    this.queue(touched.filter((t): t is GpujsStorage => t !== null), () => finishAsync(step()));
  }

  // ---- storage ----

  upload(data: Float32Array): Storage {
    // Host-side modes keep the copy itself, ready at once even when deferred (no kernel to wait for).
    if (!this.gl) return this.make(data.length, data.slice(), null);
    const copy = data.slice();
    return this.one(data.length, () => this.fromHost(copy));
  }

  fill(size: number, value: number): Storage {
    if (!this.gl) return this.make(size, new Float32Array(size).fill(value), null);
    return this.one(size, () => this.fillStep(size, value));
  }
  private *fillStep(size: number, value: number): Step<GpujsStorage> {
    if (!this.gl || !Number.isFinite(value) || this.isBig(size)) return yield* this.fromHost(new Float32Array(size).fill(value));
    return yield* this.run(K.fillSource(value, size), []);
  }

  /** Waits for the kernels queued before it (asynchronous modes); synchronous modes answer at once. */
  async read(s: Storage): Promise<Float32Array> {
    if (this.deferred) await this.tail;
    return this.hostOf(s).slice();
  }

  // readSync (set in the constructor) exists on the synchronous modes only: there host arrays are already here
  // and headless-gl's readPixels is synchronous; on the asynchronous ones a kernel may still be running.

  release(s: Storage): void {
    const g = s as GpujsStorage;
    // Earlier queued kernels may still read it: free it in turn.
    if (this.deferred) this.tail = this.tail.then(() => this.free(g));
    else this.free(g);
  }

  copyInto(dst: Storage, src: Storage): void {
    const g = this;
    this.inPlace([dst, src], function* () {
      // A fresh copy (host arrays are copied on the host; textures through an identity kernel), then adopted.
      g.swap(dst, (src as GpujsStorage).tex ? yield* g.unaryStep('pow', src, 1) : g.make(src.size, g.hostOf(src).slice(), null));
    });
  }

  private free(g: GpujsStorage): void {
    if (g.freed) return;
    g.freed = true;
    if (g.tex) g.tex.delete();
    g.tex = null;
    g.host = null;
    this.live--;
  }

  bytes(s: Storage): number {
    const g = s as GpujsStorage;
    if (g.tex) {
      // Single-precision gpu.js textures hold one float per RGBA texel.
      const [w, h] = (g.tex as unknown as { size: [number, number] }).size;
      return w * h * 16;
    }
    return g.size * 4;
  }

  // ---- elementwise ----

  unary(op: UnaryOp, x: Storage, param: number): Storage {
    return this.one(x.size, () => this.unaryStep(op, x, param));
  }
  private *unaryStep(op: UnaryOp, x: Storage, param: number): Step<GpujsStorage> {
    if (this.isBig(x.size)) {
      // Tile: elementwise work splits into independent chunks with small local indices.
      const X = this.hostOf(x);
      const out = new Float32Array(X.length);
      const step = this.indexLimit >>> 1;
      for (let o = 0; o < X.length; o += step) {
        const part = X.subarray(o, Math.min(X.length, o + step));
        const r = yield* this.run(K.unarySource(op, param, part.length), [part]);
        out.set(this.hostOf(r), o);
        this.free(r);
      }
      return this.make(out.length, out, null);
    }
    return yield* this.run(K.unarySource(op, param, x.size), [this.arg(x)]);
  }

  binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage {
    return this.one(sizeOf(outShape), () => this.binaryStep(op, a, aShape, b, bShape, outShape));
  }
  private *binaryStep(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Step<GpujsStorage> {
    const n = sizeOf(outShape);
    if (this.isBig(n, a.size, b.size)) return yield* this.viaHost(`binary.${op}`, (r, h) => this.fromRef(r.binary(op, h(a), aShape, h(b), bShape, outShape)));
    const sa = broadcastStrides(aShape, outShape);
    const sb = broadcastStrides(bShape, outShape);
    return yield* this.run(K.binarySource(op, outShape, sa, sb, n), [this.arg(a), this.arg(b)]);
  }

  reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Storage {
    return this.one(sizeOf(shape.map((d, i) => (axes.includes(i) ? 1 : d))), () => this.reduceStep(op, x, shape, axes));
  }
  private *reduceStep(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Step<GpujsStorage> {
    if (this.isBig(x.size)) return yield* this.viaHost(`reduce.${op}`, (r, h) => this.fromRef(r.reduce(op, h(x), shape, axes)));
    // An empty reduction gives the identity (as the reference: 0 for sum, -inf for max).
    if (x.size === 0) return yield* this.fillStep(sizeOf(shape.map((d, i) => (axes.includes(i) ? 1 : d))), op === 'sum' ? 0 : -Infinity);
    if (axes.every((a) => shape[a] === 1)) return yield* this.run(K.copySource(x.size), [this.arg(x)]);
    return yield* this.run(K.reduceSource(op, shape, axes), [this.arg(x)]);
  }

  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage {
    return this.one(x.size, () => this.permuteStep(x, shape, perm));
  }
  private *permuteStep(x: Storage, shape: Shape, perm: readonly number[]): Step<GpujsStorage> {
    if (this.isBig(x.size)) return yield* this.viaHost('permute', (r, h) => this.fromRef(r.permute(h(x), shape, perm)));
    return yield* this.run(K.permuteSource(shape, perm), [this.arg(x)]);
  }

  slice(x: Storage, shape: Shape, axis: number, start: number, length: number): Storage {
    return this.one(sizeOf(shape.slice(0, axis)) * length * sizeOf(shape.slice(axis + 1)), () => this.sliceStep(x, shape, axis, start, length));
  }
  private *sliceStep(x: Storage, shape: Shape, axis: number, start: number, length: number): Step<GpujsStorage> {
    if (this.isBig(x.size)) return yield* this.viaHost('slice', (r, h) => this.fromRef(r.slice(h(x), shape, axis, start, length)));
    const outer = sizeOf(shape.slice(0, axis));
    const inner = sizeOf(shape.slice(axis + 1));
    return yield* this.run(K.sliceSource(outer, shape[axis], inner, start, length), [this.arg(x)]);
  }

  gather(x: Storage, index: Storage, g: GatherGeometry): Storage {
    return this.one(g.outer * g.k * g.inner, () => this.gatherStep(x, index, g));
  }
  private *gatherStep(x: Storage, index: Storage, g: GatherGeometry): Step<GpujsStorage> {
    const total = g.outer * g.k * g.inner;
    if (total === 0) return this.make(0, new Float32Array(0), null);
    if (this.isBig(total, x.size)) return yield* this.viaHost('gather', (r, h) => this.fromRef(r.gather(h(x), h(index), g)));
    return yield* this.run(K.gatherSource(g.outer, g.n, g.k, g.inner), [this.arg(x), this.arg(index)]);
  }

  scatterAdd(src: Storage, index: Storage, g: GatherGeometry): Storage {
    return this.one(g.outer * g.n * g.inner, () => this.scatterAddStep(src, index, g));
  }
  private *scatterAddStep(src: Storage, index: Storage, g: GatherGeometry): Step<GpujsStorage> {
    const total = g.outer * g.n * g.inner;
    if (total === 0) return this.make(0, new Float32Array(0), null);
    if (g.k === 0) return yield* this.fillStep(total, 0);
    if (this.isBig(total, src.size)) return yield* this.viaHost('scatterAdd', (r, h) => this.fromRef(r.scatterAdd(h(src), h(index), g)));
    return yield* this.run(K.scatterAddSource(g.outer, g.n, g.k, g.inner), [this.arg(src), this.arg(index)]);
  }

  concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Storage {
    return this.one(xs.reduce((s, x) => s + x.size, 0), () => this.concatStep(xs, shapes, axis));
  }
  private *concatStep(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Step<GpujsStorage> {
    const total = xs.reduce((s, x) => s + x.size, 0);
    if (this.isBig(total)) return yield* this.viaHost('concat', (r, h) => this.fromRef(r.concat(xs.map(h), shapes, axis)));
    const outer = sizeOf(shapes[0].slice(0, axis));
    const inner = sizeOf(shapes[0].slice(axis + 1));
    // Empty parts contribute nothing; at most 8 inputs per kernel (texture units on GL), so chain.
    const parts = xs.map((x, i) => ({ x, len: shapes[i][axis] })).filter((p) => p.len > 0 && p.x.size > 0);
    if (parts.length === 0) return this.make(0, new Float32Array(0), null);
    let acc = parts[0];
    let owned: GpujsStorage | null = null;
    for (let i = 1; i < parts.length; i += 7) {
      const group = [acc, ...parts.slice(i, i + 7)];
      const out: GpujsStorage = yield* this.run(K.concatSource(outer, group.map((p) => p.len), inner), group.map((p) => this.arg(p.x)));
      if (owned) this.free(owned);
      owned = out;
      acc = { x: out, len: group.reduce((s, p) => s + p.len, 0) };
    }
    return owned ?? (yield* this.run(K.copySource(acc.x.size), [this.arg(acc.x)]));
  }

  // ---- GEMM ----

  matmul(a: Storage, b: Storage, g: MatmulGeometry): Storage {
    return this.one(g.batch * g.m * g.n, () => this.matmulStep(a, b, g, null));
  }

  /**
   * relu?(A·B·scale[row] + shift[row] + residual) for batch 1: the folded eval-mode conv → batch norm (→ add)
   * (→ ReLU). The GL pipeline applies it in its unpacking pass and the host kernels while unpacking their quads,
   * so it costs no pass of its own there; the other GEMM paths add one fused pass instead of three or four.
   */
  matmulEpilogue(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue): Storage {
    if (g.batch !== 1) fail('gpujs matmulEpilogue', `batch ${g.batch}, expected 1 (the fused conv epilogue is per output row)`);
    return this.one(g.m * g.n, () => this.matmulStep(a, b, g, e));
  }

  private *matmulStep(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue | null): Step<GpujsStorage> {
    const out = g.batch * g.m * g.n;
    if (out === 0) return this.make(0, new Float32Array(0), null);
    if (!this.isBig(out, a.size, b.size)) {
      if (g.k > 0 && this.gl && this.glGemmFits(g)) return yield* this.matmulGl(a, b, g, e);
      // cpu/webasm/webgpu: 4 outputs per thread. cpu returns one small JS array per thread, which for small
      // products costs more than the tiling saves; webasm hands back one flat array (see gemmCall).
      if (g.k > 0 && (this.gpuMode === 'webasm' || this.gpuMode === 'webgpu' ? out >= 256 : this.gpuMode === 'cpu' && out >= 16384 && Math.max(g.m, g.n) >= 4)) return yield* this.matmulHost(a, b, g, e);
    }
    // k = 0, huge operands, tiny products and GL shapes past the texture limits; then the epilogue, if any.
    const c = g.k === 0 ? yield* this.fillStep(out, 0) : this.isBig(out, a.size, b.size) ? yield* this.matmulTiled(a, b, g) : yield* this.run(K.matmulSource(g), [this.arg(a), this.arg(b)]);
    if (!e) return c;
    if (c.host) {
      // A fresh host array (host modes, or a product past the flat-index limit): in place.
      this.epilogueOnHost(c.host, g, e);
      return c;
    }
    const y = yield* this.run(epilogueSource(g.m, g.n, { residual: e.residual !== null, relu: e.relu }), [this.arg(c), ...this.epilogueArgs(e)]);
    this.free(c);
    return y;
  }
  private epilogueOnHost(C: Float32Array, g: MatmulGeometry, e: GemmEpilogue): void {
    applyEpilogueHost(C, g.m, g.n, this.hostOf(e.scale), this.hostOf(e.shift), e.residual ? this.hostOf(e.residual) : null, e.relu);
  }
  /** The epilogue's kernel arguments after the product's: scale, shift (and the residual). */
  private epilogueArgs(e: GemmEpilogue): Arg[] {
    return [this.arg(e.scale), this.arg(e.shift), ...(e.residual ? [this.arg(e.residual)] : [])];
  }

  /** GEMM kernel specs memoised by kind and geometry (one source per layer shape). */
  private readonly gemmSpecs = new Map<string, GemmSpec | KernelSpec>();
  private gemmSpec<S extends GemmSpec | KernelSpec>(kind: string, g: MatmulGeometry, make: (g: MatmulGeometry) => S): S {
    const key = `${kind}|${g.batch},${g.batchA},${g.batchB},${g.m},${g.k},${g.n},${+g.transA},${+g.transB}`;
    let spec = this.gemmSpecs.get(key);
    if (!spec) {
      spec = make(g);
      this.gemmSpecs.set(key, spec);
    }
    return spec as S;
  }

  /** Compiles a GEMM kernel (or kernel map), cached with the other kernels by spec and argument sizes. */
  private gemmKernel(spec: GemmSpec, sizes: string): IKernelRunShortcut {
    const key = `gemm|${spec.op}|${spec.source}|${JSON.stringify(spec.constants ?? {})}|${spec.output.join('x')}|${sizes}`;
    let k = this.kernels.get(key);
    if (!k) {
      const settings = {
        output: spec.output,
        precision: 'single',
        loopMaxIterations: Math.max(1000, spec.maxLoop + 1),
        pipeline: this.gl,
        immutable: this.gl,
        tactic: 'precision',
        dynamicOutput: false,
        ...(spec.constants ? { constants: spec.constants } : {}),
        ...this.asyncSettings(),
        ...(spec.vec4 ? { returnType: 'Array(4)' } : {}),
      } as Parameters<GPU['createKernel']>[1];
      k = spec.subKernels
        ? (this.gpu.createKernelMap(spec.subKernels as never, spec.source as never, settings as never) as unknown as IKernelRunShortcut)
        : this.gpu.createKernel(spec.source, settings);
      this.kernels.set(key, k);
      this.compiled++;
      this.freshGemm.add(k);
    }
    return k;
  }
  private readonly freshGemm = new Set<IKernelRunShortcut>();

  /**
   * Compiles (cached with the other kernels, by spec and argument sizes) and runs a 2-D-output GEMM kernel. On
   * webasm the Array(4) result would be split into one subarray per thread (200k objects at 64×12544, 25% of the
   * GEMM's time), so the kernel's output shaping is replaced by the flat buffer; any other result is flattened.
   */
  private *gemmCall(spec: GemmSpec, args: readonly (Arg | Input)[], sizes: string): Step<Float32Array | Texture> {
    const k = this.gemmKernel(spec, sizes);
    const flatten = (): void => {
      const inner = (k as unknown as { kernel?: { constructor: unknown; _shapeOutput?: unknown } }).kernel;
      if (!this.gl && spec.vec4 && inner && inner.constructor === (WebAssemblyKernel as unknown) && typeof inner._shapeOutput === 'function' && !Object.prototype.hasOwnProperty.call(inner, '_shapeOutput')) {
        inner._shapeOutput = (data: Float32Array): Float32Array => data;
      }
    };
    flatten();
    const res = yield* this.call<unknown>(k, args);
    if (this.freshGemm.delete(k)) this.checkMode(k, spec.op);
    flatten(); // gpu.js may have switched to another kernel object on the first call
    if (this.gl && !(res instanceof Float32Array) && !Array.isArray(res)) return res as Texture;
    const cells = spec.output.reduce((x, y) => x * y, 1) * (spec.vec4 ? 4 : 1);
    if (res instanceof Float32Array && res.length === cells) return res;
    // Nested rows of per-thread quads (cpu mode, or a kernel built before the override).
    const flat = new Float32Array(cells);
    let o = 0;
    const walk = (v: unknown): void => {
      if (v instanceof Float32Array || (Array.isArray(v) && typeof v[0] === 'number')) {
        flat.set(v as ArrayLike<number>, o);
        o += (v as ArrayLike<number>).length;
      } else for (const x of v as unknown[]) walk(x);
    };
    walk(res);
    return flat;
  }

  /** cpu/webasm: the 4-rows-per-thread kernel, on Cᵀ when that puts a multiple of 4 on webasm's SIMD lanes. */
  private *matmulHost(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue | null): Step<GpujsStorage> {
    const lanesOnM = g.n % 4 !== 0 && (g.m % 4 === 0 || g.m > g.n);
    const kg = lanesOnM ? transposedGeometry(g) : g;
    const [A, B] = lanesOnM ? [b, a] : [a, b];
    const spec = this.gemmSpec(lanesOnM ? 'hostT' : 'host', g, () => gemmHostSource(kg));
    const dims = hostOperandDims(kg);
    const quads = (yield* this.gemmCall(spec, [new Input(this.hostOf(A) as unknown as number[], dims.a), new Input(this.hostOf(B) as unknown as number[], dims.b)], `${A.size},${B.size}`)) as Float32Array;
    const C = unpackHostQuads(quads, g, lanesOnM);
    if (e) this.epilogueOnHost(C, g, e);
    return this.make(C.length, C, null);
  }

  /** Rows of C per GL thread: 8 (kernel map of 8 render targets) where the context has the draw buffers. */
  private glRows(): number {
    if (this.glRowsCached !== 0) return this.glRowsCached;
    // The context exists once any kernel ran (the operands' uploads); until then answer without caching.
    const ctx = (this.gpu as unknown as { context?: WebGLRenderingContext & { MAX_DRAW_BUFFERS?: number } }).context;
    if (!ctx) return 1;
    let buffers = 1;
    try {
      const ext = ctx.getExtension('WEBGL_draw_buffers');
      const param = ctx.MAX_DRAW_BUFFERS ?? ext?.MAX_DRAW_BUFFERS_WEBGL;
      if (param !== undefined) buffers = Number(ctx.getParameter(param)) || 1;
    } catch {
      buffers = 1;
    }
    this.glRowsCached = buffers >= 8 ? 8 : buffers >= 4 ? 4 : 1;
    return this.glRowsCached;
  }
  private glRowsCached = 0;
  /**
   * Rows per thread for one product: below k = 256 the 8-row GEMM is no faster than the 4-row one (per-thread
   * set-up dominates) while its unpack reads 8 textures per output instead of 4 (64×147×12544: 61 vs 71 ms).
   */
  private glRowsFor(g: MatmulGeometry): number {
    return Math.min(this.glRows(), g.k < 256 ? 4 : 8);
  }

  /** Whether the GL pipeline's packed textures and 2-D outputs stay inside GL's side limit and exact indices. */
  private glGemmFits(g: MatmulGeometry): boolean {
    const { kq, kp, nq } = glPacked(g);
    const { w, h } = glGemmLayout(g, this.glRowsFor(g));
    const side = 16384;
    const dims: [number, number][] = [[kq, g.batchA * g.m], [nq, g.batchB * kp], [w, h]];
    return dims.every(([x, y]) => x <= side && y <= side && x * y < this.indexLimit);
  }

  /**
   * GL: A and B packed 4 floats per texel on the device (two cheap pipeline kernels), the vec4 GEMM writing an
   * 8×4 block of C per thread over 8 render targets, then C unpacked into a scalar texture; nothing leaves the
   * device.
   */
  private *matmulGl(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue | null): Step<GpujsStorage> {
    const sizes = `${a.size},${b.size}`;
    const rows = this.glRowsFor(g);
    const pa = (yield* this.gemmCall(this.gemmSpec('glPackA', g, glPackASource), [this.arg(a)], sizes)) as Texture;
    const pb = (yield* this.gemmCall(this.gemmSpec('glPackB', g, glPackBSource), [this.arg(b)], sizes)) as Texture;
    const spec = this.gemmSpec(`glGemm${rows}`, g, (x) => glGemmSource(x, rows));
    const k = this.gemmKernel(spec, sizes);
    const res = yield* this.call<Texture | Record<string, Texture>>(k, [pa, pb]);
    if (this.freshGemm.delete(k)) this.checkMode(k, spec.op);
    pa.delete();
    pb.delete();
    const quads = spec.subKernels ? [(res as Record<string, Texture>).result, ...Object.keys(spec.subKernels).map((nm) => (res as Record<string, Texture>)[nm])] : [res as Texture];
    // Through gemmCall, whose cache key has the output size: the unpack source is the same for every batch.
    const epi = e ? { residual: e.residual !== null, relu: e.relu } : null;
    const unpack = this.gemmSpec(`glUnpack${rows}${epi ? `e${+epi.residual}${+epi.relu}` : ''}`, g, (x) => glUnpackSource(x, rows, epi));
    const c = (yield* this.gemmCall(unpack, e ? [...quads, ...this.epilogueArgs(e)] : quads, sizes)) as Texture;
    for (const q of quads) q.delete();
    return this.make(g.batch * g.m * g.n, null, c);
  }

  /**
   * GEMM on operands or results of ≥ 2^24 elements (conv1's im2col at batch ≥ 16): cut n and k into blocks
   * whose operands and result stay below the limit, run the kernel per block, add the k-partials on the host.
   */
  private *matmulTiled(a: Storage, b: Storage, g: MatmulGeometry): Step<GpujsStorage> {
    if (g.batch !== 1) return yield* this.viaHost('matmul', (r, h) => this.fromRef(r.matmul(h(a), h(b), g)));
    const { m, k, n, transA, transB } = g;
    const A = this.hostOf(a);
    const B = this.hostOf(b);
    const lim = this.indexLimit >>> 1;
    const kb = Math.max(1, Math.min(k, Math.floor(lim / Math.max(m, 1))));
    const nb = Math.max(1, Math.min(n, Math.floor(lim / Math.max(kb, m, 1))));
    const C = new Float32Array(m * n);
    for (let k0 = 0; k0 < k; k0 += kb) {
      const kl = Math.min(kb, k - k0);
      // A block as [m, kl] (row-major, no transpose).
      const Ab = new Float32Array(m * kl);
      for (let i = 0; i < m; i++) for (let p = 0; p < kl; p++) Ab[i * kl + p] = transA ? A[(k0 + p) * m + i] : A[i * k + k0 + p];
      const Ad = yield* this.fromHost(Ab);
      for (let n0 = 0; n0 < n; n0 += nb) {
        const nl = Math.min(nb, n - n0);
        const Bb = new Float32Array(kl * nl);
        for (let p = 0; p < kl; p++) for (let j = 0; j < nl; j++) Bb[p * nl + j] = transB ? B[(n0 + j) * k + k0 + p] : B[(k0 + p) * n + n0 + j];
        const Bd = yield* this.fromHost(Bb);
        const Cd = yield* this.run(K.matmulSource({ batch: 1, batchA: 1, batchB: 1, m, k: kl, n: nl, transA: false, transB: false }), [this.arg(Ad), this.arg(Bd)]);
        const Cb = this.hostOf(Cd);
        for (let i = 0; i < m; i++) for (let j = 0; j < nl; j++) C[i * n + n0 + j] += Cb[i * nl + j];
        this.free(Bd);
        this.free(Cd);
      }
      this.free(Ad);
    }
    return yield* this.fromHost(C);
  }

  // ---- windows ----

  im2col(x: Storage, g: WindowGeometry): Storage {
    return this.one(g.c * g.kh * g.kw * g.n * g.oh * g.ow, () => this.im2colStep(x, g));
  }
  private *im2colStep(x: Storage, g: WindowGeometry): Step<GpujsStorage> {
    const rows = g.c * g.kh * g.kw;
    const cols = g.n * g.oh * g.ow;
    if (this.isBig(x.size, cols)) return yield* this.viaHost('im2col', (r, h) => this.fromRef(r.im2col(h(x), g)));
    if (!this.isBig(rows * cols)) return yield* this.run(K.im2colSource(g, 0, rows), [this.arg(x)]);
    // Tile by bands of rows: each band's flat indices stay below the limit; the result lives on the host.
    const out = new Float32Array(rows * cols);
    const band = Math.max(1, Math.floor((this.indexLimit >>> 1) / cols));
    for (let r0 = 0; r0 < rows; r0 += band) {
      const rl = Math.min(band, rows - r0);
      const part = yield* this.run(K.im2colSource(g, r0, rl), [this.arg(x)]);
      out.set(this.hostOf(part), r0 * cols);
      this.free(part);
    }
    return this.make(out.length, out, null);
  }

  col2im(colsS: Storage, g: WindowGeometry): Storage {
    return this.one(g.n * g.c * g.h * g.w, () => this.col2imStep(colsS, g));
  }
  private *col2imStep(colsS: Storage, g: WindowGeometry): Step<GpujsStorage> {
    const size = g.n * g.c * g.h * g.w;
    const per = g.kh * g.kw * g.n * g.oh * g.ow; // elements of cols per channel
    if (this.isBig(size, per)) return yield* this.viaHost('col2im', (r, h) => this.fromRef(r.col2im(h(colsS), g)));
    if (!this.isBig(colsS.size)) return yield* this.run(K.col2imSource(g, g.c), [this.arg(colsS)]);
    // Tile by channel bands: a band's rows are contiguous in cols; assemble [n, c, h, w] on the host.
    const C = this.hostOf(colsS);
    const out = new Float32Array(size);
    const plane = g.h * g.w;
    const cb = Math.max(1, Math.floor((this.indexLimit >>> 1) / per));
    for (let c0 = 0; c0 < g.c; c0 += cb) {
      const cl = Math.min(cb, g.c - c0);
      const part = yield* this.run(K.col2imSource(g, cl), [C.subarray(c0 * per, (c0 + cl) * per)]);
      const P = this.hostOf(part);
      for (let b = 0; b < g.n; b++) out.set(P.subarray(b * cl * plane, (b + 1) * cl * plane), (b * g.c + c0) * plane);
      this.free(part);
    }
    return yield* this.fromHost(out);
  }

  maxPool2d(x: Storage, g: WindowGeometry): { out: Storage; indices: Storage } {
    const size = g.n * g.c * g.oh * g.ow;
    // Two operations rather than a kernel map: maps silently fall back to cpu on webasm.
    return { out: this.one(size, () => this.maxPoolStep(x, g, false)), indices: this.one(size, () => this.maxPoolStep(x, g, true)) };
  }
  private *maxPoolStep(x: Storage, g: WindowGeometry, indices: boolean): Step<GpujsStorage> {
    if (this.isBig(x.size)) return yield* this.viaHost('maxPool2d', (r, h) => {
      const o = r.maxPool2d(h(x), g);
      return this.fromRef(indices ? o.indices : o.out);
    });
    return yield* this.run(K.maxPoolSource(g, indices), [this.arg(x)]);
  }

  maxPool2dBackward(gy: Storage, indices: Storage, g: WindowGeometry): Storage {
    return this.one(g.n * g.c * g.h * g.w, () => this.maxPoolBackwardStep(gy, indices, g));
  }
  private *maxPoolBackwardStep(gy: Storage, indices: Storage, g: WindowGeometry): Step<GpujsStorage> {
    if (this.isBig(g.n * g.c * g.h * g.w)) return yield* this.viaHost('maxPool2dBackward', (r, h) => this.fromRef(r.maxPool2dBackward(h(gy), h(indices), g)));
    return yield* this.run(K.maxPoolBackwardSource(g), [this.arg(gy), this.arg(indices)]);
  }

  avgPool2d(x: Storage, g: AvgPoolGeometry): Storage {
    return this.one(g.n * g.c * g.oh * g.ow, () => this.avgPoolStep(x, g));
  }
  private *avgPoolStep(x: Storage, g: AvgPoolGeometry): Step<GpujsStorage> {
    if (this.isBig(x.size)) return yield* this.viaHost('avgPool2d', (r, h) => this.fromRef(r.avgPool2d(h(x), g)));
    return yield* this.run(K.avgPoolSource(g), [this.arg(x)]);
  }

  avgPool2dBackward(gy: Storage, g: AvgPoolGeometry): Storage {
    return this.one(g.n * g.c * g.h * g.w, () => this.avgPoolBackwardStep(gy, g));
  }
  private *avgPoolBackwardStep(gy: Storage, g: AvgPoolGeometry): Step<GpujsStorage> {
    if (this.isBig(g.n * g.c * g.h * g.w)) return yield* this.viaHost('avgPool2dBackward', (r, h) => this.fromRef(r.avgPool2dBackward(h(gy), g)));
    return yield* this.run(K.avgPoolBackwardSource(g), [this.arg(gy)]);
  }

  // ---- optimizers: new values computed by kernels, then swapped into the same handles ----

  /** `dst` takes over `src`'s buffer (an optimizer's new values, or a deferred operation's result). */
  private swap(dst: Storage, src: GpujsStorage): void {
    const d = dst as GpujsStorage;
    if (d.size !== src.size) fail('gpujs', `internal: a result of ${src.size} elements for a storage of ${d.size}`);
    if (d.tex) d.tex.delete();
    d.tex = src.tex;
    d.host = src.host;
    this.live--; // `src` was only a carrier; its buffer now belongs to `dst`
  }
  private adopt(dst: GpujsStorage, src: GpujsStorage): void {
    this.swap(dst, src);
  }

  // Training-mode batch norm composed from this backend's own reduce/binary/unary kernels (data stay resident).
  batchNorm(x: Storage, shape: Shape, weight: Storage, bias: Storage, eps: number): BatchNormResult {
    return bnForwardComposed(this, x, shape, weight, bias, eps);
  }

  batchNormBackward(dy: Storage, x: Storage, shape: Shape, mean: Storage, variance: Storage, weight: Storage, eps: number): BatchNormGrads {
    return bnBackwardComposed(this, dy, x, shape, mean, variance, weight, eps);
  }

  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): void {
    this.inPlace([param, momentumBuf], () => this.sgdSteps(param, grad, momentumBuf, p));
  }
  private *sgdSteps(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): Step<void> {
    if (this.isBig(param.size)) {
      const P = this.hostOf(param).slice();
      const M = momentumBuf ? this.hostOf(momentumBuf).slice() : null;
      const rp = hostRef.upload(P);
      const rm = M ? hostRef.upload(M) : null;
      hostRef.sgdStep(rp, hostRef.upload(this.hostOf(grad)), rm, p);
      this.swap(param, yield* this.fromRef(rp));
      if (momentumBuf && rm) this.swap(momentumBuf, yield* this.fromRef(rm));
      return;
    }
    const useM = momentumBuf !== null && p.momentum !== 0;
    const h = Float32Array.from([p.lr, p.momentum, p.dampening, p.weightDecay, p.nesterov ? 1 : 0, p.firstStep ? 1 : 0, useM ? 1 : 0]);
    const m = useM ? this.arg(momentumBuf) : this.arg(grad);
    if (useM && this.gl) {
      // One pass with two render targets reads p, g and m once (the split kernels read them twice).
      const [newP, newM] = yield* this.runMap(K.sgdFusedSource(param.size), [this.arg(param), this.arg(grad), m, h]);
      this.swap(momentumBuf, newM);
      this.swap(param, newP);
      return;
    }
    const newP = yield* this.run(K.sgdParamSource(param.size), [this.arg(param), this.arg(grad), m, h]);
    if (useM) {
      const newM = yield* this.run(K.sgdBufSource(param.size), [this.arg(param), this.arg(grad), m, h]);
      this.swap(momentumBuf, newM);
    }
    this.swap(param, newP);
  }

  adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamParams): void {
    this.inPlace([param, m, v], () => this.adamSteps(param, grad, m, v, p));
  }
  private *adamSteps(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamParams): Step<void> {
    if (this.isBig(param.size)) {
      const [rp, rm, rv] = [param, m, v].map((s) => hostRef.upload(this.hostOf(s)));
      hostRef.adamStep(rp, hostRef.upload(this.hostOf(grad)), rm, rv, p);
      this.swap(param, yield* this.fromRef(rp));
      this.swap(m, yield* this.fromRef(rm));
      this.swap(v, yield* this.fromRef(rv));
      return;
    }
    const h = Float32Array.from([p.lr, p.beta1, p.beta2, p.eps, p.weightDecay, p.decoupled ? 1 : 0, 1 - Math.pow(p.beta1, p.step), 1 - Math.pow(p.beta2, p.step)]);
    const args = [this.arg(param), this.arg(grad), this.arg(m), this.arg(v), h];
    // GL: one pass with three render targets; elsewhere (kernel maps would fall back to cpu) three kernels.
    let outs: GpujsStorage[] = [];
    if (this.gl) outs = yield* this.runMap(K.adamFusedSource(param.size), args);
    else for (const which of [0, 1, 2] as const) outs.push(yield* this.run(K.adamSource(param.size, which), args));
    const [np, nm, nv] = outs;
    this.swap(param, np);
    this.swap(m, nm);
    this.swap(v, nv);
  }

  destroy(): void {
    for (const k of this.kernels.values()) {
      warmWasmKernels.delete((k as unknown as { kernel?: WasmKernelInternals }).kernel!);
      k.destroy?.(true);
    }
    this.kernels.clear();
    this.gpu.destroy();
  }
}

