// gpu.js kernel sources for batched GEMM (optional transposes, batch broadcasting b % batchA): a one-output kernel
// for tiny products, a register-tiled host kernel (cpu/webasm) and a vec4-packed pipeline (GL).
import type { MatmulGeometry } from '../../src/backend.js';
import { flt, int, reluExpr, type KernelSpec } from './common.js';

/** One output per thread; the k loop has a constant bound. Small products and the 2^24 tiling path. */
export function matmulSource(g: MatmulGeometry): KernelSpec {
  const { m, k, n, transA, transB } = g;
  // Element (i, p) of op(A) and (p, j) of op(B) within their matrices.
  const aAt = (p: string): string => (transA ? `${p} * ${flt(m)} + i` : `i * ${flt(k)} + ${p}`);
  const bAt = (p: string): string => (transB ? `j * ${flt(k)} + ${p}` : `${p} * ${flt(n)} + j`);
  const lines = [
    `const bt = Math.floor(this.thread.x / ${flt(m * n)});`,
    `const rem = this.thread.x - bt * ${flt(m * n)};`,
    `const i = Math.floor(rem / ${flt(n)});`,
    `const j = rem - i * ${flt(n)};`,
    g.batchA === 1 ? 'const ao = 0.0;' : `const ao = (bt - Math.floor(bt / ${flt(g.batchA)}) * ${flt(g.batchA)}) * ${flt(m * k)};`,
    g.batchB === 1 ? 'const bo = 0.0;' : `const bo = (bt - Math.floor(bt / ${flt(g.batchB)}) * ${flt(g.batchB)}) * ${flt(k * n)};`,
    'let acc = 0.0;',
    `for (let p = 0; p < ${int(k)}; p++) {`,
    `  acc += a[ao + ${aAt('p')}] * b[bo + ${bAt('p')}];`,
    '}',
    'return acc;',
  ];
  return { op: 'matmul', source: `function(a, b) {\n${lines.join('\n')}\n}`, output: g.batch * m * n, maxLoop: k };
}

/** A GEMM pipeline kernel: 2-D output (gpu.js order: [x, y]), often Array(4) results and integer constants. */
export type GemmSpec = KernelSpec<number[]>;

/** Outputs per thread of the tiled kernels. */
export const GEMM_TILE = 4;

/** The same product as Cᵀ = op(B)ᵀ·op(A)ᵀ: the host kernel then puts M on the SIMD lanes (arguments swap). */
export function transposedGeometry(g: MatmulGeometry): MatmulGeometry {
  return { batch: g.batch, batchA: g.batchB, batchB: g.batchA, m: g.n, k: g.k, n: g.m, transA: !g.transB, transB: !g.transA };
}

/** k-loop unroll of the host kernel (bounded so generated modules stay small). */
export function hostUnroll(k: number): number {
  return k >= 64 ? 8 : k >= 8 ? 4 : 1;
}

/**
 * Register-tiled GEMM for cpu/webasm. Thread (x = j, y = batch·⌈m/4⌉ + row block) returns rows 4·ib..4·ib+3 of
 * column j, so each B load feeds 4 multiply-adds; rows past m repeat row m-1 and are dropped on unpacking.
 * webasm vectorises over 4 adjacent x (lanes = columns): B loads become 4-lane gathers, A loads are uniform
 * scalars; the k loop is unrolled (×8 at ResNet sizes, measured best on webasm). Operands are read 2-D
 * (gpu.js input(flat, [w, h])): A as [cols, rows] of its stored layout, likewise B; index maths stays integer.
 * Output [n, batch·⌈m/4⌉] of quads; `unpackHostQuads` turns it into C.
 */
export function gemmHostSource(g: MatmulGeometry, unroll = hostUnroll(g.k)): GemmSpec {
  const { m, k, n, transA, transB } = g;
  const mb = Math.ceil(m / GEMM_TILE);
  const rows = Array.from({ length: GEMM_TILE }, (_, r) => r);
  // op(A)(i, p) and op(B)(p, j) as 2-D reads [row][col] of the stored (possibly transposed) matrices.
  const aAt = (r: number, p: string): string => (transA ? `a[ao + ${p}][i${r}]` : `a[ra${r}][${p}]`);
  const bAt = (p: string): string => (transB ? `b[cb][${p}]` : `b[bo + ${p}][j]`);
  const step = (p: string): string[] => [`const bv${p} = ${bAt(p)};`, ...rows.map((r) => `s${r} += ${aAt(r, p)} * bv${p};`)];
  const batched = g.batch > 1;
  const lines = ['const j = this.thread.x;'];
  if (batched) {
    lines.push('const y = this.thread.y;', 'const bt = Math.floor(y / this.constants.MB);', 'const ib = (y - bt * this.constants.MB) * 4;');
    lines.push(g.batchA === 1 ? 'const ao = 0;' : `const ao = (bt - Math.floor(bt / this.constants.BA) * this.constants.BA) * ${transA ? 'this.constants.K' : 'this.constants.M'};`);
    lines.push(g.batchB === 1 ? 'const bo = 0;' : `const bo = (bt - Math.floor(bt / this.constants.BB) * this.constants.BB) * ${transB ? 'this.constants.N' : 'this.constants.K'};`);
  } else {
    lines.push('const ib = this.thread.y * 4;', 'const ao = 0;', 'const bo = 0;');
  }
  lines.push(...rows.map((r) => `const i${r} = Math.min(ib + ${r}, this.constants.M1);`));
  if (!transA) lines.push(...rows.map((r) => `const ra${r} = ao + i${r};`));
  if (transB) lines.push('const cb = bo + j;');
  lines.push(...rows.map((r) => `let s${r} = 0.0;`));
  const u = Math.max(1, Math.min(unroll, k));
  const kq = Math.floor(k / u);
  if (kq > 0) {
    lines.push(`for (let q = 0; q < this.constants.KQ; q++) {`, `const p0 = q * ${u};`);
    for (let t = 1; t < u; t++) lines.push(`const p${t} = p0 + ${t};`);
    for (let t = 0; t < u; t++) lines.push(...step(`p${t}`));
    lines.push('}');
  }
  for (let p = kq * u; p < k; p++) lines.push(`const t${p} = ${p};`, ...step(`t${p}`));
  lines.push(`return [${rows.map((r) => `s${r}`).join(', ')}];`);
  return {
    op: 'matmul.host4',
    source: `function(a, b) {\n${lines.join('\n')}\n}`,
    output: [n, g.batch * mb],
    maxLoop: kq,
    vec4: true,
    constants: { M: m, K: k, N: n, M1: m - 1, MB: mb, KQ: kq, BA: g.batchA, BB: g.batchB },
  };
}

/** Stored 2-D shapes [w, h] (gpu.js input order) the host kernel reads A and B as. */
export function hostOperandDims(g: MatmulGeometry): { a: [number, number]; b: [number, number] } {
  const { m, k, n } = g;
  return {
    a: g.transA ? [m, g.batchA * k] : [k, g.batchA * m],
    b: g.transB ? [k, g.batchB * n] : [n, g.batchB * k],
  };
}

/**
 * Host unpacking of gemmHostSource's quads (flat, 4 floats per thread, thread t = y·n + x) into row-major C
 * [batch, m, n]; with `transposed` the kernel computed Cᵀ (geometry from transposedGeometry) and is written back
 * transposed. `quads` is the kernel geometry's flat output.
 */
export function unpackHostQuads(quads: Float32Array, g: MatmulGeometry, transposed: boolean): Float32Array {
  const kg = transposed ? transposedGeometry(g) : g;
  const { m, n } = kg;
  const mb = Math.ceil(m / GEMM_TILE);
  const C = new Float32Array(g.batch * g.m * g.n);
  for (let bt = 0; bt < g.batch; bt++)
    for (let ib = 0; ib < mb; ib++) {
      const rowsHere = Math.min(GEMM_TILE, m - ib * GEMM_TILE);
      const t0 = (bt * mb + ib) * n * 4;
      for (let r = 0; r < rowsHere; r++) {
        const i = ib * GEMM_TILE + r;
        if (!transposed) {
          const o = (bt * m + i) * n;
          for (let j = 0; j < n; j++) C[o + j] = quads[t0 + j * 4 + r];
        } else {
          // Kernel row i of Cᵀ is column i of C.
          const o = bt * m * n + i;
          for (let j = 0; j < n; j++) C[o + j * m] = quads[t0 + j * 4 + r];
        }
      }
    }
  return C;
}

// ---- GL: operands packed 4 floats per texel on the device, 4 outputs per thread, results resident ----

/** Packed sizes of the GL pipeline: k and n rounded up to whole texels. */
export function glPacked(g: MatmulGeometry): { kq: number; kp: number; nq: number } {
  const kq = Math.ceil(g.k / 4);
  return { kq, kp: kq * 4, nq: Math.ceil(g.n / 4) };
}

/**
 * A packed along k: texel (x = pq, y = batchA·m + i) = op(A)(i, 4pq..4pq+3), zero past k (the zeros meet B's zero
 * rows, so the padding adds exact zeros). Reads the scalar texture by flat index (< 2^24, checked by the caller).
 */
export function glPackASource(g: MatmulGeometry): GemmSpec {
  const { m, k } = g;
  const { kq } = glPacked(g);
  const at = (c: number): string => (g.transA ? `ao + (p + ${flt(c)}) * ${flt(m)} + i` : `ao + i * ${flt(k)} + p + ${flt(c)}`);
  const lines = [
    'const p = this.thread.x * 4.0;',
    g.batchA === 1 ? 'const i = this.thread.y;' : `const ba = Math.floor(this.thread.y / ${flt(m)});`,
    ...(g.batchA === 1 ? ['const ao = 0.0;'] : [`const i = this.thread.y - ba * ${flt(m)};`, `const ao = ba * ${flt(m * k)};`]),
    `const x0 = a[${at(0)}];`,
    'let x1 = 0.0;',
    'let x2 = 0.0;',
    'let x3 = 0.0;',
    ...[1, 2, 3].map((c) => `if (p + ${flt(c)} < ${flt(k)}) { x${c} = a[${at(c)}]; }`),
    'return [x0, x1, x2, x3];',
  ];
  return { op: 'matmul.packA', source: `function(a) {\n${lines.join('\n')}\n}`, output: [kq, g.batchA * m], maxLoop: 0, vec4: true };
}

/**
 * B packed along n: texel (x = jq, y = batchB·kp + p) = op(B)(p, 4jq..4jq+3), zero past n and for rows p ≥ k
 * (k padded to kp = 4·⌈k/4⌉ so the GEMM reads 4 whole rows per step).
 */
export function glPackBSource(g: MatmulGeometry): GemmSpec {
  const { k, n } = g;
  const { kp, nq } = glPacked(g);
  const at = (c: number): string => (g.transB ? `bo + (j + ${flt(c)}) * ${flt(k)} + p` : `bo + p * ${flt(n)} + j + ${flt(c)}`);
  const lines = [
    'const j = this.thread.x * 4.0;',
    g.batchB === 1 ? 'const p = this.thread.y;' : `const bb = Math.floor(this.thread.y / ${flt(kp)});`,
    ...(g.batchB === 1 ? ['const bo = 0.0;'] : [`const p = this.thread.y - bb * ${flt(kp)};`, `const bo = bb * ${flt(k * n)};`]),
    `if (p >= ${flt(k)}) { return [0.0, 0.0, 0.0, 0.0]; }`,
    `const x0 = b[${at(0)}];`,
    'let x1 = 0.0;',
    'let x2 = 0.0;',
    'let x3 = 0.0;',
    ...[1, 2, 3].map((c) => `if (j + ${flt(c)} < ${flt(n)}) { x${c} = b[${at(c)}]; }`),
    'return [x0, x1, x2, x3];',
  ];
  return { op: 'matmul.packB', source: `function(b) {\n${lines.join('\n')}\n}`, output: [nq, g.batchB * kp], maxLoop: 0, vec4: true };
}

/**
 * Thread grid of the GL GEMM: T = ⌈n/4⌉·batch·⌈m/R⌉ threads laid out [W, H] with H a multiple of 4 (llvmpipe
 * shades 4×4 blocks) and at most 64 (its 64×64 tiles are the unit of its thread parallelism), aiming at ≥ 8
 * tiles: a [⌈n/4⌉, m/R] grid at 256×1024×196 is one tile, i.e. one core.
 */
export function glGemmLayout(g: MatmulGeometry, rows: number): { w: number; h: number; nq: number; mb: number } {
  const { nq } = glPacked(g);
  const mb = Math.ceil(g.m / rows);
  const t = nq * g.batch * mb;
  let h = Math.min(64, 4 * Math.ceil(t / (4 * 64 * 8)));
  if (Math.ceil(t / h) > 16384) h = 4 * Math.ceil(t / (4 * 16384));
  return { w: Math.ceil(t / h), h, nq, mb };
}

/**
 * The GL GEMM on packed operands: each thread computes a rows×4 block of C (rows 1, 4 or 8): rows·4 outputs
 * through a gpu.js kernel map (one Array(4) render target per row, WEBGL_draw_buffers). Per 4 steps of k it
 * fetches `rows` A texels and 4 B texels; texel fetches (index maths with integer division, then the sampler)
 * are what llvmpipe pays for, so 8 rows cost 12 fetches per 128 multiply-adds where one row cost 5 per 16
 * (measured 2.2× faster per CPU-second). Thread t = y·W + x covers column quad t mod ⌈n/4⌉ of row block
 * ⌊t / ⌈n/4⌉⌋; threads past the end recompute the last block (never read). Rows past m repeat row m-1.
 */
export function glGemmSource(g: MatmulGeometry, rows: number): GemmSpec {
  const { m } = g;
  const { kq, kp } = glPacked(g);
  const { w, h, nq, mb } = glGemmLayout(g, rows);
  const R = Array.from({ length: rows }, (_, r) => r);
  const C = [0, 1, 2, 3];
  const lines = [
    `const t = this.thread.y * ${flt(w)} + this.thread.x;`,
    `const yb0 = Math.floor(t / ${flt(nq)});`,
    `const jq = t - yb0 * ${flt(nq)};`,
    `const yb = Math.min(yb0, ${flt(g.batch * mb - 1)});`,
  ];
  if (g.batch === 1) {
    lines.push('const ib = yb;', 'const ao = 0.0;', 'const br = 0.0;');
  } else {
    lines.push(`const bt = Math.floor(yb / ${flt(mb)});`, `const ib = yb - bt * ${flt(mb)};`);
    lines.push(g.batchA === 1 ? 'const ao = 0.0;' : `const ao = (bt - Math.floor(bt / ${flt(g.batchA)}) * ${flt(g.batchA)}) * ${flt(m)};`);
    lines.push(g.batchB === 1 ? 'const br = 0.0;' : `const br = (bt - Math.floor(bt / ${flt(g.batchB)}) * ${flt(g.batchB)}) * ${flt(kp)};`);
  }
  lines.push(`const i0 = ib * ${flt(rows)};`);
  lines.push(...R.map((r) => `const r${r} = ao + Math.min(i0 + ${flt(r)}, ${flt(m - 1)});`));
  lines.push(...R.flatMap((r) => C.map((c) => `let c${r}${c} = 0.0;`)));
  lines.push(
    `for (let q = 0; q < ${int(kq)}; q++) {`,
    ...R.map((r) => `const a${r} = aq[r${r}][q];`),
    'const p = br + q * 4.0;',
    'const b0 = bq[p][jq];',
    'const b1 = bq[p + 1.0][jq];',
    'const b2 = bq[p + 2.0][jq];',
    'const b3 = bq[p + 3.0][jq];',
    ...R.flatMap((r) => C.map((c) => `c${r}${c} += a${r}[0] * b0[${c}] + a${r}[1] * b1[${c}] + a${r}[2] * b2[${c}] + a${r}[3] * b3[${c}];`)),
    '}',
  );
  const subKernels: Record<string, string> = {};
  for (const r of R.slice(1)) {
    subKernels[`gemmRow${r}`] = `function gemmRow${r}(x, y, z, u) {\nreturn [x, y, z, u];\n}`;
    lines.push(`gemmRow${r}(c${r}0, c${r}1, c${r}2, c${r}3);`);
  }
  lines.push('return [c00, c01, c02, c03];');
  return {
    op: `matmul.vec4x${rows}`,
    source: `function(aq, bq) {\n${lines.join('\n')}\n}`,
    output: [w, h],
    maxLoop: kq,
    vec4: true,
    ...(rows > 1 ? { subKernels } : {}),
  };
}

/** The fused epilogue of an eval-mode conv → batch norm (→ add) (→ ReLU): which optional parts are on. */
export interface EpilogueFlags {
  residual: boolean;
  relu: boolean;
}

/**
 * Statements turning `v`, the product at row `i` and flat output index `o`, into relu?(v·scale[i] + shift[i] +
 * res[o]) (arguments `scale`, `shift`, `res`); ReLU as the unary kernel writes it (NaN passes, as torch.relu).
 */
function epilogueLines(e: EpilogueFlags, i: string, o: string): string[] {
  return [
    `v = v * scale[${i}] + shift[${i}];`,
    ...(e.residual ? [`v = v + res[${o}];`] : []),
    ...(e.relu ? [`v = ${reluExpr('v')};`] : []),
  ];
}

/** The epilogue arguments after the kernel's own. */
function epilogueArgs(e: EpilogueFlags | null): string {
  return e ? `, scale, shift${e.residual ? ', res' : ''}` : '';
}

/** The epilogue as its own pass over a row-major product C [m, n] (paths whose GEMM has no unpacking pass). */
export function epilogueSource(m: number, n: number, e: EpilogueFlags): KernelSpec {
  const lines = ['const o = this.thread.x;', `const i = Math.floor(o / ${flt(n)});`, 'let v = c[o];', ...epilogueLines(e, 'i', 'o'), 'return v;'];
  return { op: `matmul.epilogue${e.residual ? '.res' : ''}${e.relu ? '.relu' : ''}`, source: `function(c${epilogueArgs(e)}) {\n${lines.join('\n')}\n}`, output: m * n, maxLoop: 0 };
}

/** The epilogue on the host, in place on a row-major product C [m, n]. */
export function applyEpilogueHost(C: Float32Array, m: number, n: number, scale: Float32Array, shift: Float32Array, res: Float32Array | null, relu: boolean): void {
  for (let i = 0; i < m; i++) {
    const s = scale[i];
    const t = shift[i];
    for (let o = i * n; o < (i + 1) * n; o++) {
      let v = Math.fround(Math.fround(C[o] * s) + t);
      if (res) v = Math.fround(v + res[o]);
      C[o] = relu && v < 0 ? 0 : v; // NaN passes, as torch.relu
    }
  }
}

/**
 * GL: the GEMM's quads (one texture per row of the thread's block, t0 = row 0) into row-major C [batch, m, n]
 * as a scalar texture, on the device; with an epilogue (batch 1) it is applied on the way, so a folded conv → batch
 * norm (→ add) (→ ReLU) costs no pass of its own.
 */
export function glUnpackSource(g: MatmulGeometry, rows: number, epi: EpilogueFlags | null = null): GemmSpec {
  const { m, n } = g;
  const { w, nq, mb } = glGemmLayout(g, rows);
  const R = Array.from({ length: rows }, (_, r) => r);
  const pick = (r: number): string[] => [
    `const q${r} = t${r}[y][x];`,
    `if (c == 0.0) { v = q${r}[0]; }`,
    `if (c == 1.0) { v = q${r}[1]; }`,
    `if (c == 2.0) { v = q${r}[2]; }`,
    `if (c == 3.0) { v = q${r}[3]; }`,
  ];
  const lines = [
    `const row = Math.floor(this.thread.x / ${flt(n)});`,
    `const j = this.thread.x - row * ${flt(n)};`,
    'const jq = Math.floor(j / 4.0);',
    'const c = j - jq * 4.0;',
    `const bt = Math.floor(row / ${flt(m)});`,
    `const i = row - bt * ${flt(m)};`,
    `const ib = Math.floor(i / ${flt(rows)});`,
    `const r = i - ib * ${flt(rows)};`,
    `const t = (bt * ${flt(mb)} + ib) * ${flt(nq)} + jq;`,
    `const y = Math.floor(t / ${flt(w)});`,
    `const x = t - y * ${flt(w)};`,
    'let v = 0.0;',
  ];
  for (const r of R) lines.push(`if (r == ${flt(r)}) {`, ...pick(r), '}');
  if (epi) lines.push(...epilogueLines(epi, 'i', 'this.thread.x'));
  lines.push('return v;');
  const args = R.map((r) => `t${r}`).join(', ') + epilogueArgs(epi);
  return { op: epi ? 'matmul.unpack.epilogue' : 'matmul.unpack', source: `function(${args}) {\n${lines.join('\n')}\n}`, output: [g.batch * m * n], maxLoop: 0, vec4: false };
}
