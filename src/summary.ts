// summary(model, inputShape): every module's output shape, parameter count and multiply-accumulates, as
// a table with totals, found by tracing one forward pass (convolutions, batch norms and ReLUs are only shaped, not computed).
import { fail, fmt } from './errors.js';
import { BatchNorm2d, Conv2d, Identity, Linear, ReLU, setBatchNormFolding } from './nn/layers.js';
import type { Module } from './nn/module.js';
import { type Tensor } from './tensor.js';
import { noGrad, tidy } from './engine.js';
import { zeros } from './creation.js';

export interface SummaryRow {
  /** Dotted name ('' for the model itself). */
  name: string;
  /** Class name, e.g. 'Conv2d' or 'Bottleneck'. */
  type: string;
  /** Nesting depth (0 for the model). */
  depth: number;
  outputShape: number[];
  /** Parameters of this module and its descendants. */
  params: number;
  /** Multiply-accumulates of this module and its descendants for the traced input. */
  macs: number;
}

export interface ModelSummary {
  /** One row per module call, in execution order (a module called twice appears twice). */
  rows: SummaryRow[];
  inputShape: number[];
  outputShape: number[];
  totalParams: number;
  trainableParams: number;
  /**
   * Convolution and linear multiply-accumulates (the convention behind "ResNet-50: 4.09 GMAC"); batch
   * norm, pools and additions are not counted (BN folds into the convolution at inference).
   */
  totalMacs: number;
  /** The rows and totals as an aligned text table. */
  table: string;
  toString(): string;
}

export interface SummaryOptions {
  /** Deepest nesting level shown in the table (all rows are still in `rows`); default: all. */
  maxDepth?: number;
}

function convOutput(op: string, size: number, k: number, s: number, p: number, d: number): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  if (span < 0) fail(op, `kernel ${k} (dilation ${d}) does not fit input size ${size} with padding ${p}`);
  return Math.floor(span / s) + 1;
}

/** A convolution's output, shaped and checked like F.conv2d but not computed (zeros). */
function shapeOnlyConv(m: Conv2d, x: Tensor): { out: Tensor; macs: number } {
  if (x.rank !== 4) fail('summary', `Conv2d expects 4-D input [N, C, H, W], got ${fmt(x.shape)}`);
  const [n, c, h, w] = x.shape;
  if (c !== m.inChannels) fail('summary', `Conv2d(${m.extraRepr()}) got input ${fmt(x.shape)} with ${c} channels, expected ${m.inChannels}`);
  const oh = convOutput('summary', h, m.kernelSize[0], m.stride[0], m.padding[0], m.dilation[0]);
  const ow = convOutput('summary', w, m.kernelSize[1], m.stride[1], m.padding[1], m.dilation[1]);
  const perOut = (c / m.groups) * m.kernelSize[0] * m.kernelSize[1];
  return { out: zeros([n, m.outChannels, oh, ow]), macs: n * m.outChannels * oh * ow * perOut };
}

function ownParams(m: Module): number {
  return m.numParameters();
}

/**
 * Traces `model` on a zero input of `inputShape` (e.g. [1, 3, 224, 224]) in eval mode without gradients,
 * restoring the training flags afterwards. Convolutions, batch norms and ReLUs are replaced by their shapes,
 * so this is cheap even for ResNet-50 at 224×224 on the reference backend.
 */
export function summary(model: Module, inputShape: readonly number[], options: SummaryOptions = {}): ModelSummary {
  if (!Array.isArray(inputShape) || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    fail('summary', `inputShape must be an array of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  const named = model.namedModules();
  const nameOf = new Map(named.map(([n, m]) => [m, n]));
  const depthOf = (n: string): number => (n === '' ? 0 : n.split('.').length);
  const rows: SummaryRow[] = [];
  const stack: SummaryRow[] = [];
  const training = named.map(([, m]) => m.training);
  const patched: Module[] = [];
  let outputShape: number[] = [];
  let folding: boolean | null = null;
  try {
    for (const [, m] of named) {
      const original = m.forward.bind(m);
      const name = nameOf.get(m) ?? '';
      Object.defineProperty(m, 'forward', {
        configurable: true,
        writable: true,
        value: (x: Tensor): Tensor => {
          const row: SummaryRow = { name, type: m.constructor.name, depth: depthOf(name), outputShape: [], params: ownParams(m), macs: 0 };
          rows.push(row);
          stack.push(row);
          let y: Tensor;
          let macs = 0;
          try {
            if (m instanceof Conv2d) ({ out: y, macs } = shapeOnlyConv(m, x));
            else if (m instanceof ReLU || m instanceof Identity) y = x;
            else if (m instanceof BatchNorm2d) {
              // Shape-preserving and cheap to check: values do not matter for the summary.
              if (x.rank !== 4 || x.shape[1] !== m.numFeatures) fail('summary', `BatchNorm2d(${m.numFeatures}) got input ${fmt(x.shape)}`);
              y = x;
            } else {
              y = original(x);
              if (m instanceof Linear) macs = (x.size / m.inFeatures) * m.inFeatures * m.outFeatures;
            }
          } finally {
            stack.pop();
          }
          row.outputShape = [...y.shape];
          row.macs += macs;
          for (const p of stack) p.macs += macs;
          return y;
        },
      });
      patched.push(m);
    }
    model.eval();
    // The trace counts each module's own forward; eval-mode folding would run conv and BN as one call.
    folding = setBatchNormFolding(false);
    outputShape = noGrad(() =>
      tidy(() => {
        const y = model.forward(zeros(inputShape));
        return [...y.shape];
      }),
    );
  } finally {
    if (folding !== null) setBatchNormFolding(folding);
    for (const m of patched) delete (m as unknown as Record<string, unknown>).forward;
    named.forEach(([, m], i) => (m.training = training[i]));
  }
  const totalParams = model.numParameters();
  const trainableParams = model.parameters().reduce((n, t) => n + (t.requiresGrad ? t.size : 0), 0);
  const totalMacs = rows.length ? rows[0].macs : 0;
  const table = formatTable(rows, options.maxDepth ?? Infinity, { inputShape: [...inputShape], outputShape, totalParams, trainableParams, totalMacs });
  return { rows, inputShape: [...inputShape], outputShape, totalParams, trainableParams, totalMacs, table, toString: () => table };
}

const group = (n: number): string => Math.round(n).toLocaleString('en-US');

function human(macs: number): string {
  if (macs >= 1e9) return `${(macs / 1e9).toFixed(2)} G`;
  if (macs >= 1e6) return `${(macs / 1e6).toFixed(2)} M`;
  if (macs >= 1e3) return `${(macs / 1e3).toFixed(2)} K`;
  return String(macs);
}

function formatTable(rows: SummaryRow[], maxDepth: number, t: { inputShape: number[]; outputShape: number[]; totalParams: number; trainableParams: number; totalMacs: number }): string {
  const shown = rows.filter((r) => r.depth <= maxDepth && r.depth > 0);
  const cells = shown.map((r) => [`${'  '.repeat(r.depth - 1)}${r.name.split('.').pop()} (${r.type})`, fmt(r.outputShape), r.params ? group(r.params) : '-', r.macs ? group(r.macs) : '-']);
  const head = ['Layer (type)', 'Output shape', 'Params', 'MACs'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  const rule = '─'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [
    line(head),
    rule,
    ...cells.map(line),
    rule,
    `Input: ${fmt(t.inputShape)}  Output: ${fmt(t.outputShape)}`,
    `Total params: ${group(t.totalParams)}  (trainable ${group(t.trainableParams)})`,
    `Total MACs: ${group(t.totalMacs)} (${human(t.totalMacs)}MAC; convolutions and linear layers)`,
  ].join('\n');
}
