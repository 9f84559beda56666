// How a tensor prints (toString, String(t), console.log and util.inspect): its values laid out as PyTorch lays
// them out (precision 4, summarised with '...' past 1000 elements, 3 edge items, lines of 80 columns), then its
// shape, backend and autograd state. Values are shown only where the backend reads synchronously; elsewhere the
// text says how to get them. Printing never throws.
import { backendLabel } from './backend.js';
import { describeValue, fail } from './errors.js';
import type { Tensor } from './tensor.js';

export interface PrintOptions {
  /** Digits after the decimal point (default 4). */
  precision: number;
  /** Tensors with more elements are summarised (default 1000). */
  threshold: number;
  /** Items kept at each end of a summarised dimension (default 3). */
  edgeitems: number;
  /** Characters per line before rows wrap (default 80). */
  linewidth: number;
}

/** PyTorch's defaults. */
const printOptions: PrintOptions = { precision: 4, threshold: 1000, edgeitems: 3, linewidth: 80 };

/** Changes how tensors print, like torch.set_printoptions; returns the previous settings. */
export function setPrintOptions(options: Partial<PrintOptions>): PrintOptions {
  const was = { ...printOptions };
  if (typeof options !== 'object' || options === null) fail('setPrintOptions', `options must be an object like { precision: 2 }, got ${describeValue(options)}`);
  for (const [k, v] of Object.entries(options)) {
    if (!(k in printOptions)) fail('setPrintOptions', `unknown option '${k}' (known: ${Object.keys(printOptions).join(', ')})`);
    const min = k === 'precision' || k === 'threshold' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || (k === 'precision' && v > 20)) fail('setPrintOptions', `${k} must be an integer >= ${min}${k === 'precision' ? ' and <= 20' : ''}, got ${describeValue(v)}`);
  }
  Object.assign(printOptions, options);
  return was;
}

const PREFIX = 'tensor(';

/** The text of a tensor, e.g. `tensor([1., 2.], shape=[2], backend=wasm:simd, requiresGrad=true)`. */
export function formatTensor(t: Tensor): string {
  const tail = describeTail(t);
  if (t.isDisposed) return `${PREFIX}<disposed>, ${tail})`;
  const b = t.backend;
  if (!b.readSync) return `${PREFIX}<values pending: await t.data()>, ${tail})`;
  let values: Float32Array;
  try {
    values = b.readSync(t.storage);
  } catch (e) {
    return `${PREFIX}<unreadable: ${e instanceof Error ? e.message : String(e)}>, ${tail})`;
  }
  return `${PREFIX}${formatValues(values, t.shape, PREFIX.length)}, ${tail})`;
}

function describeTail(t: Tensor): string {
  const b = t.backend;
  const parts = [`shape=[${t.shape.join(', ')}]`, `backend=${backendLabel(b)}`];
  // As in PyTorch, an op's output names its grad_fn; a leaf says that it requires a gradient.
  if (t.node) parts.push(`gradFn=<${t.node.op}>`);
  else if (t.requiresGrad) parts.push('requiresGrad=true');
  return parts.join(', ');
}

/**
 * The nested-bracket text of `values` (row-major, of `shape`), with every line after the first indented by
 * `indent` columns (the width of what precedes the opening bracket).
 */
export function formatValues(values: ArrayLike<number>, shape: readonly number[], indent = 0): string {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size === 0) return '[]';
  const summarise = size > printOptions.threshold;
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  // The formatter is chosen from the values that will be shown, as PyTorch's is.
  const shown: number[] = [];
  const visit = (dim: number, off: number): void => {
    if (dim === shape.length) {
      shown.push(values[off]);
      return;
    }
    for (const i of indices(shape[dim], summarise)) if (i >= 0) visit(dim + 1, off + i * strides[dim]);
  };
  visit(0, 0);
  const f = new Formatter(shown);
  if (shape.length === 0) return f.format(values[0]);

  const block = (dim: number, off: number, ind: number): string => {
    const idx = indices(shape[dim], summarise);
    if (dim === shape.length - 1) {
      const items = idx.map((i) => (i < 0 ? ' ...' : f.format(values[off + i])));
      const perLine = Math.max(1, Math.floor((printOptions.linewidth - ind) / (f.width + 2)));
      const lines: string[] = [];
      for (let k = 0; k < items.length; k += perLine) lines.push(items.slice(k, k + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(ind + 1)}`)}]`;
    }
    const rows = idx.map((i) => (i < 0 ? '...' : block(dim + 1, off + i * strides[dim], ind + 1)));
    // Blocks of higher dimensions are set apart by one blank line per dimension below the first.
    const sep = `,${'\n'.repeat(shape.length - dim - 1)}${' '.repeat(ind + 1)}`;
    return `[${rows.join(sep)}]`;
  };
  return block(0, 0, indent);
}

/** The indices shown along a dimension of length n: all, or the edge items with -1 where '...' goes. */
function indices(n: number, summarise: boolean): number[] {
  const e = printOptions.edgeitems;
  if (summarise && n > 2 * e) return [...range(0, e), -1, ...range(n - e, n)];
  return range(0, n);
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

/**
 * One number format for all shown values, chosen the way PyTorch chooses: integers as '3.', otherwise fixed
 * point with 4 decimals, or scientific when the magnitudes span more than 1000× or reach 1e8 (or, for
 * non-integers, fall below 1e-4). Zeros and non-finite values do not take part in the choice.
 */
class Formatter {
  private intMode = true;
  private sciMode = false;
  width = 1;

  constructor(shown: readonly number[]) {
    const finite = shown.filter((v) => Number.isFinite(v) && v !== 0);
    if (finite.length === 0) return;
    const abs = finite.map(Math.abs);
    const min = Math.min(...abs);
    const max = Math.max(...abs);
    this.intMode = finite.every((v) => v === Math.ceil(v));
    this.sciMode = max / min > 1000 || max > 1e8 || (!this.intMode && min < 1e-4);
    for (const v of finite) this.width = Math.max(this.width, this.raw(v).length);
  }

  private raw(v: number): string {
    if (Number.isNaN(v)) return 'nan';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    const p = printOptions.precision;
    if (this.sciMode) return sci(v, p);
    if (this.intMode) return `${Object.is(v, -0) ? '-0' : v.toFixed(0)}.`;
    return fixed(v, p);
  }

  format(v: number): string {
    return this.raw(v).padStart(this.width);
  }
}

/** Python's '{:.4e}': at least two exponent digits. */
function sci(v: number, p: number): string {
  const [m, e] = v.toExponential(p).split('e');
  const sign = e[0] === '-' ? '-' : '+';
  const digits = e.replace(/^[+-]/, '');
  return `${m}e${sign}${digits.padStart(2, '0')}`;
}

function fixed(v: number, p: number): string {
  const s = v.toFixed(p);
  return Object.is(v, -0) || (v < 0 && !s.startsWith('-')) ? `-${s}` : s;
}
