// Elementwise kernels over contiguous runs: f32x4 bodies with a scalar tail; the GEMM epilogue; a run sum.
// Broadcasting is planned by the caller: a binary kernel walks up to two outer dims itself (one call covers a
// broadcast of rank ≤ 3 after merging), higher ranks are called run by run, operands in vector/scalar roles.
import { family, funcOf, signature, unreachable } from './abi.js';
import { F32, Func, I32, V128, type ModuleBuilder } from './emit.js';

export type WasmBinary = 'add' | 'sub' | 'mul' | 'div' | 'eq' | 'ne' | 'gt';
export type WasmUnary = 'neg' | 'abs' | 'sqrt' | 'relu';
/** vv: both operands advance; vs: b is one value repeated; sv: a is one value repeated. */
export type RunMode = 'vv' | 'vs' | 'sv';

function vecOp(f: Func, op: WasmBinary, one: number): void {
  switch (op) {
    case 'add': f.f32x4Add(); break;
    case 'sub': f.f32x4Sub(); break;
    case 'mul': f.f32x4Mul(); break;
    case 'div': f.f32x4Div(); break;
    // Masks are all-ones lanes; AND with 1.0 turns them into 1/0.
    case 'eq': f.f32x4Eq().get(one).v128And(); break;
    case 'ne': f.f32x4Ne().get(one).v128And(); break;
    case 'gt': f.f32x4Gt().get(one).v128And(); break;
    default: unreachable(op, 'wasm binary op');
  }
}

function scalarOp(f: Func, op: WasmBinary): void {
  switch (op) {
    case 'add': f.f32Add(); break;
    case 'sub': f.f32Sub(); break;
    case 'mul': f.f32Mul(); break;
    case 'div': f.f32Div(); break;
    case 'eq': f.f32Eq().f32ConvertI32S(); break;
    case 'ne': f.f32Ne().f32ConvertI32S(); break;
    case 'gt': f.f32Gt().f32ConvertI32S(); break;
    default: unreachable(op, 'wasm binary op');
  }
}

/**
 * bin_<op>_<mode>: runs q0..q1 of n elements each; run q = i·d1 + j reads a
 * from pa + (i·a0 + j·a1) floats and b likewise, and writes po + q·n. One call covers a whole broadcast of
 * rank ≤ 3 (after merging dims), so a thread pool can split it by runs.
 */
export const BIN = signature(['pa', 'pb', 'po', 'n', 'd1', 'a0', 'a1', 'b0', 'b1', 'q0', 'q1']);
function binary(op: WasmBinary, mode: RunMode): Func {
  const { f, p: { pa, pb, po, n, d1, a0, a1, b0, b1, q0, q1 } } = funcOf(BIN);
  const a = f.local(I32), b = f.local(I32), out = f.local(I32), q = f.local(I32), ii = f.local(I32), jj = f.local(I32);
  const i = f.local(I32), n4 = f.local(I32), one = f.local(V128), sa = f.local(V128), sb = f.local(V128);
  const fa = f.local(F32), fb = f.local(F32);
  f.f32(1).f32x4Splat().set(one);
  f.get(n).i32(-4).i32And().set(n4);
  f.forLoop(q, () => f.get(q0), () => f.get(q1), 1, () => {
    f.get(q).get(d1).i32DivS().set(ii);
    f.get(q).get(d1).i32RemS().set(jj);
    f.get(pa).get(ii).get(a0).i32Mul().get(jj).get(a1).i32Mul().i32Add().i32(4).i32Mul().i32Add().set(a);
    f.get(pb).get(ii).get(b0).i32Mul().get(jj).get(b1).i32Mul().i32Add().i32(4).i32Mul().i32Add().set(b);
    f.get(po).get(q).get(n).i32Mul().i32(4).i32Mul().i32Add().set(out);
    if (mode === 'sv') f.get(a).v128Load32Splat().set(sa).get(a).f32Load().set(fa);
    if (mode === 'vs') f.get(b).v128Load32Splat().set(sb).get(b).f32Load().set(fb);
    const va = (): void => void (mode === 'sv' ? f.get(sa) : f.get(a).get(i).i32(4).i32Mul().i32Add().v128Load());
    const vb = (): void => void (mode === 'vs' ? f.get(sb) : f.get(b).get(i).i32(4).i32Mul().i32Add().v128Load());
    f.forLoop(i, () => f.i32(0), () => f.get(n4), 4, () => {
      f.get(out).get(i).i32(4).i32Mul().i32Add();
      va();
      vb();
      vecOp(f, op, one);
      f.v128Store();
    });
    f.forLoop(i, () => f.get(n4), () => f.get(n), 1, () => {
      f.get(out).get(i).i32(4).i32Mul().i32Add();
      if (mode === 'sv') f.get(fa);
      else f.get(a).get(i).i32(4).i32Mul().i32Add().f32Load();
      if (mode === 'vs') f.get(fb);
      else f.get(b).get(i).i32(4).i32Mul().i32Add().f32Load();
      scalarOp(f, op);
      f.f32Store();
    });
  });
  return f;
}

/**
 * ReLU of the f32 on the stack, through scratch local t: t < 0 ? 0 : t, so NaN and -0 pass through as in
 * torch.relu (the SIMD bodies get the same from pmax(x, 0) = x < 0 ? 0 : x; pmax(0, x) would turn NaN into 0).
 */
function reluScalar(f: Func, t: number): void {
  f.set(t).f32(0).get(t).get(t).f32(0).f32Lt().select();
}

/** un_<op>: out[i] = op(x[i]) for i in 0..n; threads split n. */
export const UN = signature(['x', 'out', 'n']);
function unary(op: WasmUnary): Func {
  const { f, p: { x, out, n } } = funcOf(UN);
  const i = f.local(I32), n4 = f.local(I32), t = f.local(F32);
  f.get(n).i32(-4).i32And().set(n4);
  f.forLoop(i, () => f.i32(0), () => f.get(n4), 4, () => {
    f.get(out).get(i).i32(4).i32Mul().i32Add();
    f.get(x).get(i).i32(4).i32Mul().i32Add().v128Load();
    switch (op) {
      case 'neg': f.f32x4Neg(); break;
      case 'abs': f.f32x4Abs(); break;
      case 'sqrt': f.f32x4Sqrt(); break;
      case 'relu': f.v128Zero().f32x4Pmax(); break; // pmax(x, 0) = x < 0 ? 0 : x: NaN and -0 pass through, as torch.relu
      default: unreachable(op, 'wasm unary op');
    }
    f.v128Store();
  });
  f.forLoop(i, () => f.get(n4), () => f.get(n), 1, () => {
    f.get(out).get(i).i32(4).i32Mul().i32Add();
    f.get(x).get(i).i32(4).i32Mul().i32Add().f32Load();
    switch (op) {
      case 'neg': f.f32Neg(); break;
      case 'abs': f.f32Abs(); break;
      case 'sqrt': f.f32Sqrt(); break;
      case 'relu': reluScalar(f, t); break;
      default: unreachable(op, 'wasm unary op');
    }
    f.f32Store();
  });
  return f;
}

/** sumrun → Σ x[0..n): four f32x4 partial sums (independent add chains), then the lanes and a tail. */
export const SUMRUN = signature(['x', 'n'], { result: F32 });
function sumRun(): Func {
  const { f, p: { x, n } } = funcOf(SUMRUN);
  const i = f.local(I32), n16 = f.local(I32), t = f.local(F32);
  const acc = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  f.get(n).i32(-16).i32And().set(n16);
  f.forLoop(i, () => f.i32(0), () => f.get(n16), 16, () => {
    for (let u = 0; u < 4; u++) f.get(acc[u]).get(x).get(i).i32(4).i32Mul().i32Add().v128Load(u * 16).f32x4Add().set(acc[u]);
  });
  f.get(acc[0]).get(acc[1]).f32x4Add().get(acc[2]).get(acc[3]).f32x4Add().f32x4Add().set(acc[0]);
  for (let l = 0; l < 4; l++) {
    f.get(t).get(acc[0]).f32x4ExtractLane(l).f32Add().set(t);
  }
  f.forLoop(i, () => f.get(n16), () => f.get(n), 1, () => void f.get(t).get(x).get(i).i32(4).i32Mul().i32Add().f32Load().f32Add().set(t));
  f.get(t);
  return f;
}

/**
 * epi_<res><relu> (res, relu: 0 or 1, e.g. epi_11): rows r0..r1 of a [rows, cols] matrix at pc,
 * y = act(c·scale[r] + shift[r] (+ res[r, j])): a GEMM's fused epilogue (conv bias or eval-mode batch norm folded
 * to a per-channel scale and shift, the residual add and ReLU in one pass). c[r, j] is read at src + (r·lds + j)
 * floats: in place when src = pc and lds = cols, or straight out of a GEMM's padded tile grid (row stride lds),
 * which saves a copy-out pass. epit_<res><relu> reads it transposed, c[r, j] at src + (j·lds + r) floats: the grid
 * of a GEMM computed as Cᵀ (WasmGemm's swapped orientation). Both apply the same f32 operations in the same order,
 * so the results are bit for bit those of a copy-out followed by the in-place pass.
 */
export const EPI = signature(['pc', 'cols', 'r0', 'r1', 'scale', 'shift', 'res', 'src', 'lds']);
function epilogue(residual: boolean, relu: boolean, transposed: boolean): Func {
  const { f, p: { pc, cols, r0, r1, scale, shift, res, src, lds } } = funcOf(EPI);
  const r = f.local(I32), i = f.local(I32), n4 = f.local(I32), y = f.local(I32), q = f.local(I32), c = f.local(I32), step = f.local(I32);
  const sv = f.local(V128), bv = f.local(V128), ss = f.local(F32), bs = f.local(F32), t = f.local(F32);
  // Transposed sources are read one float at a time (a column of the grid): no SIMD part.
  if (transposed) f.i32(0).set(n4);
  else f.get(cols).i32(-4).i32And().set(n4);
  // Bytes between consecutive source elements of a row.
  if (transposed) f.get(lds).i32(4).i32Mul().set(step);
  else f.i32(4).set(step);
  f.forLoop(r, () => f.get(r0), () => f.get(r1), 1, () => {
    f.get(scale).get(r).i32(4).i32Mul().i32Add().tee(i).v128Load32Splat().set(sv);
    f.get(i).f32Load().set(ss);
    f.get(shift).get(r).i32(4).i32Mul().i32Add().tee(i).v128Load32Splat().set(bv);
    f.get(i).f32Load().set(bs);
    f.get(pc).get(r).get(cols).i32Mul().i32(4).i32Mul().i32Add().set(y);
    f.get(res).get(r).get(cols).i32Mul().i32(4).i32Mul().i32Add().set(q);
    // Row r's first source element.
    if (transposed) f.get(src).get(r).i32(4).i32Mul().i32Add().set(c);
    else f.get(src).get(r).get(lds).i32Mul().i32(4).i32Mul().i32Add().set(c);
    if (!transposed)
      f.forLoop(i, () => f.i32(0), () => f.get(n4), 4, () => {
        f.get(y).get(i).i32(4).i32Mul().i32Add();
        f.get(c).get(i).i32(4).i32Mul().i32Add().v128Load().get(sv).f32x4Mul().get(bv).f32x4Add();
        if (residual) f.get(q).get(i).i32(4).i32Mul().i32Add().v128Load().f32x4Add();
        if (relu) f.v128Zero().f32x4Pmax(); // pmax(v, 0): NaN passes, as the unary relu
        f.v128Store();
      });
    f.forLoop(i, () => f.get(n4), () => f.get(cols), 1, () => {
      f.get(y).get(i).i32(4).i32Mul().i32Add();
      f.get(c).get(i).get(step).i32Mul().i32Add().f32Load().get(ss).f32Mul().get(bs).f32Add();
      if (residual) f.get(q).get(i).i32(4).i32Mul().i32Add().f32Load().f32Add();
      if (relu) reluScalar(f, t);
      f.f32Store();
    });
  });
  return f;
}

export const BINARY_OPS: readonly WasmBinary[] = ['add', 'sub', 'mul', 'div', 'eq', 'ne', 'gt'];
export const UNARY_OPS: readonly WasmUnary[] = ['neg', 'abs', 'sqrt', 'relu'];
export const RUN_MODES: readonly RunMode[] = ['vv', 'vs', 'sv'];
const FLAGS = [0, 1] as const;

export type BinaryKernel = `bin_${WasmBinary}_${RunMode}`;
export type UnaryKernel = `un_${WasmUnary}`;
/** epi_<residual><relu>, epit_<residual><relu> (transposed source). */
export type EpilogueKernel = `epi${'' | 't'}_${0 | 1}${0 | 1}`;
const binaryNames = BINARY_OPS.flatMap((op) => RUN_MODES.map((mode): BinaryKernel => `bin_${op}_${mode}`));
const unaryNames = UNARY_OPS.map((op): UnaryKernel => `un_${op}`);
const epilogueNames = (['', 't'] as const).flatMap((tr) => FLAGS.flatMap((res) => FLAGS.map((relu): EpilogueKernel => `epi${tr}_${res}${relu}`)));

/** The elementwise kernels' signatures by export name. */
export const ELEMENTWISE_KERNELS = { ...family(binaryNames, BIN), ...family(unaryNames, UN), sumrun: SUMRUN, ...family(epilogueNames, EPI) };

export function addElementwiseKernels(mb: ModuleBuilder): void {
  for (const op of BINARY_OPS) for (const mode of RUN_MODES) mb.add(`bin_${op}_${mode}`, binary(op, mode));
  for (const op of UNARY_OPS) mb.add(`un_${op}`, unary(op));
  mb.add('sumrun', sumRun());
  for (const tr of [false, true]) for (const res of FLAGS) for (const relu of FLAGS) mb.add(`epi${tr ? 't' : ''}_${res}${relu}`, epilogue(res === 1, relu === 1, tr));
}
