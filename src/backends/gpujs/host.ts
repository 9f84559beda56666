// The gpu.js adapter's paths for tensors of 2^24 elements or more, which no gpu.js kernel may see (its flat indices
// are f32): elementwise work and im2col/col2im tiled into kernels on bands below the limit and assembled on the
// host; the rare rest (and the optimizer steps) on the float64 reference kernels over host copies, logged once
// per op. (The GEMM's tiling lives with the GEMM, gemm.ts.)
import type { AdamParams, SgdParams, Storage, UnaryOp, WindowGeometry } from '../../backend.js';
import { ReferenceBackend } from '../reference.js';
import { K } from './compile.js';
import type { Device, GpujsStorage } from './device.js';
import type { Step } from './schedule.js';

/** The float64 host kernels, for the rare ops on tensors too large for any gpu.js kernel. */
const hostRef = new ReferenceBackend();

export class HostPath {
  /** Calls that took the reference path because a tensor reached the flat-index limit. */
  count = 0;
  private readonly warned = new Set<string>();

  constructor(private readonly d: Device) {}

  /** Runs `op` on the reference backend over host copies (`up` uploads one) and wraps its result as ours. */
  *reference(op: string, run: (r: ReferenceBackend, up: (s: Storage) => Storage) => Storage): Step<GpujsStorage> {
    this.note(op);
    return yield* this.fromRef(run(hostRef, (s) => hostRef.upload(this.d.hostOf(s))));
  }

  /** Elementwise work splits into independent chunks with small local indices. */
  *unary(op: UnaryOp, x: Storage, param: number): Step<GpujsStorage> {
    const d = this.d;
    const X = d.hostOf(x);
    const out = new Float32Array(X.length);
    const step = d.indexLimit >>> 1;
    for (let o = 0; o < X.length; o += step) {
      const part = X.subarray(o, Math.min(X.length, o + step));
      const r = yield* d.run(K.unary(op, param, part.length), [part]);
      out.set(d.hostOf(r), o);
      d.free(r);
    }
    return d.make(out.length, out, null);
  }

  /** im2col by bands of rows: each band's flat indices stay below the limit; the result lives on the host. */
  *im2col(x: Storage, g: WindowGeometry): Step<GpujsStorage> {
    const d = this.d;
    const rows = g.c * g.kh * g.kw;
    const cols = g.n * g.oh * g.ow;
    const out = new Float32Array(rows * cols);
    const band = Math.max(1, Math.floor((d.indexLimit >>> 1) / cols));
    for (let r0 = 0; r0 < rows; r0 += band) {
      const rl = Math.min(band, rows - r0);
      const part = yield* d.run(K.im2col(g, r0, rl), [d.arg(x)]);
      out.set(d.hostOf(part), r0 * cols);
      d.free(part);
    }
    return d.make(out.length, out, null);
  }

  /** col2im by channel bands: a band's rows are contiguous in cols; [n, c, h, w] assembled on the host. */
  *col2im(colsS: Storage, g: WindowGeometry): Step<GpujsStorage> {
    const d = this.d;
    const per = g.kh * g.kw * g.n * g.oh * g.ow; // elements of cols per channel
    const C = d.hostOf(colsS);
    const out = new Float32Array(g.n * g.c * g.h * g.w);
    const plane = g.h * g.w;
    const cb = Math.max(1, Math.floor((d.indexLimit >>> 1) / per));
    for (let c0 = 0; c0 < g.c; c0 += cb) {
      const cl = Math.min(cb, g.c - c0);
      const part = yield* d.run(K.col2im(g, cl), [C.subarray(c0 * per, (c0 + cl) * per)]);
      const P = d.hostOf(part);
      for (let b = 0; b < g.n; b++) out.set(P.subarray(b * cl * plane, (b + 1) * cl * plane), (b * g.c + c0) * plane);
      d.free(part);
    }
    return yield* d.fromHost(out);
  }

  /** SGD on the reference kernels; param and momentum buffer take the new values. */
  *sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): Step<void> {
    const d = this.d;
    const rp = hostRef.upload(d.hostOf(param).slice());
    const rm = momentumBuf ? hostRef.upload(d.hostOf(momentumBuf).slice()) : null;
    hostRef.sgdStep(rp, hostRef.upload(d.hostOf(grad)), rm, p);
    d.swap(param, yield* this.fromRef(rp));
    if (momentumBuf && rm) d.swap(momentumBuf, yield* this.fromRef(rm));
  }

  /** Adam on the reference kernels; param, m and v take the new values. */
  *adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamParams): Step<void> {
    const d = this.d;
    const [rp, rm, rv] = [param, m, v].map((s) => hostRef.upload(d.hostOf(s)));
    hostRef.adamStep(rp, hostRef.upload(d.hostOf(grad)), rm, rv, p);
    d.swap(param, yield* this.fromRef(rp));
    d.swap(m, yield* this.fromRef(rm));
    d.swap(v, yield* this.fromRef(rv));
  }

  private fromRef(s: Storage): Step<GpujsStorage> {
    return this.d.fromHost(hostRef.readSync(s));
  }

  private note(op: string): void {
    this.count++;
    if (this.warned.has(op)) return;
    this.warned.add(op);
    console.warn(`gpugrad: gpujs ${op} on a tensor of ≥ 2^24 elements runs on the host (gpu.js flat indices are f32)`);
  }
}
