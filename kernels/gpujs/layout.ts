// gpu.js kernel sources that move data: permute, slice along an axis, concat along an axis.
import { decode, flt, type KernelSpec } from './common.js';
import { stridesOf } from '../../src/shape.js';

export function permuteSource(shape: readonly number[], perm: readonly number[]): KernelSpec {
  const st = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const pst = perm.map((p) => st[p]);
  const size = shape.reduce((a, b) => a * b, 1);
  return { op: 'permute', source: `function(x) {\n${decode('this.thread.x', outShape, ['src'], [pst])}\nreturn x[src];\n}`, output: size, maxLoop: 0 };
}

/** Views the tensor as [outer, dim, inner] and copies rows start..start+length of the middle axis. */
export function sliceSource(outer: number, dim: number, inner: number, start: number, length: number): KernelSpec {
  const body = `${decode('this.thread.x', [outer, length, inner], ['src'], [[dim * inner, inner, 1]])}\nreturn x[src + ${flt(start * inner)}];`;
  return { op: 'slice', source: `function(x) {\n${body}\n}`, output: outer * length * inner, maxLoop: 0 };
}

/** Concats up to 8 inputs viewed as [outer, len_i·inner]: picks the input by the column's range. */
export function concatSource(outer: number, lens: readonly number[], inner: number): KernelSpec {
  const widths = lens.map((l) => l * inner);
  const total = widths.reduce((a, b) => a + b, 0);
  const args = lens.map((_, i) => `x${i}`);
  const lines = [`const row = Math.floor(this.thread.x / ${flt(total)});`, `const col = this.thread.x - row * ${flt(total)};`];
  let at = 0;
  widths.forEach((w, i) => {
    // The last input takes what is left, so every path returns once (WGSL warns about code after a return).
    const read = `return x${i}[row * ${flt(w)} + col - ${flt(at)}];`;
    lines.push(i === widths.length - 1 ? read : `if (col < ${flt(at + w)}) { ${read} }`);
    at += w;
  });
  return { op: 'concat', source: `function(${args.join(', ')}) {\n${lines.join('\n')}\n}`, output: outer * total, maxLoop: 0 };
}

/** x [outer, n, inner] read at index [outer, k, inner] (float positions along n). */
export function gatherSource(outer: number, n: number, k: number, inner: number): KernelSpec {
  const body = `${decode('this.thread.x', [outer, k, inner], ['base'], [[n * inner, 0, 1]])}\nreturn x[base + idx[this.thread.x] * ${flt(inner)}];`;
  return { op: 'gather', source: `function(x, idx) {\n${body}\n}`, output: outer * k * inner, maxLoop: 0 };
}

/** The adjoint of gather: each output [o, p, i] sums the k sources whose index is p (a loop over k). */
export function scatterAddSource(outer: number, n: number, k: number, inner: number): KernelSpec {
  const body = [
    decode('this.thread.x', [outer, n, inner], ['base', 'p'], [[k * inner, 0, 1], [0, 1, 0]]),
    'let s = 0.0;',
    `for (let j = 0; j < ${k}; j++) {`,
    `  const q = base + j * ${flt(inner)};`,
    '  if (idx[q] == p) { s += src[q]; }',
    '}',
    'return s;',
  ].join('\n');
  return { op: 'scatterAdd', source: `function(src, idx) {\n${body}\n}`, output: outer * n * inner, maxLoop: k };
}
