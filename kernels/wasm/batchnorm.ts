// Training-mode batch-norm kernels over x [n, c, hw]: each walks one channel's n runs of hw floats (f32x4 with
// a scalar tail) while they are in cache; threads split the channels. Per-channel scalars come from the caller.
import { funcOf, signature } from './abi.js';
import { F32, Func, I32, V128, type ModuleBuilder } from './emit.js';

/** One walk over a channel's values: pre(ch), the vector and scalar bodies per run, post(ch). */
interface Pass {
  pre: (ch: number) => void;
  vec: (byteOff: () => void) => void;
  scalar: (byteOff: () => void) => void;
  post: (ch: number) => void;
}

/**
 * Emits `for ch in c0..c1 { for each pass { pre(ch); for i in 0..n { run at (i·c + ch)·hw } post(ch) } }`: several
 * passes walk a channel back to back, so the later ones find its values in cache.
 */
function channelRuns(f: Func, p: { n: number; c: number; hw: number; c0: number; c1: number }, off: number, ...passes: Pass[]): void {
  const ch = f.local(I32), i = f.local(I32), j = f.local(I32), hw4 = f.local(I32), step = f.local(I32);
  f.get(p.hw).i32(-4).i32And().set(hw4);
  // off = (i·c + ch)·hw·4 bytes, stepped by c·hw·4 per run (small maps: ResNet's 1×1 and 2×2 at 32² inputs
  // have a run per value or four, where per-run work is most of the cost).
  f.get(p.c).get(p.hw).i32Mul().i32(4).i32Mul().set(step);
  f.forLoop(ch, () => f.get(p.c0), () => f.get(p.c1), 1, () => {
    for (const { pre, vec, scalar, post } of passes) {
      pre(ch);
      f.get(ch).get(p.hw).i32Mul().i32(4).i32Mul().set(off);
      f.forLoop(i, () => f.i32(0), () => f.get(p.n), 1, () => {
        f.forLoop(j, () => f.i32(0), () => f.get(hw4), 4, () => vec(() => void f.get(off).get(j).i32(4).i32Mul().i32Add()));
        f.forLoop(j, () => f.get(hw4), () => f.get(p.hw), 1, () => scalar(() => void f.get(off).get(j).i32(4).i32Mul().i32Add()));
        f.get(off).get(step).i32Add().set(off);
      });
      post(ch);
    }
  });
}

/** Sums of all four lanes of v plus s. */
function hsum(f: Func, v: number, s: number): void {
  f.get(s);
  for (let l = 0; l < 4; l++) f.get(v).f32x4ExtractLane(l).f32Add();
}

/**
 * bnstats: out[2ch] = mean, out[2ch+1] = biased variance, two passes (mean, then
 * squared deviations: no cancellation).
 */
export const BN_STATS = signature(['x', 'out', 'n', 'c', 'hw', 'c0', 'c1']);
function bnStats(): Func {
  const { f, p: P } = funcOf(BN_STATS);
  const { x, out } = P;
  const off = f.local(I32), acc = f.local(V128), s = f.local(F32), mu = f.local(F32), muv = f.local(V128), d = f.local(V128), t = f.local(F32), cnt = f.local(F32);
  f.get(P.n).get(P.hw).i32Mul().f32ConvertI32S().set(cnt);
  const ptr = (byteOff: () => void): void => {
    f.get(x);
    byteOff();
    f.i32Add();
  };
  // Per channel: the sum, then the mean into out[2ch]; squared deviations from it, the variance into out[2ch + 1].
  const sum: Pass = {
    pre: () => {
      f.v128Zero().set(acc);
      f.f32(0).set(s);
    },
    vec: (o) => {
      ptr(o);
      f.v128Load().get(acc).f32x4Add().set(acc);
    },
    scalar: (o) => {
      ptr(o);
      f.f32Load().get(s).f32Add().set(s);
    },
    post: (c) => {
      f.get(out).get(c).i32(8).i32Mul().i32Add();
      hsum(f, acc, s);
      f.get(cnt).f32Div().f32Store(0);
    },
  };
  const squares: Pass = {
    pre: (c) => {
      f.get(out).get(c).i32(8).i32Mul().i32Add().f32Load().tee(mu).f32x4Splat().set(muv);
      f.v128Zero().set(acc);
      f.f32(0).set(s);
    },
    vec: (o) => {
      ptr(o);
      f.v128Load().get(muv).f32x4Sub().tee(d).get(d).f32x4Mul().get(acc).f32x4Add().set(acc);
    },
    scalar: (o) => {
      ptr(o);
      f.f32Load().get(mu).f32Sub().tee(t).get(t).f32Mul().get(s).f32Add().set(s);
    },
    post: (c) => {
      f.get(out).get(c).i32(8).i32Mul().i32Add();
      hsum(f, acc, s);
      f.get(cnt).f32Div().f32Store(4);
    },
  };
  channelRuns(f, P, off, sum, squares);
  return f;
}

/** chaffine: y = x·scale[ch] + shift[ch]. */
export const CH_AFFINE = signature(['x', 'y', 'n', 'c', 'hw', 'c0', 'c1', 'scale', 'shift']);
function chAffine(): Func {
  const { f, p: P } = funcOf(CH_AFFINE);
  const { x, y, scale, shift } = P;
  const off = f.local(I32), sv = f.local(V128), bv = f.local(V128), ss = f.local(F32), bs = f.local(F32), q = f.local(I32);
  channelRuns(f, P, off, {
    pre: (c) => {
      f.get(scale).get(c).i32(4).i32Mul().i32Add().tee(q).f32Load().tee(ss).f32x4Splat().set(sv);
      f.get(shift).get(c).i32(4).i32Mul().i32Add().tee(q).f32Load().tee(bs).f32x4Splat().set(bv);
    },
    vec: (o) => {
      f.get(y);
      o();
      f.i32Add();
      f.get(x);
      o();
      f.i32Add().v128Load().get(sv).f32x4Mul().get(bv).f32x4Add().v128Store();
    },
    scalar: (o) => {
      f.get(y);
      o();
      f.i32Add();
      f.get(x);
      o();
      f.i32Add().f32Load().get(ss).f32Mul().get(bs).f32Add().f32Store();
    },
    post: () => undefined,
  });
  return f;
}

/** bnbwdstats: out[2ch] = Σdy, out[2ch+1] = Σdy·(x − mean[ch]). */
export const BN_BWD_STATS = signature(['dy', 'x', 'n', 'c', 'hw', 'c0', 'c1', 'mean', 'out']);
function bnBwdStats(): Func {
  const { f, p: P } = funcOf(BN_BWD_STATS);
  const { dy, x, mean, out } = P;
  const off = f.local(I32), a1 = f.local(V128), a2 = f.local(V128), s1 = f.local(F32), s2 = f.local(F32), mu = f.local(F32), muv = f.local(V128), g = f.local(V128), gs = f.local(F32);
  channelRuns(f, P, off, {
    pre: (c) => {
      f.get(mean).get(c).i32(4).i32Mul().i32Add().f32Load().tee(mu).f32x4Splat().set(muv);
      f.v128Zero().tee(a1).set(a2);
      f.f32(0).tee(s1).set(s2);
    },
    vec: (o) => {
      f.get(dy);
      o();
      f.i32Add().v128Load().tee(g).get(a1).f32x4Add().set(a1);
      f.get(x);
      o();
      f.i32Add().v128Load().get(muv).f32x4Sub().get(g).f32x4Mul().get(a2).f32x4Add().set(a2);
    },
    scalar: (o) => {
      f.get(dy);
      o();
      f.i32Add().f32Load().tee(gs).get(s1).f32Add().set(s1);
      f.get(x);
      o();
      f.i32Add().f32Load().get(mu).f32Sub().get(gs).f32Mul().get(s2).f32Add().set(s2);
    },
    post: (c) => {
      f.get(out).get(c).i32(8).i32Mul().i32Add();
      hsum(f, a1, s1);
      f.f32Store(0);
      f.get(out).get(c).i32(8).i32Mul().i32Add();
      hsum(f, a2, s2);
      f.f32Store(4);
    },
  });
  return f;
}

/** bnbwdapply: dx = a·dy + k·x + m with coef[3ch..3ch+2] = a, k, m. */
export const BN_BWD_APPLY = signature(['dy', 'x', 'dx', 'n', 'c', 'hw', 'c0', 'c1', 'coef']);
function bnBwdApply(): Func {
  const { f, p: Q } = funcOf(BN_BWD_APPLY);
  const { dy, x, dx, coef } = Q;
  const off = f.local(I32), av = f.local(V128), kv = f.local(V128), mv = f.local(V128), as = f.local(F32), ks = f.local(F32), ms = f.local(F32), q = f.local(I32);
  channelRuns(f, Q, off, {
    pre: (c) => {
      f.get(coef).get(c).i32(12).i32Mul().i32Add().set(q);
      f.get(q).f32Load(0).tee(as).f32x4Splat().set(av);
      f.get(q).f32Load(4).tee(ks).f32x4Splat().set(kv);
      f.get(q).f32Load(8).tee(ms).f32x4Splat().set(mv);
    },
    vec: (o) => {
      f.get(dx);
      o();
      f.i32Add();
      f.get(dy);
      o();
      f.i32Add().v128Load().get(av).f32x4Mul();
      f.get(x);
      o();
      f.i32Add().v128Load().get(kv).f32x4Mul().f32x4Add().get(mv).f32x4Add().v128Store();
    },
    scalar: (o) => {
      f.get(dx);
      o();
      f.i32Add();
      f.get(dy);
      o();
      f.i32Add().f32Load().get(as).f32Mul();
      f.get(x);
      o();
      f.i32Add().f32Load().get(ks).f32Mul().f32Add().get(ms).f32Add().f32Store();
    },
    post: () => undefined,
  });
  return f;
}

/**
 * The same four kernels for hw = 1 (x [n, c]: ResNet's 1×1 maps at small inputs, BatchNorm1d), where a channel's
 * values are c apart and the kernels above pay a run's overhead per value (and, at power-of-two c, a cache set
 * per value). Here each row i of x is swept contiguously, four neighbouring channels per f32x4 (c0, c1 and c
 * multiples of 4), sums accumulating in the per-channel output in row order from 0, the order of the scalar
 * walk, so results are bit-identical. Per-channel arrays are planar: stats out[ch] (mean or Σdy) and out[c + ch]
 * (variance or Σdy·(x − mean)); coefficients a, k, m at coef[ch], coef[c + ch], coef[2c + ch].
 */
function rows(f: Func, p: { n: number; c: number; c0: number; c1: number }, ch: number, off: number, body: () => void): void {
  const i = f.local(I32);
  f.forLoop(i, () => f.i32(0), () => f.get(p.n), 1, () => {
    f.forLoop(ch, () => f.get(p.c0), () => f.get(p.c1), 4, () => {
      f.get(i).get(p.c).i32Mul().get(ch).i32Add().i32(4).i32Mul().set(off);
      body();
    });
  });
}

/** For ch in c0..c1 step 4: body(). */
function chans(f: Func, p: { c0: number; c1: number }, ch: number, body: () => void): void {
  f.forLoop(ch, () => f.get(p.c0), () => f.get(p.c1), 4, body);
}

/** Pushes the byte address of channel ch's lane in plane `plane` of a planar [k·c] array. */
function planar(f: Func, arr: number, c: number, ch: number, plane: number): void {
  f.get(arr);
  if (plane) f.get(c).i32(plane).i32Mul().get(ch).i32Add();
  else f.get(ch);
  f.i32(4).i32Mul().i32Add();
}

function bnStatsC(): Func {
  const { f, p: P } = funcOf(BN_STATS);
  const { x, out, c } = P;
  const ch = f.local(I32), off = f.local(I32), q = f.local(I32), d = f.local(V128), cnt = f.local(V128);
  f.get(P.n).f32ConvertI32S().f32x4Splat().set(cnt);
  chans(f, P, ch, () => {
    planar(f, out, c, ch, 0);
    f.v128Zero().v128Store();
    planar(f, out, c, ch, 1);
    f.v128Zero().v128Store();
  });
  // Σx into out[ch], then the mean.
  rows(f, P, ch, off, () => {
    planar(f, out, c, ch, 0);
    f.tee(q).get(x).get(off).i32Add().v128Load().get(q).v128Load().f32x4Add().v128Store();
  });
  chans(f, P, ch, () => {
    planar(f, out, c, ch, 0);
    f.tee(q).get(q).v128Load().get(cnt).f32x4Div().v128Store();
  });
  // Σ(x − mean)² into out[c + ch], then the variance.
  rows(f, P, ch, off, () => {
    planar(f, out, c, ch, 1);
    f.tee(q);
    f.get(x).get(off).i32Add().v128Load();
    planar(f, out, c, ch, 0);
    f.v128Load().f32x4Sub().tee(d).get(d).f32x4Mul().get(q).v128Load().f32x4Add().v128Store();
  });
  chans(f, P, ch, () => {
    planar(f, out, c, ch, 1);
    f.tee(q).get(q).v128Load().get(cnt).f32x4Div().v128Store();
  });
  return f;
}

function chAffineC(): Func {
  const { f, p: P } = funcOf(CH_AFFINE);
  const { x, y, scale, shift } = P;
  const ch = f.local(I32), off = f.local(I32);
  rows(f, P, ch, off, () => {
    f.get(y).get(off).i32Add();
    f.get(x).get(off).i32Add().v128Load().get(scale).get(ch).i32(4).i32Mul().i32Add().v128Load().f32x4Mul();
    f.get(shift).get(ch).i32(4).i32Mul().i32Add().v128Load().f32x4Add().v128Store();
  });
  return f;
}

function bnBwdStatsC(): Func {
  const { f, p: P } = funcOf(BN_BWD_STATS);
  const { dy, x, mean, out, c } = P;
  const ch = f.local(I32), off = f.local(I32), q = f.local(I32), g = f.local(V128);
  chans(f, P, ch, () => {
    planar(f, out, c, ch, 0);
    f.v128Zero().v128Store();
    planar(f, out, c, ch, 1);
    f.v128Zero().v128Store();
  });
  rows(f, P, ch, off, () => {
    planar(f, out, c, ch, 0);
    f.tee(q).get(dy).get(off).i32Add().v128Load().tee(g).get(q).v128Load().f32x4Add().v128Store();
    planar(f, out, c, ch, 1);
    f.tee(q).get(x).get(off).i32Add().v128Load().get(mean).get(ch).i32(4).i32Mul().i32Add().v128Load().f32x4Sub().get(g).f32x4Mul();
    f.get(q).v128Load().f32x4Add().v128Store();
  });
  return f;
}

function bnBwdApplyC(): Func {
  const { f, p: Q } = funcOf(BN_BWD_APPLY);
  const { dy, x, dx, coef, c } = Q;
  const ch = f.local(I32), off = f.local(I32);
  rows(f, Q, ch, off, () => {
    f.get(dx).get(off).i32Add();
    f.get(dy).get(off).i32Add().v128Load();
    planar(f, coef, c, ch, 0);
    f.v128Load().f32x4Mul();
    f.get(x).get(off).i32Add().v128Load();
    planar(f, coef, c, ch, 1);
    f.v128Load().f32x4Mul().f32x4Add();
    planar(f, coef, c, ch, 2);
    f.v128Load().f32x4Add().v128Store();
  });
  return f;
}

export const BATCHNORM_KERNELS = {
  bnstats: BN_STATS, chaffine: CH_AFFINE, bnbwdstats: BN_BWD_STATS, bnbwdapply: BN_BWD_APPLY,
  bnstats_c: BN_STATS, chaffine_c: CH_AFFINE, bnbwdstats_c: BN_BWD_STATS, bnbwdapply_c: BN_BWD_APPLY,
};
export type BatchNormKernel = keyof typeof BATCHNORM_KERNELS;

export function addBatchNormKernels(mb: ModuleBuilder): void {
  mb.add('bnstats', bnStats());
  mb.add('chaffine', chAffine());
  mb.add('bnbwdstats', bnBwdStats());
  mb.add('bnbwdapply', bnBwdApply());
  mb.add('bnstats_c', bnStatsC());
  mb.add('chaffine_c', chAffineC());
  mb.add('bnbwdstats_c', bnBwdStatsC());
  mb.add('bnbwdapply_c', bnBwdApplyC());
}
