// gpu.js kernel sources for elementwise work: unary maps, broadcasting binary ops, fills and copies.
import type { BinaryOp, UnaryOp } from '../../src/backend.js';
import { decode, flt, nanFrom, reluExpr, type KernelSpec } from './common.js';

// erf via erfc(|x|) ≈ t·exp(−x² + P(t)), t = 1/(1 + |x|/2): a Chebyshev fit with relative error below 1.2e-7,
// the float32 resolution; the sign is restored for negative x.
const erfPoly = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
const erfT = '(1.0 / (1.0 + 0.5 * Math.abs(x)))';
const erfHorner = erfPoly.reduceRight((acc, c) => (acc === '' ? flt(c) : `${flt(c)} + t * (${acc})`), '');
const erfExpr = `(x != x ? x : (x >= 0.0 ? 1.0 : -1.0) * (1.0 - ${erfT} * Math.exp(-x * x + ${erfHorner.replace(/\bt\b/g, erfT)})))`;

/** Unary op expressions over `x` (and the float parameter `p` for pow). */
function unaryExpr(op: UnaryOp, p: number): string {
  switch (op) {
    case 'neg':
      return '-x';
    case 'exp':
      return 'Math.exp(x)';
    case 'log':
      return 'Math.log(x)';
    case 'sqrt':
      return 'Math.sqrt(x)';
    case 'relu':
      return reluExpr('x');
    case 'abs':
      return 'Math.abs(x)';
    // Written with exp of a non-positive argument only, so nothing overflows at either tail.
    case 'sigmoid':
      return '(x >= 0.0 ? 1.0 / (1.0 + Math.exp(-x)) : Math.exp(x) / (1.0 + Math.exp(x)))';
    case 'tanh':
      return '(x != x ? x : (x >= 0.0 ? (1.0 - Math.exp(-2.0 * x)) / (1.0 + Math.exp(-2.0 * x)) : (Math.exp(2.0 * x) - 1.0) / (Math.exp(2.0 * x) + 1.0)))';
    case 'erf':
      return erfExpr;
    case 'pow': {
      if (p === 0) return '1.0';
      if (p === 1) return 'x';
      if (p === 2) return 'x * x';
      // ±0.5 (batch norm's 1/√(var+eps)) through sqrt and one division, which GL rounds correctly: llvmpipe's
      // pow is exp2(p·log2 x), up to 4.8 ulp off here, and gives 0 instead of +Infinity at x = 0 for p < 0.
      if (p === 0.5) return `(x != x ? x : (x < 0.0 ? ${nanFrom('x')} : Math.sqrt(Math.abs(x))))`;
      if (p === -0.5) return `(x != x ? x : (x < 0.0 ? ${nanFrom('x')} : Math.sqrt(1.0 / Math.abs(x))))`;
      // GLSL's pow is undefined for negative bases: integer exponents take |x|^p with the sign restored;
      // other exponents of negative bases give NaN as in JS (built at run time, see nanFrom).
      // Small integer exponents multiply out: exact like JS and NaN-propagating (GLSL's pow(NaN) gives 0 on llvmpipe).
      if (Number.isInteger(p) && Math.abs(p) <= 8) {
        const prod = Array.from({ length: Math.abs(p) }, () => 'x').join(' * ');
        return p > 0 ? `(${prod})` : `(1.0 / (${prod}))`;
      }
      // Negative exponents at a zero base: ±Infinity as in JS (the sign of 1/x for odd integers), not GLSL's 0.
      const odd = Number.isInteger(p) && Math.abs(p) % 2 === 1;
      const atZero = (rest: string): string => (p < 0 ? `(x == 0.0 ? ${odd ? '1.0 / x' : '1.0 / Math.abs(x)'} : ${rest})` : rest);
      if (Number.isInteger(p)) {
        const mag = `Math.pow(Math.abs(x), ${flt(p)})`;
        return `(x != x ? x : ${atZero(odd ? `(x < 0.0 ? -${mag} : ${mag})` : mag)})`;
      }
      return `(x != x ? x : (x < 0.0 ? ${nanFrom('x')} : ${atZero(`Math.pow(x, ${flt(p)})`)}))`;
    }
  }
}

export function unarySource(op: UnaryOp, p: number, size: number): KernelSpec {
  return {
    op: `unary.${op}`,
    source: `function(a) { const x = a[this.thread.x]; return ${unaryExpr(op, p)}; }`,
    output: size,
    maxLoop: 0,
  };
}

const binaryExpr: Record<BinaryOp, string> = {
  add: 'x + y',
  sub: 'x - y',
  mul: 'x * y',
  div: 'x / y',
  eq: '(x == y ? 1.0 : 0.0)',
  // NaN != y is true whether GL evaluates != directly or as !(x == y).
  ne: '(x != y ? 1.0 : 0.0)',
  gt: '(x > y ? 1.0 : 0.0)',
};

/**
 * Broadcasting binary op; `sa`/`sb` are the operands' strides aligned to `outShape` (0 on broadcast axes).
 * Same-shape operands skip the index arithmetic.
 */
export function binarySource(op: BinaryOp, outShape: readonly number[], sa: readonly number[], sb: readonly number[], size: number): KernelSpec {
  const dense = (s: readonly number[]): boolean => {
    let acc = 1;
    for (let k = outShape.length - 1; k >= 0; k--) {
      if (outShape[k] !== 1 && s[k] !== acc) return false;
      acc *= outShape[k];
    }
    return true;
  };
  let body: string;
  if (dense(sa) && dense(sb)) body = 'const x = a[this.thread.x]; const y = b[this.thread.x];';
  else body = `${decode('this.thread.x', outShape, ['ia', 'ib'], [sa, sb])}\nconst x = a[ia]; const y = b[ib];`;
  return { op: `binary.${op}`, source: `function(a, b) {\n${body}\nreturn ${binaryExpr[op]};\n}`, output: size, maxLoop: 0 };
}

export function fillSource(value: number, size: number): KernelSpec {
  return { op: 'fill', source: `function() { return ${flt(value)}; }`, output: size, maxLoop: 0 };
}

/** A copy (uploads a host array into a device texture on GL). */
export function copySource(size: number): KernelSpec {
  return { op: 'copy', source: 'function(a) { return a[this.thread.x]; }', output: size, maxLoop: 0 };
}
