// Kernel compilation for the gpu.js adapter: every kernel source of kernels/gpujs memoised by its arguments, one
// kernel spec (KernelSpec, 1-D or 2-D output) compiled with one settings builder, and one cache key: the spec's
// content (op, source with its baked-in shape, output, constants) and the argument sizes, which gpu.js fixes at
// compile time; each backend has its own cache, so the mode is part of the key. Calls go through here too: they
// share one worker pool (threaded webasm), keep at most webasmWarmKernels wasm memories alive, and check on the
// first call that the kernel really runs in the mode asked for.
import { Input, type GPU, type IKernelRunShortcut, type Texture } from 'gpu.js';
import { backendLabel } from '../../backend.js';
import { host } from '../../platform.js';
import type { KernelSpec } from '../../../kernels/gpujs/common.js';
import { binarySource, copySource, fillSource, unarySource } from '../../../kernels/gpujs/elementwise.js';
import { reduceSource } from '../../../kernels/gpujs/reduce.js';
import { concatSource, gatherSource, permuteSource, scatterAddSource, sliceSource } from '../../../kernels/gpujs/layout.js';
import { epilogueSource, gemmHostSource, glGemmSource, glPackASource, glPackBSource, glUnpackSource, matmulSource } from '../../../kernels/gpujs/matmul.js';
import { avgPoolBackwardSource, avgPoolSource, col2imSource, im2colSource, maxPoolBackwardSource, maxPoolSource } from '../../../kernels/gpujs/window.js';
import { adamFusedSource, adamSource, sgdBufSource, sgdFusedSource, sgdParamSource } from '../../../kernels/gpujs/optim.js';
import { compileKernel, holdsWasmMemory, innerKernel, invokeKernel, releaseWasmMemories, textureOutput, type InnerKernel, type KernelSettings, type WorkerPool } from './internals.js';
import { isGLMode, kernelClass, kernelClassName, type GpujsMode } from './modes.js';
import { settle, type Step } from './schedule.js';

/** A kernel spec of either output form. */
export type AnySpec = KernelSpec<number | number[]>;
/** A buffer a kernel reads: a host array or a device texture. */
export type Arg = Float32Array | Texture;
/** What a kernel call takes: buffers, and 2-D host inputs (the host GEMM). */
export type KernelArg = Arg | Input;

/**
 * Kernel sources memoised by their arguments: generating a source on every call is most of the per-call garbage
 * of small ops, and the same spec object lets the cache find its key without rebuilding it.
 */
function memo<A extends unknown[], S extends AnySpec>(make: (...a: A) => S): (...a: A) => S {
  const seen = new Map<string, S>();
  return (...a: A): S => {
    const key = JSON.stringify(a);
    let spec = seen.get(key);
    if (!spec) {
      spec = make(...a);
      seen.set(key, spec);
    }
    return spec;
  };
}

/** Every kernel source the adapter compiles, memoised. */
export const K = {
  copy: memo(copySource),
  fill: memo(fillSource),
  unary: memo(unarySource),
  binary: memo(binarySource),
  reduce: memo(reduceSource),
  permute: memo(permuteSource),
  slice: memo(sliceSource),
  gather: memo(gatherSource),
  scatterAdd: memo(scatterAddSource),
  concat: memo(concatSource),
  matmul: memo(matmulSource),
  epilogue: memo(epilogueSource),
  gemmHost: memo(gemmHostSource),
  glPackA: memo(glPackASource),
  glPackB: memo(glPackBSource),
  glGemm: memo(glGemmSource),
  glUnpack: memo(glUnpackSource),
  im2col: memo(im2colSource),
  col2im: memo(col2imSource),
  maxPool: memo(maxPoolSource),
  maxPoolBackward: memo(maxPoolBackwardSource),
  avgPool: memo(avgPoolSource),
  avgPoolBackward: memo(avgPoolBackwardSource),
  sgdParam: memo(sgdParamSource),
  sgdBuf: memo(sgdBufSource),
  adam: memo(adamSource),
  sgdFused: memo(sgdFusedSource),
  adamFused: memo(adamFusedSource),
};

/** Spec content → a small id, so equal specs share a compiled kernel; each spec object is keyed once. */
const contentIds = new Map<string, number>();
const specIds = new WeakMap<AnySpec, number>();
function specId(spec: AnySpec): number {
  let id = specIds.get(spec);
  if (id === undefined) {
    const content = JSON.stringify([spec.op, spec.source, spec.output, spec.constants ?? null, spec.vec4 === true, spec.subKernels ?? null]);
    id = contentIds.get(content);
    if (id === undefined) contentIds.set(content, (id = contentIds.size));
    specIds.set(spec, id);
  }
  return id;
}

function argSize(a: KernelArg): string {
  if (a instanceof Float32Array) return String(a.length);
  if (a instanceof Input) return a.size.join('x');
  return textureOutput(a).join('x');
}

/**
 * gpu.js's webasm mode gives every compiled kernel its own WebAssembly.Memory, kept between calls. Browsers
 * reserve address space per memory (V8: ~10 GB of guard regions inside a 1 TB sandbox), so after a few dozen
 * kernels — a ResNet has hundreds — `new WebAssembly.Memory()` throws RangeError. The kernels that ran least
 * recently therefore give their memories back (gpu.js rebuilds the module on the next call, a few ms); the
 * compiled kernels themselves stay cached. Shared by every gpujs backend of the process.
 */
export const webasmWarm = {
  /** Kernels that keep their memory: in browsers 24 (well under V8's limit, with room for the page's own); unbounded in Node. */
  limit: host() === 'node' ? Infinity : 24,
  kernels: new Set<InnerKernel>(),
};

/** Marks a webasm kernel most recently used, parking the least recent beyond the limit. */
function keepWarm(k: IKernelRunShortcut): void {
  const inner = innerKernel(k);
  if (!inner) return;
  const warm = webasmWarm.kernels;
  warm.delete(inner);
  warm.add(inner);
  for (const old of warm) {
    if (warm.size <= webasmWarm.limit) break;
    warm.delete(old);
    releaseWasmMemories(old);
  }
}

/** One backend's compiled kernels, and the calls into them. */
export class KernelCache {
  /** Kernels compiled so far (for cache tests). */
  compiled = 0;
  /** gpu.js kernel class each op actually ran as (tests assert the mode, not just the request). */
  readonly ranAs = new Map<string, string>();
  private readonly kernels = new Map<string, IKernelRunShortcut>();
  /** Compiled kernels not yet called: their class is checked after the first call, when gpu.js has built them. */
  private readonly unchecked = new Set<IKernelRunShortcut>();
  private readonly gl: boolean;
  /**
   * gpu.js gives every compiled kernel its own worker pool (60–70 ms to start, `threads` workers each); a
   * ResNet has hundreds of kernels. All of this cache's kernels share the first pool instead.
   */
  private pool: WorkerPool | null = null;

  /** `degraded` hears why a kernel did not run in `mode` (gpu.js fell back without saying so). */
  constructor(
    private readonly gpu: GPU,
    private readonly mode: GpujsMode,
    private readonly threads: number,
    private readonly degraded: (why: string) => void,
  ) {
    this.gl = isGLMode(mode);
  }

  /** The compiled kernel for a spec and these arguments' sizes (compiled on first use). */
  kernel(spec: AnySpec, args: readonly KernelArg[]): IKernelRunShortcut {
    const key = `${specId(spec)}|${args.map(argSize).join(',')}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = compileKernel(this.gpu, spec.source, this.settings(spec), spec.subKernels);
      this.kernels.set(key, k);
      this.unchecked.add(k);
      this.compiled++;
    }
    return k;
  }

  /** Calls a compiled kernel; on the asynchronous modes the step waits for its result. */
  *call<R>(spec: AnySpec, k: IKernelRunShortcut, args: readonly KernelArg[]): Step<R> {
    this.sharePool(k);
    if (this.mode === 'webasm') keepWarm(k);
    const res = yield* settle(invokeKernel<R>(k, args));
    this.sharePool(k);
    if (this.unchecked.delete(k)) this.checkMode(k, spec.op);
    return res;
  }

  /** Compiles (or finds) and calls. */
  *run<R>(spec: AnySpec, args: readonly KernelArg[]): Step<R> {
    return yield* this.call<R>(spec, this.kernel(spec, args), args);
  }

  private settings(spec: AnySpec): KernelSettings {
    return {
      output: typeof spec.output === 'number' ? [spec.output] : spec.output,
      precision: 'single',
      // Loops bounded above 1000 are silently cut at loopMaxIterations (default 1000) on every mode.
      loopMaxIterations: Math.max(1000, spec.maxLoop + 1),
      pipeline: this.gl,
      // Pipeline kernels otherwise hand back the same texture on every call.
      immutable: this.gl,
      tactic: 'precision',
      dynamicOutput: false,
      ...(spec.constants ? { constants: spec.constants } : {}),
      // Threaded webasm: gpu.js's async contract, which splits kernels of ≥ 4,096 outputs over a worker pool.
      ...(this.threads > 1 ? { asyncMode: true, poolSize: this.threads } : {}),
      ...(spec.vec4 ? { returnType: 'Array(4)' } : {}),
    } as KernelSettings;
  }

  private checkMode(k: IKernelRunShortcut, op: string): void {
    const inner = innerKernel(k);
    if (!inner) return;
    const ran = kernelClassName(inner.constructor);
    this.ranAs.set(op, ran);
    if (ran !== kernelClass[this.mode] || inner.fallbackReason) {
      this.degraded(`${backendLabel({ name: 'gpujs', mode: this.mode })} kernel '${op}' ran as ${ran}${inner.fallbackReason ? `: ${inner.fallbackReason}` : ''}`);
    }
  }

  private sharePool(k: IKernelRunShortcut): void {
    if (this.threads <= 1) return;
    const inner = innerKernel(k);
    if (!inner) return;
    if (!this.pool) this.pool = inner._pool ?? null;
    else if (!inner._pool) inner._pool = this.pool;
  }

  /** Kernel calls split over the worker pool so far (threaded webasm). */
  get poolDispatches(): number {
    return this.pool?.dispatchCount ?? 0;
  }
  /** The shared pool's live workers. */
  get poolWorkers(): number {
    return this.pool?.liveWorkerCount ?? 0;
  }
  /** Distinct worker pools behind these kernels: 1 once any ran threaded, as they share it. */
  get poolCount(): number {
    const pools = new Set<unknown>();
    for (const k of this.kernels.values()) {
      const p = innerKernel(k)?._pool;
      if (p) pools.add(p);
    }
    return pools.size;
  }
  /** These webasm kernels holding a wasm memory now. */
  get warmWasmKernels(): number {
    let n = 0;
    for (const k of this.kernels.values()) if (holdsWasmMemory(innerKernel(k))) n++;
    return n;
  }

  destroy(): void {
    for (const k of this.kernels.values()) {
      const inner = innerKernel(k);
      if (inner) webasmWarm.kernels.delete(inner);
      k.destroy?.(true);
    }
    this.kernels.clear();
    this.unchecked.clear();
  }
}
