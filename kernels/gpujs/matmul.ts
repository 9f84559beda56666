// gpu.js kernel sources for batched GEMM with optional transposes and batch broadcasting (b % batchA).
import type { MatmulGeometry } from '../../src/backend.js';
import { flt, int, type KernelSpec } from './common.js';

/** One output per thread; the k loop has a constant bound and is unrolled by 4 where k allows. */
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

/** Rows of C each thread computes in the register-tiled GEMM. */
export const GEMM_ROWS = 4;

/**
 * Register-tiled GEMM for the cpu/webasm modes: each thread computes 4 rows of one column of C (output type
 * Array(4)), so every B element loaded is used 4 times; the k loop is unrolled by 2. Thread t covers
 * batch bt, row block ib and column j; rows past m read row m-1 and are dropped on unpacking.
 * The notes measure ~2.5× the one-output kernel on webasm.
 */
export function matmulRowsSource(g: MatmulGeometry): KernelSpec {
  const { m, k, n, transA, transB } = g;
  const mb = Math.ceil(m / GEMM_ROWS);
  // Row/column bases are hoisted out of the k loop (raN for A's rows, cb for B's column), leaving one
  // multiply-add of index arithmetic per load.
  const aAt = (r: number, p: string): string => (transA ? `ra${r} + ${p} * ${flt(m)}` : `ra${r} + ${p}`);
  const bAt = (p: string): string => (transB ? `cb + ${p}` : `cb + ${p} * ${flt(n)}`);
  const rows = Array.from({ length: GEMM_ROWS }, (_, r) => r);
  const step = (p: string): string[] => [`const bv${p} = b[${bAt(p)}];`, ...rows.map((r) => `s${r} += a[${aAt(r, p)}] * bv${p};`)];
  const lines = [
    `const bt = Math.floor(this.thread.x / ${flt(mb * n)});`,
    `const rem = this.thread.x - bt * ${flt(mb * n)};`,
    `const ib = Math.floor(rem / ${flt(n)});`,
    `const j = rem - ib * ${flt(n)};`,
    ...rows.map((r) => `const i${r} = Math.min(ib * ${flt(GEMM_ROWS)} + ${flt(r)}, ${flt(m - 1)});`),
    g.batchA === 1 ? 'const ao = 0.0;' : `const ao = (bt - Math.floor(bt / ${flt(g.batchA)}) * ${flt(g.batchA)}) * ${flt(m * k)};`,
    g.batchB === 1 ? 'const bo = 0.0;' : `const bo = (bt - Math.floor(bt / ${flt(g.batchB)}) * ${flt(g.batchB)}) * ${flt(k * n)};`,
    ...rows.map((r) => (transA ? `const ra${r} = ao + i${r};` : `const ra${r} = ao + i${r} * ${flt(k)};`)),
    transB ? `const cb = bo + j * ${flt(k)};` : 'const cb = bo + j;',
    ...rows.map((r) => `let s${r} = 0.0;`),
  ];
  const half = Math.floor(k / 2);
  if (half > 0) {
    lines.push(`for (let q = 0; q < ${int(half)}; q++) {`, 'const p0 = q * 2.0;', 'const p1 = p0 + 1.0;', ...step('p0'), ...step('p1'), '}');
  }
  if (k % 2 === 1) lines.push(`const pl = ${flt(k - 1)};`, ...step('pl'));
  lines.push(`return [${rows.map((r) => `s${r}`).join(', ')}];`);
  return { op: 'matmul.rows4', source: `function(a, b) {\n${lines.join('\n')}\n}`, output: g.batch * mb * n, maxLoop: half, vec4: true };
}

/**
 * GL: turns the Array(4) texture of matmulRowsSource (thread (bt, ib, j) holds rows 4·ib..4·ib+3 of column j)
 * into row-major C [batch, m, n] on the device, so results stay resident scalar textures.
 */
export function unpackRowsSource(g: MatmulGeometry): KernelSpec {
  const { m, n } = g;
  const mb = Math.ceil(m / GEMM_ROWS);
  const lines = [
    `const bt = Math.floor(this.thread.x / ${flt(m * n)});`,
    `const rem = this.thread.x - bt * ${flt(m * n)};`,
    `const i = Math.floor(rem / ${flt(n)});`,
    `const j = rem - i * ${flt(n)};`,
    `const ib = Math.floor(i / ${flt(GEMM_ROWS)});`,
    `const r = i - ib * ${flt(GEMM_ROWS)};`,
    `const q = t[(bt * ${flt(mb)} + ib) * ${flt(n)} + j];`,
    'if (r == 0.0) { return q[0]; }',
    'if (r == 1.0) { return q[1]; }',
    'if (r == 2.0) { return q[2]; }',
    'return q[3];',
  ];
  return { op: 'matmul.unpack', source: `function(t) {\n${lines.join('\n')}\n}`, output: g.batch * m * n, maxLoop: 0 };
}
