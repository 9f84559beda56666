// The wasm backend's adapter: tensors live in one WebAssembly.Memory (shared with a worker pool when possible);
// this file manages that heap (storages, pre-packed weight panels), picks a kernel per op and decides how to
// split it over threads. The kernels are gpugrad's own emitted SIMD module (kernels/wasm/, called by name with
// named arguments through kernels/wasm/abi.ts) and JS loops over the same heap (kernels/wasm/host.ts).
import { backendLabel, guardStorages, type AdamParams, type AvgPoolGeometry, type Backend, type GatherGeometry, type BatchNormGrads, type BatchNormResult, type BinaryOp, type GemmEpilogue, type MatmulGeometry, type ReduceOp, type SgdParams, type Storage, type UnaryOp, type WindowGeometry } from '../backend.js';
import { sizeOf, type Shape } from '../shape.js';
import { Heap, HeapExhausted } from '../../kernels/wasm/heap.js';
import { inGradientRules, outOfMemory } from '../engine.js';
import { fail } from '../errors.js';
import { argList, unreachable, type ArgsOf, type Signature } from '../../kernels/wasm/abi.js';
import { buildKernelModule, KERNELS, MAX_PAGES, relaxedSimdAvailable, type KernelArgs, type KernelName, type Kernels } from '../../kernels/wasm/module.js';
import { BIN, SUMRUN, type RunMode, type WasmBinary } from '../../kernels/wasm/elementwise.js';
import * as host from '../../kernels/wasm/host.js';
import { splitRange, WorkerPool } from '../../kernels/wasm/pool.js';
import { sharedMemoryWhyNot } from '../platform.js';
import { defaultWasmThreads, wasmRelaxedDefault, wasmWinogradDefault, wasmThreadsAvailable, type WasmBackendOptions } from './wasm-env.js';
import { convForwardComposed, convInputGradComposed, convWeightGradComposed } from './defaults.js';
import { WasmGemm } from './wasm-gemm.js';
import { WasmWinograd } from './wasm-winograd.js';
import { wasmAdamStep, wasmBatchNorm, wasmBatchNormBackward, wasmSgdStep, type TrainContext } from './wasm-train.js';

export { defaultWasmThreads, enableRelaxedSimd, relaxedSimdAvailable, wasmAvailable, wasmRelaxedDefault, wasmThreadsAvailable, type WasmBackendOptions } from './wasm-env.js';

class WasmStorage implements Storage {
  released = false;
  constructor(readonly ptr: number, readonly size: number, readonly cap: number, readonly heap: Heap, readonly owner: Backend) {}
}

const st = (s: Storage): WasmStorage => s as WasmStorage;
/** Float index of a storage in the heap view. */
const at = (s: Storage): number => st(s).ptr >>> 2; // unsigned: blocks may sit above 2 GiB

const INITIAL_PAGES = 256;

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly deferred = false;
  readonly mode: string;
  readonly fallbackReason: string | null;
  /** The heap's cap: wasm32 addresses 65536 pages of 64 KiB, 4 GiB for every tensor together, unless capped lower. */
  readonly maxBytes: number;
  private readonly heap: Heap;
  private readonly k: Kernels;
  private pool: WorkerPool | null = null;
  private readonly threads: number;
  /** The GEMM driver, with the packed panels of weights (matmulEpilogue's A) that it keeps per storage. */
  private readonly gemms: WasmGemm<WasmStorage>;
  /** Winograd F(2×2,3×3) for eval 3×3 stride-1 convs, with its transformed weights per storage; `mode` picks when. */
  readonly winograd: WasmWinograd<WasmStorage>;
  /** What the training kernels' drivers (batch norm, optimizer steps: src/backends/wasm-train.ts) use of this backend. */
  private readonly train: TrainContext;
  prepack: boolean;

  /**
   * Threads im2col (training's convolutions) may use: 1, because on the 2-vCPU machines a second thread was
   * never faster (bench/im2col-threads.ts, min of 30 calls at every ResNet-50 224² shape): small maps are bound
   * by per-row bookkeeping that a dispatch costs as much as, big ones by the bandwidth both cores share (the
   * pieces write disjoint rows: no false sharing).
   */
  im2colThreads = 1;

  /** Which of matmul's GEMMs (training's) use the fused kernel; see WasmBackendOptions.fmaTraining. */
  fmaMode: boolean | 'gradients' = false;

  /** Whether a matmul issued now uses the fused kernel: always (true), or inside backward()'s gradient rules. */
  get fmaTraining(): boolean {
    return this.fmaMode === true || (this.fmaMode === 'gradients' && inGradientRules());
  }

  private constructor(readonly module: WebAssembly.Module, readonly memory: WebAssembly.Memory, threads: number, reason: string | null, maxPages: number, readonly relaxed: boolean) {
    const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
    this.k = inst.exports as unknown as Kernels;
    this.heap = new Heap(memory, maxPages, 64);
    this.maxBytes = this.heap.limitBytes();
    this.threads = threads;
    this.mode = `${relaxed ? 'relaxed-' : ''}simd${threads > 1 ? `-threads${threads}` : ''}`;
    this.prepack = typeof process !== 'undefined' && process.env.GPUGRAD_WASM_PREPACK === '0' ? false : true;
    this.fallbackReason = reason;
    // A pointer into another instance's heap would read or write this one's memory: refuse it up front.
    guardStorages(this, (s) => s instanceof WasmStorage && s.heap === this.heap && !s.released);
    this.gemms = new WasmGemm({ block: (n) => this.block(n), free: (b) => this.heap.release(b.ptr, b.cap), threads: (big) => this.T(big), par: (name, parts) => this.par(name, parts), parThen: (name, parts, name2, parts2) => this.parThen(name, parts, name2, parts2), f32: () => this.f });
    this.train = { alloc: (n) => this.alloc(n), release: (b) => this.release(b), threads: (big) => this.T(big), par: (name, parts) => this.par(name, parts), f32: () => this.f, ptr: (s) => st(s).ptr, chunks: (n) => this.chunks(n), forget: (s) => (this.gemms.forget(st(s)), this.winograd.forget(st(s))) };
    this.winograd = new WasmWinograd({ block: (n) => this.block(n), free: (b) => this.heap.release(b.ptr, b.cap), threads: (big) => this.T(big), par: (name, parts) => this.par(name, parts), f32: () => this.f, alloc: (n) => this.alloc(n), release: (s) => this.release(s), ptr: (s) => s.ptr, relaxed: () => this.relaxed, keep: () => this.prepack });
  }

  /** Starts the backend; the Promise resolves once the worker pool is up (immediately for one thread). */
  static async create(options: WasmBackendOptions = {}): Promise<WasmBackend> {
    const b = WasmBackend.open(options);
    await b.whenReady();
    return b;
  }

  /** A backend without workers (synchronous start). `asked` only feeds the fallback reason. */
  static createSync(options: WasmBackendOptions = {}, asked = options.threads ?? 1): WasmBackend {
    const shared = wasmThreadsAvailable();
    const cap = options.maxBytes;
    if (cap !== undefined && !(Number.isFinite(cap) && cap >= INITIAL_PAGES * 65536)) fail('wasm', `maxBytes must be a number of at least ${INITIAL_PAGES * 65536} (16 MiB), got ${cap}`);
    const maxPages = cap === undefined ? MAX_PAGES : Math.min(MAX_PAGES, Math.floor(cap / 65536));
    const memory = new WebAssembly.Memory(shared ? { initial: INITIAL_PAGES, maximum: maxPages, shared: true } : { initial: INITIAL_PAGES, maximum: maxPages });
    const wantRelaxed = options.relaxed ?? wasmRelaxedDefault();
    const relaxed = wantRelaxed && relaxedSimdAvailable();
    const module = new WebAssembly.Module(buildKernelModule(shared, INITIAL_PAGES, relaxed));
    const threads = shared ? Math.max(1, Math.floor(options.threads ?? 1)) : 1;
    const reasons = [
      !shared && asked > 1 ? `wasm: ${asked} threads asked, running single-threaded: ${sharedMemoryWhyNot()}` : null,
      wantRelaxed && !relaxed ? 'relaxed SIMD does not validate here (Node 20: --experimental-wasm-relaxed-simd): plain SIMD128 kernels' : null,
    ].filter((r) => r !== null);
    const b = new WasmBackend(module, memory, threads, reasons.length ? reasons.join('; ') : null, maxPages, relaxed);
    if (options.prepack !== undefined) b.prepack = options.prepack;
    b.winograd.mode = options.winograd ?? wasmWinogradDefault();
    const gradientsOnly = typeof process !== 'undefined' && process.env.GPUGRAD_WASM_RELAXED === 'gradients';
    b.fmaMode = relaxed ? (options.fmaTraining ?? (gradientsOnly ? 'gradients' : true)) : false;
    return b;
  }

  /**
   * A backend usable at once whose worker pool (threads > 1; default: the machine's cores) boots in the
   * background: ops run on the calling thread until every worker is up, then split across all of them, on
   * this same instance and heap, so tensors made before and after mix freely. whenReady() waits for it.
   */
  static open(options: WasmBackendOptions = {}): WasmBackend {
    const asked = options.threads ?? defaultWasmThreads();
    const b = WasmBackend.createSync({ ...options, threads: asked }, asked);
    if (b.threads > 1) {
      const names = (Object.keys(KERNELS) as KernelName[]).filter((n) => typeof b.k[n] === 'function');
      b.pool = WorkerPool.launch(b.threads, b.module, b.memory, names);
    }
    return b;
  }

  /** Resolves once the worker pool (if any) has started every worker. */
  whenReady(): Promise<void> {
    return this.pool ? this.pool.started : Promise.resolve();
  }

  /** Threads an op of this size should use: all of them once the pool is up and the work is worth splitting. */
  private T(big: boolean): number {
    return big && this.pool !== null && this.pool.isReady() ? this.threads : 1;
  }

  /** Live and reserved heap bytes (reserved includes freed blocks kept for reuse). */
  heapStats(): { live: number; reserved: number; memory: number } {
    return { live: this.heap.liveBytes(), reserved: this.heap.reservedBytes(), memory: this.memory.buffer.byteLength };
  }

  private alloc(size: number): WasmStorage {
    const { ptr, cap } = this.block(size * 4);
    return new WasmStorage(ptr, size, cap, this.heap, this);
  }
  /** A heap block; exhaustion becomes an error that says what is live and what to do. */
  private block(bytes: number): { ptr: number; cap: number } {
    try {
      return this.heap.alloc(bytes);
    } catch (e) {
      if (e instanceof HeapExhausted) outOfMemory(backendLabel(this), e.requested, e.limit, 'the wasm32 heap');
      throw e;
    }
  }
  private get f(): Float32Array {
    return this.heap.f32;
  }

  /** Runs kernel `name` split over threads: one argument set per part. */
  private par<K extends KernelName>(name: K, parts: readonly KernelArgs<K>[]): void {
    const sig: Signature = KERNELS[name];
    const fn = this.k[name];
    if (this.pool && parts.length > 1) this.pool.run(name, parts, fn);
    else for (const p of parts) fn(...argList(sig, p as ArgsOf<Signature>));
  }

  /** Like par, with kernel name2's part i run right after name's part i on the same thread (WorkerPool's PairedCall). */
  private parThen<K extends KernelName, K2 extends KernelName>(name: K, parts: readonly KernelArgs<K>[], name2: K2, parts2: readonly KernelArgs<K2>[]): void {
    const [fn, fn2] = [this.k[name], this.k[name2]];
    if (this.pool && parts.length > 1) {
      this.pool.run(name, parts, fn, { name: name2, args: parts2, local: fn2 });
      return;
    }
    const [sig, sig2]: Signature[] = [KERNELS[name], KERNELS[name2]];
    parts.forEach((p, i) => {
      fn(...argList(sig, p as ArgsOf<Signature>));
      fn2(...argList(sig2, parts2[i] as ArgsOf<Signature>));
    });
  }

  upload(data: Float32Array): Storage {
    const s = this.alloc(data.length);
    this.f.set(data, at(s));
    return s;
  }
  fill(size: number, value: number): Storage {
    const s = this.alloc(size);
    this.f.fill(value, at(s), at(s) + size);
    return s;
  }
  async read(s: Storage): Promise<Float32Array> {
    return this.readSync(s);
  }
  readSync(s: Storage): Float32Array {
    return this.f.slice(at(s), at(s) + s.size);
  }
  release(s: Storage): void {
    const w = st(s);
    if (w.released) return;
    w.released = true;
    this.gemms.forget(w);
    this.winograd.forget(w);
    this.heap.release(w.ptr, w.cap);
  }

  /** Bytes held by pre-packed weight panels. */
  packedBytes(): number {
    return this.gemms.packedBytes() + this.winograd.keptBytes();
  }
  bytes(s: Storage): number {
    return st(s).cap;
  }
  copyInto(dst: Storage, src: Storage): void {
    this.gemms.forget(st(dst)); // assign and loadStateDict write weights in place: a kept packing would be stale
    this.winograd.forget(st(dst));
    this.f.copyWithin(at(dst), at(src), at(src) + src.size);
  }

  unary(op: UnaryOp, x: Storage, param: number): Storage {
    const n = x.size;
    const out = this.alloc(n);
    switch (op) {
      case 'neg': case 'abs': case 'sqrt': case 'relu': {
        const px = st(x).ptr;
        this.par(`un_${op}`, this.chunks(n).map(([i0, i1]) => ({ x: px + i0 * 4, out: out.ptr + i0 * 4, n: i1 - i0 })));
        return out;
      }
      case 'exp': case 'log': case 'sigmoid': case 'tanh': case 'erf': case 'pow':
        host.unaryLoop(this.f, op, at(x), at(out), n, param);
        return out;
      default: return unreachable(op, 'wasm unary');
    }
  }

  binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage {
    const total = sizeOf(outShape);
    const out = this.alloc(total);
    if (total === 0) return out;
    const { dims, sa, sb } = host.broadcastPlan(aShape, bShape, outShape);
    const r = dims.length;
    const L = dims[r - 1];
    const ia = sa[r - 1];
    const ib = sb[r - 1];
    const mode: RunMode | null = ia === 1 && ib === 1 ? 'vv' : ia === 1 && ib === 0 ? 'vs' : ia === 0 && ib === 1 ? 'sv' : null;
    const pa = st(a).ptr;
    const pb = st(b).ptr;
    const po = out.ptr;
    const name = mode && L >= 8 ? (`bin_${wasmBinary(op)}_${mode}` as const) : null;
    if (name && r <= 3) {
      // Rank ≤ 3 after merging (e.g. [N, C, H·W] against [1, C, 1]): one wasm call per thread over all runs.
      const d1 = r >= 2 ? dims[r - 2] : 1;
      const [a0, b0] = r === 3 ? [sa[0], sb[0]] : [0, 0];
      const [a1, b1] = r >= 2 ? [sa[r - 2], sb[r - 2]] : [0, 0];
      const T = this.T(total >= 1 << 16);
      this.par(name, splitRange(total / L, T).map(([q0, q1]) => ({ pa, pb, po, n: L, d1, a0, a1, b0, b1, q0, q1 })));
      return out;
    }
    // One run at a time: the kernel for long runs, a JS loop for short ones and runs where both operands repeat.
    const kern = name ? this.k[name] : null;
    const f = this.f;
    host.eachRun(dims, sa, sb, (o, oa, ob) => {
      if (kern) kern(...argList(BIN, { pa: pa + oa * 4, pb: pb + ob * 4, po: po + o * 4, n: L, d1: 1, a0: 0, a1: 0, b0: 0, b1: 0, q0: 0, q1: 1 }));
      else host.binaryRun(f, op, (po >>> 2) + o, (pa >>> 2) + oa, ia, (pb >>> 2) + ob, ib, L);
    });
    return out;
  }

  reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Storage {
    const outSize = sizeOf(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
    const out = this.alloc(outSize);
    const sumRun = this.k.sumrun;
    host.reduceLoop(this.f, op, at(x), at(out), outSize, shape, axes, (ptr, n) => sumRun(...argList(SUMRUN, { x: ptr, n })) as number);
    return out;
  }

  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage {
    const out = this.alloc(x.size);
    if (x.size === 0) return out;
    const { dims, ss } = host.permutePlan(shape, perm);
    if (dims.length > 3) {
      host.permuteLoop(this.f, at(x), at(out), dims, ss);
      return out;
    }
    // Rank ≤ 3 after merging (every conv-layout permute): one kernel, threads split the outer dim.
    while (dims.length < 3) {
      dims.unshift(1);
      ss.unshift(0);
    }
    const T = this.T(x.size >= 1 << 16 && dims[0] > 1);
    const [, d1, d2] = dims;
    const [s0, s1, s2] = ss;
    this.par('perm3', splitRange(dims[0], T).map(([i0, i1]) => ({ x: st(x).ptr, out: out.ptr, d1, d2, s0, s1, s2, i0, i1 })));
    return out;
  }

  slice(x: Storage, shape: Shape, axis: number, start: number, length: number): Storage {
    const out = this.alloc(sizeOf(shape.slice(0, axis)) * length * sizeOf(shape.slice(axis + 1)));
    host.sliceLoop(this.f, at(x), at(out), shape, axis, start, length);
    return out;
  }

  gather(x: Storage, index: Storage, g: GatherGeometry): Storage {
    const out = this.alloc(g.outer * g.k * g.inner);
    host.gatherLoop(this.f, at(x), at(index), at(out), g);
    return out;
  }

  scatterAdd(src: Storage, index: Storage, g: GatherGeometry): Storage {
    const out = this.alloc(g.outer * g.n * g.inner);
    host.scatterAddLoop(this.f, at(src), at(index), at(out), g);
    return out;
  }

  concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Storage {
    const outer = sizeOf(shapes[0].slice(0, axis));
    const inner = sizeOf(shapes[0].slice(axis + 1));
    const total = shapes.reduce((n, s) => n + s[axis], 0);
    // 0-d inputs have no axis: total is NaN; give an empty result as the reference backend does.
    const out = this.alloc(Number.isFinite(total) ? outer * total * inner : 0);
    if (Number.isFinite(total)) host.concatLoop(this.f, xs.map(at), shapes, axis, at(out), outer, inner, total);
    return out;
  }

  matmul(a: Storage, b: Storage, g: MatmulGeometry, weightA = false, fused = this.fmaTraining): Storage {
    const { m, k, n, transA, transB } = g;
    const out = this.alloc(g.batch * m * n);
    if (m * n === 0) return out;
    if (k === 0) {
      this.f.fill(0, at(out), at(out) + g.batch * m * n);
      return out;
    }
    for (let bt = 0; bt < g.batch; bt++) {
      const pa = st(a).ptr + (bt % g.batchA) * m * k * 4;
      const pb = st(b).ptr + (bt % g.batchB) * k * n * 4;
      // Element (i,p) of op(A) sits at i·rs + p·ps; element (p,j) of op(B) at j·cs + p·ps.
      const [rsA, psA] = transA ? [1, m] : [k, 1];
      const [csB, psB] = transB ? [k, 1] : [1, n];
      this.gemm(pa, rsA, psA, pb, csB, psB, m, n, k, out.ptr + bt * m * n * 4, weightA && g.batch === 1 && this.prepack ? st(a) : null, fused);
    }
    return out;
  }

  matmulEpilogue(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue): Storage {
    if (g.batch !== 1) throw new Error(`wasm matmulEpilogue: batch ${g.batch}, expected 1`);
    const { m, k, n, transA, transB } = g;
    const out = this.alloc(m * n);
    if (m * n === 0) return out;
    if (k === 0) {
      this.f.fill(0, at(out), at(out) + m * n);
      this.epilogue(out, m, n, e, out.ptr, n, false);
      return out;
    }
    // A is a conv weight in eval (the folded batch-norm path): its packed panels are kept between calls. The
    // epilogue reads the GEMM's result where it lies (a padded grid, maybe transposed): no copy-out pass.
    const [rsA, psA] = transA ? [1, m] : [k, 1];
    const [csB, psB] = transB ? [k, 1] : [1, n];
    this.gemms.run({ ptr: st(a).ptr, rs: rsA, ps: psA }, { ptr: st(b).ptr, rs: csB, ps: psB }, m, n, k, out.ptr, this.prepack ? st(a) : null, this.relaxed ? 'gemm_fma' : 'gemm', (src, lds, tr) => this.epilogue(out, m, n, e, src, lds, tr));
    return out;
  }

  /**
   * One pass writing C [m, n] to `out` with the epilogue applied, reading C at byte address src with row stride
   * lds (transposed: C is stored as Cᵀ), right after the GEMM (still in cache), split by rows over threads.
   */
  private epilogue(out: Storage, m: number, n: number, e: GemmEpilogue, src: number, lds: number, transposed: boolean): void {
    if (m * n === 0) return;
    const T = this.T(m * n >= 1 << 15);
    const res = e.residual ? st(e.residual).ptr : 0;
    const [pc, scale, shift] = [out, e.scale, e.shift].map((s) => st(s).ptr);
    this.par(`epi${transposed ? 't' : ''}_${e.residual ? 1 : 0}${e.relu ? 1 : 0}`, splitRange(m, T).map(([r0, r1]) => ({ pc, cols: n, r0, r1, scale, shift, res, src, lds })));
  }

  /**
   * Eval conv (groups 1) with the epilogue, [oc, n·oh·ow]: an implicit GEMM whose column operand is packed
   * straight from the image (no im2col buffer), the weight's packed panels kept, then the epilogue pass.
   */
  convEpilogue(x: Storage, weight: Storage, g: WindowGeometry, oc: number, e: GemmEpilogue): Storage {
    const wino = this.winograd.run(st(x), st(weight), g, oc, { scale: st(e.scale), shift: st(e.shift), residual: e.residual ? st(e.residual) : null, relu: e.relu });
    if (wino) return wino;
    const k = g.c * g.kh * g.kw;
    const n = g.n * g.oh * g.ow;
    const out = this.alloc(oc * n);
    if (oc * n === 0) return out;
    if (k === 0) {
      this.f.fill(0, at(out), at(out) + oc * n);
      this.epilogue(out, oc, n, e, out.ptr, n, false);
    } else this.gemms.run({ ptr: st(weight).ptr, rs: k, ps: 1 }, { ptr: st(x).ptr, image: g }, oc, n, k, out.ptr, this.prepack ? st(weight) : null, this.relaxed ? 'gemm_fma' : 'gemm', (src, lds, tr) => this.epilogue(out, oc, n, e, src, lds, tr));
    return out;
  }

  /**
   * Training's conv forward, [oc, n·oh·ow]: Winograd at 3×3 stride 1 where it wins (no columns made then; the
   * weight's transform is redone after each optimizer step), else im2col + the GEMM; fused as fmaMode says.
   */
  convForward(x: Storage, weight: Storage, g: WindowGeometry, oc: number): { out: Storage; cols: Storage | null } {
    const out = this.winograd.run(st(x), st(weight), g, oc, null, this.fmaTraining);
    return out ? { out, cols: null } : convForwardComposed(this, x, weight, g, oc);
  }

  /**
   * A conv's input gradient, [n, c, h, w]: at 3×3 stride 1 where Winograd wins, the conv of gy with the flipped
   * weight (its GEMMs fused as fmaTraining says: in backward() they are); otherwise col2im(weightᵀ·gy).
   */
  convInputGrad(gy: Storage, weight: Storage, g: WindowGeometry, oc: number): Storage {
    return this.winograd.runInputGrad(st(gy), st(weight), g, oc, this.fmaTraining) ?? convInputGradComposed(this, gy, weight, g, oc);
  }

  /**
   * A conv's weight gradient, [oc, c·kh·kw]: at 3×3 stride 1 where Winograd wins, summed in the transform domain
   * (16 GEMMs over the tiles); otherwise gy·colsᵀ, the columns made here when the forward kept none.
   */
  convWeightGrad(gy: Storage, x: Storage, cols: Storage | null, g: WindowGeometry, oc: number): Storage {
    return this.winograd.runWeightGrad(st(gy), st(x), g, oc, this.fmaTraining) ?? convWeightGradComposed(this, gy, x, cols, g, oc);
  }

  /** C[m,n] (row-major at byte address pc) = A·B with element strides as in matmul (see WasmGemm.run). */
  gemm(pa: number, rsA: number, psA: number, pb: number, csB: number, psB: number, m: number, n: number, k: number, pc: number, weightA: WasmStorage | null = null, fused = false): void {
    this.gemms.run({ ptr: pa, rs: rsA, ps: psA }, { ptr: pb, rs: csB, ps: psB }, m, n, k, pc, weightA, fused && this.relaxed ? 'gemm_fma' : 'gemm');
  }

  im2col(x: Storage, g: WindowGeometry): Storage {
    const rows = g.c * g.kh * g.kw;
    const out = this.alloc(rows * g.n * g.oh * g.ow);
    if (out.size === 0) return out;
    const T = Math.min(this.im2colThreads, this.T(out.size >= 1 << 16));
    this.par('im2col', splitRange(rows, T).map(([r0, r1]) => ({ ...g, x: st(x).ptr, out: out.ptr, r0, r1 })));
    return out;
  }

  col2im(colsS: Storage, g: WindowGeometry): Storage {
    const size = g.n * g.c * g.h * g.w;
    const T = this.T(colsS.size >= 1 << 16);
    if (g.sh === 1 && g.sw === 1 && size > 0 && g.oh * g.ow > 0) {
      // Stride 1: gathered, each element written once (kernels/wasm/col2im.ts), so no zero fill first.
      const out = this.alloc(size);
      this.par('col2im_s1', splitRange(g.c, T).map(([c0, c1]) => ({ ...g, cols: st(colsS).ptr, out: out.ptr, c0, c1 })));
      return out;
    }
    const out = this.fill(size, 0);
    if (out.size === 0 || g.oh * g.ow === 0) return out;
    this.par('col2im', splitRange(g.c, T).map(([c0, c1]) => ({ ...g, cols: st(colsS).ptr, out: st(out).ptr, c0, c1 })));
    return out;
  }

  maxPool2d(x: Storage, g: WindowGeometry): { out: Storage; indices: Storage } {
    const planes = g.n * g.c;
    const outS = this.alloc(planes * g.oh * g.ow);
    const idxS = this.alloc(planes * g.oh * g.ow);
    const T = this.T(outS.size >= 1 << 15);
    this.par('maxpool', splitRange(planes, T).map(([p0, p1]) => ({ ...g, x: st(x).ptr, out: outS.ptr, idx: idxS.ptr, p0, p1 })));
    return { out: outS, indices: idxS };
  }

  maxPool2dBackward(gy: Storage, indices: Storage, g: WindowGeometry): Storage {
    const out = this.fill(g.n * g.c * g.h * g.w, 0);
    const T = this.T(gy.size >= 1 << 15);
    this.par('maxpoolbwd', splitRange(g.n * g.c, T).map(([p0, p1]) => ({ gy: st(gy).ptr, idx: st(indices).ptr, out: st(out).ptr, hw: g.h * g.w, ohw: g.oh * g.ow, p0, p1 })));
    return out;
  }

  avgPool2d(x: Storage, g: AvgPoolGeometry): Storage {
    const out = this.alloc(g.n * g.c * g.oh * g.ow);
    host.avgPoolLoop(this.f, at(x), at(out), g);
    return out;
  }

  avgPool2dBackward(gy: Storage, g: AvgPoolGeometry): Storage {
    const out = this.fill(g.n * g.c * g.h * g.w, 0);
    host.avgPoolBackwardLoop(this.f, at(gy), at(out), g);
    return out;
  }

  /** Element ranges for a memory-bound kernel: split over threads only when large (multiples of 4 keep SIMD). */
  private chunks(n: number): [number, number][] {
    const T = this.T(n >= 1 << 18);
    return splitRange(Math.ceil(n / 4), T).map(([a, b]) => [a * 4, Math.min(n, b * 4)]);
  }

  batchNorm(x: Storage, shape: Shape, weight: Storage, bias: Storage, eps: number): BatchNormResult {
    return wasmBatchNorm(this.train, x, shape, weight, bias, eps);
  }

  batchNormBackward(dy: Storage, x: Storage, shape: Shape, mean: Storage, variance: Storage, weight: Storage, eps: number): BatchNormGrads {
    return wasmBatchNormBackward(this.train, dy, x, shape, mean, variance, weight, eps);
  }

  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): void {
    wasmSgdStep(this.train, param, grad, momentumBuf, p);
  }

  adamStep(param: Storage, grad: Storage, mS: Storage, vS: Storage, p: AdamParams): void {
    wasmAdamStep(this.train, param, grad, mS, vS, p);
  }

  destroy(): void {
    this.pool?.destroy();
    this.pool = null;
  }
}

/** The wasm kernel family of a binary op: every BinaryOp has one (a new op must be listed here and in host.binaryRun). */
function wasmBinary(op: BinaryOp): WasmBinary {
  switch (op) {
    case 'add': case 'sub': case 'mul': case 'div': case 'eq': case 'ne': case 'gt': return op;
    default: return unreachable(op, 'wasm binary');
  }
}
