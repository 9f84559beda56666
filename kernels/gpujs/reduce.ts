// gpu.js kernel sources for reductions (sum, max) over any set of axes: one output per thread, nested loops
// with constant bounds over the reduced axes.
import type { ReduceOp } from '../../src/backend.js';
import { decode, flt, int, nanFrom, type KernelSpec } from './common.js';
import { stridesOf } from '../../src/shape.js';

export function reduceSource(op: ReduceOp, shape: readonly number[], axes: readonly number[]): KernelSpec {
  const st = stridesOf(shape);
  const outDims = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outSize = outDims.reduce((a, b) => a * b, 1);
  const lines: string[] = [decode('this.thread.x', outDims, ['base'], [st])];
  lines.push(op === 'sum' ? 'let acc = 0.0;' : 'let acc = -3.4e38; let seen = 0.0; let nan = 0.0;');
  const red = axes.filter((a) => shape[a] > 1);
  let idx = 'base';
  for (const a of red) {
    lines.push(`for (let j${a} = 0; j${a} < ${int(shape[a])}; j${a}++) {`);
    idx += ` + j${a} * ${flt(st[a])}`;
  }
  lines.push(`const v = x[${idx}];`);
  // max: NaN propagates (PyTorch); -inf inputs must still win over the -3.4e38 start, hence `seen`.
  lines.push(op === 'sum' ? 'acc += v;' : 'if (v != v) { nan = 1.0; } else if (seen == 0.0 || v > acc) { acc = v; seen = 1.0; }');
  for (let i = 0; i < red.length; i++) lines.push('}');
  lines.push(op === 'sum' ? 'return acc;' : `if (nan > 0.0) { return ${nanFrom('acc')}; } return acc;`);
  const maxLoop = Math.max(0, ...red.map((a) => shape[a]));
  return { op: `reduce.${op}`, source: `function(x) {\n${lines.join('\n')}\n}`, output: outSize, maxLoop };
}
