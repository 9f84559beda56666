// The GEMM kernels: panel packing (which absorbs transposes) and a 4×8 f32x4 register-tiled micro-kernel
// that streams packed panels with v128.load, blocked over k so both micro-panels stay in L1; with relaxed SIMD
// the micro-kernel's multiply-adds are fused (f32x4.relaxed_madd).
import { family, funcOf, signature } from './abi.js';
import { Func, I32, V128, type ModuleBuilder } from './emit.js';

/** Rows of A per micro-tile and columns of B per micro-tile. */
export const MR = 4;
export const NR = 8;
/** The k block drivers pass as kc: bounds the A block swept per B micro-panel (4·kc·mr·4 bytes per tile) to what L2 holds; measured noisy on a loaded 2-core box, 1024 was no worse than 256. */
export const KC = 1024;
/** k steps per micro-kernel loop iteration: unrolling by 2 or 4 measured 10–40% slower under V8 here. */
const UNROLL = 1;

/** Transposes the 4×4 block held in v[0..3] (rows) into t[0..3] (columns), using u[0..3] as scratch. */
function transpose4(f: Func, v: number[], u: number[], t: number[]): void {
  f.get(v[0]).get(v[1]).f32x4Shuffle(0, 4, 1, 5).set(u[0]);
  f.get(v[0]).get(v[1]).f32x4Shuffle(2, 6, 3, 7).set(u[1]);
  f.get(v[2]).get(v[3]).f32x4Shuffle(0, 4, 1, 5).set(u[2]);
  f.get(v[2]).get(v[3]).f32x4Shuffle(2, 6, 3, 7).set(u[3]);
  f.get(u[0]).get(u[2]).f32x4Shuffle(0, 1, 4, 5).set(t[0]);
  f.get(u[0]).get(u[2]).f32x4Shuffle(2, 3, 6, 7).set(t[1]);
  f.get(u[1]).get(u[3]).f32x4Shuffle(0, 1, 4, 5).set(t[2]);
  f.get(u[1]).get(u[3]).f32x4Shuffle(2, 3, 6, 7).set(t[3]);
}

const v128s = (f: Func, n: number): number[] => Array.from({ length: n }, () => f.local(V128));

/**
 * packA: A element (i, p) is src[i·rs + p·ps] (floats); writes tiles
 * it0..it1 as [tile][k][4], rows past m zero, so the micro-kernel reads 4 row values per k contiguously.
 */
export const PACK_A = signature(['src', 'dst', 'm', 'k', 'rs', 'ps', 'it0', 'it1']);
function packA(): Func {
  const { f, p: { src, dst, m, k, rs, ps, it0, it1 } } = funcOf(PACK_A);
  const it = f.local(I32), r = f.local(I32), i = f.local(I32), p = f.local(I32), s = f.local(I32), d = f.local(I32), ps4 = f.local(I32);
  const rs4 = f.local(I32), k4 = f.local(I32), v = v128s(f, 4), u = v128s(f, 4), t = v128s(f, 4);
  f.get(ps).i32(4).i32Mul().set(ps4);
  f.get(rs).i32(4).i32Mul().set(rs4);
  f.get(k).i32(-4).i32And().set(k4);
  f.forLoop(it, () => f.get(it0), () => f.get(it1), 1, () => {
    // Rows contiguous along k and the tile full: 4×4 SIMD transposes, then a scalar k tail.
    f.get(ps).i32(1).i32Eq().get(it).i32(MR).i32Mul().i32(MR).i32Add().get(m).i32LeS().i32And().if_();
    f.get(src).get(it).i32(MR).i32Mul().get(rs4).i32Mul().i32Add().set(s);
    f.get(dst).get(it).get(k).i32Mul().i32(MR * 4).i32Mul().i32Add().set(d);
    f.forLoop(p, () => f.i32(0), () => f.get(k4), 4, () => {
      for (let q = 0; q < 4; q++) f.get(s).get(rs4).i32(q).i32Mul().i32Add().v128Load().set(v[q]);
      transpose4(f, v, u, t);
      for (let q = 0; q < 4; q++) f.get(d).get(t[q]).v128Store(q * 16);
      f.get(s).i32(16).i32Add().set(s);
      f.get(d).i32(64).i32Add().set(d);
    });
    f.forLoop(p, () => f.get(k4), () => f.get(k), 1, () => {
      for (let q = 0; q < 4; q++) f.get(d).get(s).get(rs4).i32(q).i32Mul().i32Add().f32Load().f32Store(q * 4);
      f.get(s).i32(4).i32Add().set(s);
      f.get(d).i32(16).i32Add().set(d);
    });
    f.else_();
    // Columns contiguous (a transposed A: the 4 rows of a tile are adjacent floats at each k), full tile:
    // one v128 copy per k.
    f.get(rs).i32(1).i32Eq().get(it).i32(MR).i32Mul().i32(MR).i32Add().get(m).i32LeS().i32And().if_();
    f.get(src).get(it).i32(MR * 4).i32Mul().i32Add().set(s);
    f.get(dst).get(it).get(k).i32Mul().i32(MR * 4).i32Mul().i32Add().set(d);
    f.forLoop(p, () => f.i32(0), () => f.get(k), 1, () => {
      f.get(d).get(s).v128Load().v128Store();
      f.get(s).get(ps4).i32Add().set(s);
      f.get(d).i32(16).i32Add().set(d);
    });
    f.else_();
    f.forLoop(r, () => f.i32(0), () => f.i32(MR), 1, () => {
      f.get(it).i32(MR).i32Mul().get(r).i32Add().set(i);
      // d = dst + ((it·k)·4 + r)·4
      f.get(dst).get(it).get(k).i32Mul().i32(4).i32Mul().get(r).i32Add().i32(4).i32Mul().i32Add().set(d);
      f.get(i).get(m).i32LtS().if_();
      f.get(src).get(i).get(rs).i32Mul().i32(4).i32Mul().i32Add().set(s);
      f.forLoop(p, () => f.i32(0), () => f.get(k), 1, () => {
        f.get(d).get(s).f32Load().f32Store();
        f.get(s).get(ps4).i32Add().set(s);
        f.get(d).i32(16).i32Add().set(d);
      });
      f.else_();
      f.forLoop(p, () => f.i32(0), () => f.get(k), 1, () => {
        f.get(d).f32(0).f32Store();
        f.get(d).i32(16).i32Add().set(d);
      });
      f.end();
    });
    f.end();
    f.end();
  });
  return f;
}

/**
 * packAT: packA for a transposed A (its 4 tile rows adjacent floats at each k,
 * element (i, p) at src[i + p·ps]), full tiles only. Four tiles at a time, so each k reads one whole 64-byte
 * line and feeds four destination panels (a tile at a time touched a new line per float4: ~6 GB/s).
 */
export const PACK_AT = signature(['src', 'dst', 'k', 'ps', 'it0', 'it1']);
function packAT(): Func {
  const { f, p: { src, dst, k, ps, it0, it1 } } = funcOf(PACK_AT);
  const it = f.local(I32), p = f.local(I32), s = f.local(I32), ps4 = f.local(I32), g1 = f.local(I32), stride = f.local(I32);
  const d = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  f.get(ps).i32(4).i32Mul().set(ps4);
  f.get(k).i32(MR * 4).i32Mul().set(stride); // bytes between consecutive tiles' panels
  // it0..g1: groups of four tiles; g1..it1: one at a time.
  f.get(it0).get(it1).get(it0).i32Sub().i32(-4).i32And().i32Add().set(g1);
  const group = (n: number): void => {
    f.get(src).get(it).i32(MR * 4).i32Mul().i32Add().set(s);
    f.get(dst).get(it).get(stride).i32Mul().i32Add().set(d[0]);
    for (let q = 1; q < n; q++) f.get(d[q - 1]).get(stride).i32Add().set(d[q]);
    f.forLoop(p, () => f.i32(0), () => f.get(k), 1, () => {
      for (let q = 0; q < n; q++) {
        f.get(d[q]).get(s).v128Load(q * 16).v128Store();
        f.get(d[q]).i32(16).i32Add().set(d[q]);
      }
      f.get(s).get(ps4).i32Add().set(s);
    });
  };
  f.forLoop(it, () => f.get(it0), () => f.get(g1), 4, () => group(4));
  f.forLoop(it, () => f.get(g1), () => f.get(it1), 1, () => group(1));
  return f;
}

/**
 * packB: B element (p, j) is src[j·cs + p·ps]; writes column tiles
 * jt0..jt1 as [tile][k][8], columns past n zero. Untransposed full tiles copy with two v128 moves per k.
 */
export const PACK_B = signature(['src', 'dst', 'n', 'k', 'cs', 'ps', 'jt0', 'jt1']);
function packB(): Func {
  const { f, p: { src, dst, n, k, cs, ps, jt0, jt1 } } = funcOf(PACK_B);
  const jt = f.local(I32), c = f.local(I32), j = f.local(I32), p = f.local(I32), s = f.local(I32), d = f.local(I32), ps4 = f.local(I32), base = f.local(I32);
  const cs4 = f.local(I32), k4 = f.local(I32), g = f.local(I32), v = v128s(f, 4), u = v128s(f, 4), t = v128s(f, 4);
  f.get(ps).i32(4).i32Mul().set(ps4);
  f.get(cs).i32(4).i32Mul().set(cs4);
  f.get(k).i32(-4).i32And().set(k4);
  f.forLoop(jt, () => f.get(jt0), () => f.get(jt1), 1, () => {
    f.get(dst).get(jt).get(k).i32Mul().i32(NR * 4).i32Mul().i32Add().set(base);
    // Transposed B (columns contiguous along k), full tile: two 4-column groups of 4×4 SIMD transposes.
    f.get(ps).i32(1).i32Eq().get(jt).i32(NR).i32Mul().i32(NR).i32Add().get(n).i32LeS().i32And().if_();
    f.forLoop(g, () => f.i32(0), () => f.i32(NR), 4, () => {
      f.get(src).get(jt).i32(NR).i32Mul().get(g).i32Add().get(cs4).i32Mul().i32Add().set(s);
      f.get(base).get(g).i32(4).i32Mul().i32Add().set(d);
      f.forLoop(p, () => f.i32(0), () => f.get(k4), 4, () => {
        for (let q = 0; q < 4; q++) f.get(s).get(cs4).i32(q).i32Mul().i32Add().v128Load().set(v[q]);
        transpose4(f, v, u, t);
        for (let q = 0; q < 4; q++) f.get(d).get(t[q]).v128Store(q * NR * 4);
        f.get(s).i32(16).i32Add().set(s);
        f.get(d).i32(4 * NR * 4).i32Add().set(d);
      });
      f.forLoop(p, () => f.get(k4), () => f.get(k), 1, () => {
        for (let q = 0; q < 4; q++) f.get(d).get(s).get(cs4).i32(q).i32Mul().i32Add().f32Load().f32Store(q * 4);
        f.get(s).i32(4).i32Add().set(s);
        f.get(d).i32(NR * 4).i32Add().set(d);
      });
    });
    f.else_();
    f.get(cs).i32(1).i32Eq().get(jt).i32(NR).i32Mul().i32(NR).i32Add().get(n).i32LeS().i32And().if_();
    {
      f.get(src).get(jt).i32(NR * 4).i32Mul().i32Add().set(s);
      f.get(base).set(d);
      f.forLoop(p, () => f.i32(0), () => f.get(k), 1, () => {
        f.get(d).get(s).v128Load(0).v128Store(0);
        f.get(d).get(s).v128Load(16).v128Store(16);
        f.get(s).get(ps4).i32Add().set(s);
        f.get(d).i32(NR * 4).i32Add().set(d);
      });
    }
    f.else_();
    f.forLoop(c, () => f.i32(0), () => f.i32(NR), 1, () => {
      f.get(jt).i32(NR).i32Mul().get(c).i32Add().set(j);
      f.get(base).get(c).i32(4).i32Mul().i32Add().set(d);
      f.get(j).get(n).i32LtS().if_();
      f.get(src).get(j).get(cs).i32Mul().i32(4).i32Mul().i32Add().set(s);
      f.forLoop(p, () => f.i32(0), () => f.get(k), 1, () => {
        f.get(d).get(s).f32Load().f32Store();
        f.get(s).get(ps4).i32Add().set(s);
        f.get(d).i32(NR * 4).i32Add().set(d);
      });
      f.else_();
      f.forLoop(p, () => f.i32(0), () => f.get(k), 1, () => {
        f.get(d).f32(0).f32Store();
        f.get(d).i32(NR * 4).i32Add().set(d);
      });
      f.end();
    });
    f.end();
    f.end();
  });
  return f;
}

/**
 * gemm / gemm_fma: C tiles (it, jt) = packed A tile · packed B tile,
 * C row stride ldc floats and padded to whole tiles. k is processed in blocks of kc: the first block
 * overwrites C, later ones accumulate into it.
 */
export const GEMM = signature(['pa', 'pb', 'pc', 'k', 'ldc', 'kc', 'it0', 'it1', 'jt0', 'jt1']);
function compute(relaxed: boolean): Func {
  const { f, p: { pa, pb, pc, k, ldc, kc, it0, it1, jt0, jt1 } } = funcOf(GEMM);
  const k0 = f.local(I32), kb = f.local(I32), jt = f.local(I32), it = f.local(I32), a = f.local(I32), b = f.local(I32), c = f.local(I32), p = f.local(I32), ldc4 = f.local(I32), pbt = f.local(I32);
  const acc: number[] = [];
  for (let i = 0; i < MR * 2; i++) acc.push(f.local(V128));
  const b0 = f.local(V128), b1 = f.local(V128), av = f.local(V128);
  f.get(ldc).i32(4).i32Mul().set(ldc4);
  f.forLoop(k0, () => f.i32(0), () => f.get(k), 0, () => {
    // kb = min(kc, k - k0)
    f.get(kc).get(k).get(k0).i32Sub().get(kc).get(k).get(k0).i32Sub().i32LtS().select().set(kb);
    f.forLoop(jt, () => f.get(jt0), () => f.get(jt1), 1, () => {
      f.get(pb).get(jt).get(k).i32Mul().get(k0).i32Add().i32(NR * 4).i32Mul().i32Add().set(pbt);
      f.forLoop(it, () => f.get(it0), () => f.get(it1), 1, () => {
        f.get(pa).get(it).get(k).i32Mul().get(k0).i32Add().i32(MR * 4).i32Mul().i32Add().set(a);
        f.get(pbt).set(b);
        f.get(pc).get(it).i32(MR).i32Mul().get(ldc).i32Mul().get(jt).i32(NR).i32Mul().i32Add().i32(4).i32Mul().i32Add().set(c);
        f.get(k0).i32Eqz().if_();
        for (const x of acc) f.v128Zero().set(x);
        f.else_();
        for (let r = 0; r < MR; r++) {
          f.get(c).get(ldc4).i32(r).i32Mul().i32Add().v128Load(0).set(acc[2 * r]);
          f.get(c).get(ldc4).i32(r).i32Mul().i32Add().v128Load(16).set(acc[2 * r + 1]);
        }
        f.end();
        // One k step u of the micro-kernel, at constant offsets from a and b.
        const kstep = (u: number): void => {
          f.get(b).v128Load(u * NR * 4).set(b0);
          f.get(b).v128Load(u * NR * 4 + 16).set(b1);
          for (let r = 0; r < MR; r++) {
            f.get(a).v128Load32Splat(u * MR * 4 + r * 4).set(av);
            if (relaxed) {
              // One fused multiply-add per accumulator (relaxed SIMD): half the arithmetic instructions.
              f.get(av).get(b0).get(acc[2 * r]).f32x4RelaxedMadd().set(acc[2 * r]);
              f.get(av).get(b1).get(acc[2 * r + 1]).f32x4RelaxedMadd().set(acc[2 * r + 1]);
            } else {
              f.get(acc[2 * r]).get(av).get(b0).f32x4Mul().f32x4Add().set(acc[2 * r]);
              f.get(acc[2 * r + 1]).get(av).get(b1).f32x4Mul().f32x4Add().set(acc[2 * r + 1]);
            }
          }
        };
        // k unrolled by UNROLL (fewer pointer bumps and branches per FLOP), then the remainder one by one.
        f.get(kb).i32(UNROLL).i32DivS().tee(p).if_();
        f.loop();
        for (let u = 0; u < UNROLL; u++) kstep(u);
        f.get(a).i32(UNROLL * MR * 4).i32Add().set(a);
        f.get(b).i32(UNROLL * NR * 4).i32Add().set(b);
        f.get(p).i32(1).i32Sub().tee(p).brIf(0);
        f.end();
        f.end();
        f.get(kb).i32(UNROLL).i32RemS().tee(p).if_();
        f.loop();
        kstep(0);
        f.get(a).i32(MR * 4).i32Add().set(a);
        f.get(b).i32(NR * 4).i32Add().set(b);
        f.get(p).i32(1).i32Sub().tee(p).brIf(0);
        f.end();
        f.end();
        for (let r = 0; r < MR; r++) {
          f.get(c).get(ldc4).i32(r).i32Mul().i32Add().get(acc[2 * r]).v128Store(0);
          f.get(c).get(ldc4).i32(r).i32Mul().i32Add().get(acc[2 * r + 1]).v128Store(16);
        }
      });
    });
    f.get(k0).get(kc).i32Add().set(k0);
  });
  return f;
}

/**
 * `relaxed`: also 'gemm_fma', the micro-kernel with f32x4.relaxed_madd (the module then needs relaxed SIMD to
 * validate); 'gemm' stays the plain SIMD128 one, so a backend can pick per call.
 */
/** The GEMM kernels' signatures by export name (gemm_fma exists only in a relaxed module). */
export const GEMM_KERNELS = { packA: PACK_A, packAT: PACK_AT, packB: PACK_B, ...family(['gemm', 'gemm_fma'], GEMM) };

export function addGemmKernels(mb: ModuleBuilder, relaxed = false): void {
  mb.add('packA', packA());
  mb.add('packAT', packAT());
  mb.add('packB', packB());
  mb.add('gemm', compute(false));
  if (relaxed) mb.add('gemm_fma', compute(true));
}
