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
