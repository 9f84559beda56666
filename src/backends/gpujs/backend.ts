// The gpu.js backend: runs the kernel sources of kernels/gpujs on one gpu.js mode (cpu, webasm, headlessgl,
// webgl2, webgpu). One short method per Backend member: each names its output's size and hands its step
// (ops.ts, gemm.ts) to the scheduler (schedule.ts), which runs it now or, on the asynchronous modes, in call
// order. Data stay device-resident on GL (pipeline textures) and are read back only in read().
import { guardStorages, type AdamParams, type AvgPoolGeometry, type Backend, type BatchNormGrads, type BatchNormResult, type BinaryOp, type GatherGeometry, type GemmEpilogue, type MatmulGeometry, type ReduceOp, type SgdParams, type Storage, type UnaryOp, type WindowGeometry } from '../../backend.js';
import { sizeOf, type Shape } from '../../shape.js';
import { fail } from '../../errors.js';
import { bnBackwardComposed, bnForwardComposed } from '../batchnorm.js';
import { webasmWarm } from './compile.js';
import { Device, GpujsStorage } from './device.js';
import { Gemm } from './gemm.js';
import { HostPath } from './host.js';
import { fastestGpujsMode, installWebGPU, resolveMode, type GpujsMode } from './modes.js';
import { Ops, reducedSize } from './ops.js';
import { Scheduler, type Step } from './schedule.js';

export class GpujsBackend implements Backend {
  /**
   * webasm kernels that keep their wasm memory between calls, over all gpujs backends of the process: in
   * browsers 24 (well under V8's limit, with room for the page's own memories); unbounded in Node.
   */
  static get webasmWarmKernels(): number {
    return webasmWarm.limit;
  }
  static set webasmWarmKernels(n: number) {
    webasmWarm.limit = n;
  }

  readonly name = 'gpujs';
  /** Composed by withDefaults(): im2col, then this backend's matmulEpilogue. */
  declare readonly convEpilogue: Backend['convEpilogue'];
  /** Composed by withDefaults(): im2col then matmul; for the gradients matmul then col2im, and matmul. */
  declare readonly convForward: Backend['convForward'];
  declare readonly convInputGrad: Backend['convInputGrad'];
  declare readonly convWeightGrad: Backend['convWeightGrad'];
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
  private readonly d: Device;
  private readonly s: Scheduler;
  private readonly host: HostPath;
  private readonly ops: Ops;
  private readonly gemm: Gemm;

  /**
   * Starts the backend; for webgpu first installs Node's `navigator.gpu` shim (asynchronous), then checks that an
   * adapter exists, falling back (and saying why) when not.
   */
  static async create(requested?: string, threads = 1): Promise<GpujsBackend> {
    if (requested === 'webgpu') {
      const why = await installWebGPU();
      if (why) {
        const b = new GpujsBackend(fastestGpujsMode(), threads);
        // This reason replaces any the constructor gave: it is the one that explains the mode.
        b.d.fallbackReason = `gpujs mode 'webgpu' is not available here (${why}); using '${b.gpuMode}'`;
        b.d.warn(b.d.fallbackReason);
        return b;
      }
    }
    return new GpujsBackend(requested, threads);
  }

  constructor(requested?: string, threadsRequested = 1) {
    const { mode, threads, fallbacks } = resolveMode(requested, threadsRequested);
    this.gpuMode = mode;
    this.threads = threads;
    this.mode = threads > 1 ? `${mode}:threads${threads}` : mode;
    // gpu.js's webgpu kernels always answer with Promises (results come back through mapAsync).
    this.deferred = threads > 1 || mode === 'webgpu';
    this.d = new Device(this, mode, threads);
    for (const why of fallbacks) this.d.degraded(why);
    this.s = new Scheduler(this.deferred);
    this.host = new HostPath(this.d);
    this.ops = new Ops(this.d, this.host);
    this.gemm = new Gemm(this.d, this.host);
    if (!this.deferred) this.readSync = (s: Storage): Float32Array => this.d.hostOf(s).slice();
    guardStorages(this, (s) => s instanceof GpujsStorage && s.owner === this);
  }

  // ---- what tests and tools observe ----

  /** Why this backend does not run as asked (the first reason), or null. */
  get fallbackReason(): string | null {
    return this.d.fallbackReason;
  }
  set fallbackReason(why: string | null) {
    this.d.fallbackReason = why;
  }
  /** Kernels compiled so far (for cache tests). */
  get compiled(): number {
    return this.d.kernels.compiled;
  }
  /** Storages alive on this backend (textures or host arrays), to prove release() frees them. */
  get live(): number {
    return this.d.live;
  }
  /** gpu.js kernel class each op actually ran as (tests assert the mode, not just the request). */
  get ranAs(): Map<string, string> {
    return this.d.kernels.ranAs;
  }
  /** Calls that took the host path because a tensor reached the flat-index limit. */
  get hostFallbacks(): number {
    return this.host.count;
  }
  /** The flat-index limit's stand-in; tests raise it to show what the guard prevents. */
  get indexLimit(): number {
    return this.d.indexLimit;
  }
  set indexLimit(n: number) {
    this.d.indexLimit = n;
  }
  /** Kernel calls split over the worker pool so far (threaded webasm). */
  get poolDispatches(): number {
    return this.d.kernels.poolDispatches;
  }
  /** The shared worker pool's live workers. */
  get poolWorkers(): number {
    return this.d.kernels.poolWorkers;
  }
  /** Distinct worker pools behind this backend's kernels: 1 once any ran threaded, as they share it. */
  get poolCount(): number {
    return this.d.kernels.poolCount;
  }
  /** This backend's webasm kernels holding a wasm memory now. */
  get warmWasmKernels(): number {
    return this.d.kernels.warmWasmKernels;
  }

  // ---- scheduling ----

  /** An operation with one output of `size` elements, run now or queued in call order. */
  private one(size: number, step: () => Step<GpujsStorage>): Storage {
    return this.s.one(step, () => this.d.make(size, null, null), (out, result) => this.d.swap(out, result));
  }

  // ---- storage ----

  upload(data: Float32Array): Storage {
    // Host-side modes keep the copy itself, ready at once even when deferred (no kernel to wait for).
    if (!this.d.gl) return this.d.make(data.length, data.slice(), null);
    const copy = data.slice();
    return this.one(data.length, () => this.d.fromHost(copy));
  }

  fill(size: number, value: number): Storage {
    if (!this.d.gl) return this.d.make(size, new Float32Array(size).fill(value), null);
    return this.one(size, () => this.d.fill(size, value));
  }

  /** Waits for the kernels queued before it (asynchronous modes); synchronous modes answer at once. */
  async read(s: Storage): Promise<Float32Array> {
    if (this.deferred) await this.s.settled();
    return this.d.hostOf(s).slice();
  }

  // readSync (set in the constructor) exists on the synchronous modes only: there host arrays are already here
  // and headless-gl's readPixels is synchronous; on the asynchronous ones a kernel may still be running.

  release(s: Storage): void {
    // Earlier queued kernels may still read it: free it in turn.
    this.s.after(() => this.d.free(s as GpujsStorage));
  }

  copyInto(dst: Storage, src: Storage): void {
    this.s.inPlace([dst as GpujsStorage, src as GpujsStorage], () => this.ops.copyInto(dst, src));
  }

  bytes(s: Storage): number {
    return this.d.bytes(s);
  }

  // ---- elementwise, reduce, layout ----

  unary(op: UnaryOp, x: Storage, param: number): Storage {
    return this.one(x.size, () => this.ops.unary(op, x, param));
  }

  binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage {
    return this.one(sizeOf(outShape), () => this.ops.binary(op, a, aShape, b, bShape, outShape));
  }

  reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Storage {
    return this.one(reducedSize(shape, axes), () => this.ops.reduce(op, x, shape, axes));
  }

  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage {
    return this.one(x.size, () => this.ops.permute(x, shape, perm));
  }

  slice(x: Storage, shape: Shape, axis: number, start: number, length: number): Storage {
    return this.one(sizeOf(shape.slice(0, axis)) * length * sizeOf(shape.slice(axis + 1)), () => this.ops.slice(x, shape, axis, start, length));
  }

  gather(x: Storage, index: Storage, g: GatherGeometry): Storage {
    return this.one(g.outer * g.k * g.inner, () => this.ops.gather(x, index, g));
  }

  scatterAdd(src: Storage, index: Storage, g: GatherGeometry): Storage {
    return this.one(g.outer * g.n * g.inner, () => this.ops.scatterAdd(src, index, g));
  }

  concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Storage {
    return this.one(xs.reduce((s, x) => s + x.size, 0), () => this.ops.concat(xs, shapes, axis));
  }

  // ---- GEMM ----

  matmul(a: Storage, b: Storage, g: MatmulGeometry): Storage {
    return this.one(g.batch * g.m * g.n, () => this.gemm.matmul(a, b, g, null));
  }

  /**
   * relu?(A·B·scale[row] + shift[row] + residual) for batch 1: the folded eval-mode conv → batch norm (→ add)
   * (→ ReLU). The GL pipeline applies it in its unpacking pass and the host kernels while unpacking their quads,
   * so it costs no pass of its own there; the other GEMM paths add one fused pass instead of three or four.
   */
  matmulEpilogue(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue): Storage {
    if (g.batch !== 1) fail('gpujs matmulEpilogue', `batch ${g.batch}, expected 1 (the fused conv epilogue is per output row)`);
    return this.one(g.m * g.n, () => this.gemm.matmul(a, b, g, e));
  }

  // ---- windows ----

  im2col(x: Storage, g: WindowGeometry): Storage {
    return this.one(g.c * g.kh * g.kw * g.n * g.oh * g.ow, () => this.ops.im2col(x, g));
  }

  col2im(cols: Storage, g: WindowGeometry): Storage {
    return this.one(g.n * g.c * g.h * g.w, () => this.ops.col2im(cols, g));
  }

  maxPool2d(x: Storage, g: WindowGeometry): { out: Storage; indices: Storage } {
    const size = g.n * g.c * g.oh * g.ow;
    // Two operations rather than a kernel map: maps silently fall back to cpu on webasm.
    return { out: this.one(size, () => this.ops.maxPool(x, g, false)), indices: this.one(size, () => this.ops.maxPool(x, g, true)) };
  }

  maxPool2dBackward(gy: Storage, indices: Storage, g: WindowGeometry): Storage {
    return this.one(g.n * g.c * g.h * g.w, () => this.ops.maxPoolBackward(gy, indices, g));
  }

  avgPool2d(x: Storage, g: AvgPoolGeometry): Storage {
    return this.one(g.n * g.c * g.oh * g.ow, () => this.ops.avgPool(x, g));
  }

  avgPool2dBackward(gy: Storage, g: AvgPoolGeometry): Storage {
    return this.one(g.n * g.c * g.h * g.w, () => this.ops.avgPoolBackward(gy, g));
  }

  // ---- batch norm (composed from this backend's own kernels; data stay resident) and optimizer steps ----

  batchNorm(x: Storage, shape: Shape, weight: Storage, bias: Storage, eps: number): BatchNormResult {
    return bnForwardComposed(this, x, shape, weight, bias, eps);
  }

  batchNormBackward(dy: Storage, x: Storage, shape: Shape, mean: Storage, variance: Storage, weight: Storage, eps: number): BatchNormGrads {
    return bnBackwardComposed(this, dy, x, shape, mean, variance, weight, eps);
  }

  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): void {
    this.s.inPlace([param as GpujsStorage, momentumBuf as GpujsStorage | null], () => this.ops.sgdStep(param, grad, momentumBuf, p));
  }

  adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamParams): void {
    this.s.inPlace([param, m, v] as GpujsStorage[], () => this.ops.adamStep(param, grad, m, v, p));
  }

  destroy(): void {
    this.d.destroy();
  }
}
