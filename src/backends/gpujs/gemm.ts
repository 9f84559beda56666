// GEMM on gpu.js, by mode and size: the GL pipeline (operands packed 4 floats per texel, a vec4 GEMM over 8
// render targets, an unpacking pass that also applies the fused conv epilogue), the register-tiled host kernel
// (cpu/webasm/webgpu, 4 outputs per thread), the one-output kernel for tiny products, and the tiling of products
// whose operands or result reach the 2^24 flat-index limit.
import type { Texture } from 'gpu.js';
import type { GemmEpilogue, MatmulGeometry, Storage } from '../../backend.js';
import { applyEpilogueHost, glGemmLayout, glPacked, hostOperandDims, transposedGeometry, unpackHostQuads, type GemmSpec } from '../../../kernels/gpujs/matmul.js';
import { K, type Arg, type KernelArg } from './compile.js';
import type { Device, GpujsStorage } from './device.js';
import type { HostPath } from './host.js';
import { glContext, hostInput, returnFlatOutput } from './internals.js';
import type { Step } from './schedule.js';

export class Gemm {
  /** Rows of C per GL thread the context allows (0 until known). */
  private glRowsCached = 0;

  constructor(
    private readonly d: Device,
    private readonly host: HostPath,
  ) {}

  /** op(A)·op(B) per batch, then the epilogue relu?(C·scale[row] + shift[row] + residual) when given (batch 1). */
  *matmul(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue | null): Step<GpujsStorage> {
    const d = this.d;
    const out = g.batch * g.m * g.n;
    if (out === 0) return d.make(0, new Float32Array(0), null);
    if (!d.isBig(out, a.size, b.size)) {
      if (g.k > 0 && d.gl && this.glGemmFits(g)) return yield* this.matmulGl(a, b, g, e);
      // cpu/webasm/webgpu: 4 outputs per thread. cpu returns one small JS array per thread, which for small
      // products costs more than the tiling saves; webasm hands back one flat array (see gemmCall).
      if (g.k > 0 && (d.mode === 'webasm' || d.mode === 'webgpu' ? out >= 256 : d.mode === 'cpu' && out >= 16384 && Math.max(g.m, g.n) >= 4)) return yield* this.matmulHost(a, b, g, e);
    }
    // k = 0, huge operands, tiny products and GL shapes past the texture limits; then the epilogue, if any.
    const c = g.k === 0 ? yield* d.fill(out, 0) : d.isBig(out, a.size, b.size) ? yield* this.matmulTiled(a, b, g) : yield* d.run(K.matmul(g), [d.arg(a), d.arg(b)]);
    if (!e) return c;
    if (c.host) {
      // A fresh host array (host modes, or a product past the flat-index limit): in place.
      this.epilogueOnHost(c.host, g, e);
      return c;
    }
    const y = yield* d.run(K.epilogue(g.m, g.n, { residual: e.residual !== null, relu: e.relu }), [d.arg(c), ...this.epilogueArgs(e)]);
    d.free(c);
    return y;
  }

  private epilogueOnHost(C: Float32Array, g: MatmulGeometry, e: GemmEpilogue): void {
    const d = this.d;
    applyEpilogueHost(C, g.m, g.n, d.hostOf(e.scale), d.hostOf(e.shift), e.residual ? d.hostOf(e.residual) : null, e.relu);
  }

  /** The epilogue's kernel arguments after the product's: scale, shift (and the residual). */
  private epilogueArgs(e: GemmEpilogue): Arg[] {
    const d = this.d;
    return [d.arg(e.scale), d.arg(e.shift), ...(e.residual ? [d.arg(e.residual)] : [])];
  }

  /**
   * Runs a 2-D-output GEMM kernel and hands back a flat array (or a GL texture). On webasm the Array(4) result
   * would be split into one subarray per thread, so the kernel returns its flat buffer instead; any other result
   * is flattened here.
   */
  private *gemmCall(spec: GemmSpec, args: readonly KernelArg[]): Step<Float32Array | Texture> {
    const cache = this.d.kernels;
    const k = cache.kernel(spec, args);
    const flat = !this.d.gl && spec.vec4 === true;
    if (flat) returnFlatOutput(k);
    const res = yield* cache.call<unknown>(spec, k, args);
    if (flat) returnFlatOutput(k); // gpu.js may have switched to another kernel object on the first call
    if (this.d.gl && !(res instanceof Float32Array) && !Array.isArray(res)) return res as Texture;
    const cells = spec.output.reduce((x, y) => x * y, 1) * (spec.vec4 ? 4 : 1);
    if (res instanceof Float32Array && res.length === cells) return res;
    // Nested rows of per-thread quads (cpu mode, or a kernel built before the override).
    const out = new Float32Array(cells);
    let o = 0;
    const walk = (v: unknown): void => {
      if (v instanceof Float32Array || (Array.isArray(v) && typeof v[0] === 'number')) {
        out.set(v as ArrayLike<number>, o);
        o += (v as ArrayLike<number>).length;
      } else for (const x of v as unknown[]) walk(x);
    };
    walk(res);
    return out;
  }

  /** cpu/webasm: the 4-rows-per-thread kernel, on Cᵀ when that puts a multiple of 4 on webasm's SIMD lanes. */
  private *matmulHost(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue | null): Step<GpujsStorage> {
    const d = this.d;
    const lanesOnM = g.n % 4 !== 0 && (g.m % 4 === 0 || g.m > g.n);
    const kg = lanesOnM ? transposedGeometry(g) : g;
    const [A, B] = lanesOnM ? [b, a] : [a, b];
    const dims = hostOperandDims(kg);
    const quads = (yield* this.gemmCall(K.gemmHost(kg), [hostInput(d.hostOf(A), dims.a), hostInput(d.hostOf(B), dims.b)])) as Float32Array;
    const C = unpackHostQuads(quads, g, lanesOnM);
    if (e) this.epilogueOnHost(C, g, e);
    return d.make(C.length, C, null);
  }

  /** Rows of C per GL thread: 8 (kernel map of 8 render targets) where the context has the draw buffers. */
  private glRows(): number {
    if (this.glRowsCached !== 0) return this.glRowsCached;
    // The context exists once any kernel ran (the operands' uploads); until then answer without caching.
    const ctx = glContext(this.d.gpu);
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
    return dims.every(([x, y]) => x <= side && y <= side && x * y < this.d.indexLimit);
  }

  /**
   * GL: A and B packed 4 floats per texel on the device (two cheap pipeline kernels), the vec4 GEMM writing an
   * 8×4 block of C per thread over 8 render targets, then C unpacked into a scalar texture; nothing leaves the
   * device.
   */
  private *matmulGl(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue | null): Step<GpujsStorage> {
    const d = this.d;
    const rows = this.glRowsFor(g);
    const pa = (yield* this.gemmCall(K.glPackA(g), [d.arg(a)])) as Texture;
    const pb = (yield* this.gemmCall(K.glPackB(g), [d.arg(b)])) as Texture;
    const spec = K.glGemm(g, rows);
    const res = yield* d.kernels.run<Texture | Record<string, Texture>>(spec, [pa, pb]);
    pa.delete();
    pb.delete();
    const quads = spec.subKernels ? [(res as Record<string, Texture>).result, ...Object.keys(spec.subKernels).map((nm) => (res as Record<string, Texture>)[nm])] : [res as Texture];
    const epi = e ? { residual: e.residual !== null, relu: e.relu } : null;
    const c = (yield* this.gemmCall(K.glUnpack(g, rows, epi), e ? [...quads, ...this.epilogueArgs(e)] : quads)) as Texture;
    for (const q of quads) q.delete();
    return d.make(g.batch * g.m * g.n, null, c);
  }

  /**
   * GEMM on operands or results of ≥ 2^24 elements (conv1's im2col at batch ≥ 16): cut n and k into blocks
   * whose operands and result stay below the limit, run the kernel per block, add the k-partials on the host.
   */
  private *matmulTiled(a: Storage, b: Storage, g: MatmulGeometry): Step<GpujsStorage> {
    if (g.batch !== 1) return yield* this.host.reference('matmul', (r, up) => r.matmul(up(a), up(b), g));
    const d = this.d;
    const { m, k, n, transA, transB } = g;
    const A = d.hostOf(a);
    const B = d.hostOf(b);
    const lim = d.indexLimit >>> 1;
    const kb = Math.max(1, Math.min(k, Math.floor(lim / Math.max(m, 1))));
    const nb = Math.max(1, Math.min(n, Math.floor(lim / Math.max(kb, m, 1))));
    const C = new Float32Array(m * n);
    for (let k0 = 0; k0 < k; k0 += kb) {
      const kl = Math.min(kb, k - k0);
      // A block as [m, kl] (row-major, no transpose).
      const Ab = new Float32Array(m * kl);
      for (let i = 0; i < m; i++) for (let p = 0; p < kl; p++) Ab[i * kl + p] = transA ? A[(k0 + p) * m + i] : A[i * k + k0 + p];
      const Ad = yield* d.fromHost(Ab);
      for (let n0 = 0; n0 < n; n0 += nb) {
        const nl = Math.min(nb, n - n0);
        const Bb = new Float32Array(kl * nl);
        for (let p = 0; p < kl; p++) for (let j = 0; j < nl; j++) Bb[p * nl + j] = transB ? B[(n0 + j) * k + k0 + p] : B[(k0 + p) * n + n0 + j];
        const Bd = yield* d.fromHost(Bb);
        const Cd = yield* d.run(K.matmul({ batch: 1, batchA: 1, batchB: 1, m, k: kl, n: nl, transA: false, transB: false }), [d.arg(Ad), d.arg(Bd)]);
        const Cb = d.hostOf(Cd);
        for (let i = 0; i < m; i++) for (let j = 0; j < nl; j++) C[i * n + n0 + j] += Cb[i * nl + j];
        d.free(Bd);
        d.free(Cd);
      }
      d.free(Ad);
    }
    return yield* d.fromHost(C);
  }
}
