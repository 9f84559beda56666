// Generates docs/coverage.md: every Backend primitive × every backend/mode that runs here, found by running
// each primitive once on a small input and comparing with the reference backend (so the table cannot claim
// more than the code does). For gpujs it also names the gpu.js kernel class that actually ran.
// Run: xvfb-run -a node --import tsx scripts/coverage-table.ts   (writes docs/coverage.md)
// The webgpu column runs in a child process (`--column gpujs:webgpu`): without a GPU, Dawn's OpenGL ES backend
// and headless-gl cannot share one process's GL.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Backend, BackendImpl, FastPaths, Storage, WindowGeometry } from '../src/backend.js';
import { FAST_PATHS, ownFastPaths, withDefaults } from '../src/backends/defaults.js';
import { BACKENDS, GPUJS_MODES, parseBackendLabel } from '../src/backends/registry.js';
import { GpujsBackend, gpujsModeAvailable, gpujsThreadsAvailable, installWebGPU } from '../src/backends/gpujs/index.js';
import { wasmAvailable } from '../src/backends/wasm.js';

type Case = (b: Backend, up: (a: number[]) => Storage) => Storage[];
const win: WindowGeometry = { n: 1, c: 2, h: 4, w: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 4, ow: 4 };
const v = (n: number, k = 1): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + k) * 2);
const mm = { batch: 2, batchA: 2, batchB: 1, m: 3, k: 4, n: 5, transA: false, transB: true };

/** One small call per primitive (forward and backward kernels); key = the Backend method exercised. */
const cases: Record<string, Case> = {
  'upload/read': (_b, up) => [up(v(7))],
  fill: (b) => [b.fill(6, 0.25)],
  'unary (neg exp log sqrt relu pow abs)': (b, up) => (['neg', 'exp', 'relu', 'abs'] as const).map((o) => b.unary(o, up(v(6)), 0)).concat([b.unary('log', up(v(6).map(Math.abs)), 0), b.unary('sqrt', up(v(6).map(Math.abs)), 0), b.unary('pow', up(v(6)), 3)]),
  'unary sigmoid tanh erf': (b, up) => (['sigmoid', 'tanh', 'erf'] as const).map((o) => b.unary(o, up(v(6).map((x) => x * 3)), 0)),
  'binary, broadcasting (add sub mul div eq ne gt)': (b, up) => (['add', 'sub', 'mul', 'div', 'eq', 'ne', 'gt'] as const).map((o) => b.binary(o, up(v(6)), [2, 3], up(v(3, 2)), [3], [2, 3])),
  'reduce sum/max (any axes)': (b, up) => [b.reduce('sum', up(v(24)), [2, 3, 4], [0, 2]), b.reduce('max', up(v(24)), [2, 3, 4], [1])],
  permute: (b, up) => [b.permute(up(v(24)), [2, 3, 4], [2, 0, 1])],
  slice: (b, up) => [b.slice(up(v(24)), [2, 3, 4], 1, 1, 2)],
  concat: (b, up) => [b.concat([up(v(6)), up(v(3, 3))], [[2, 3], [1, 3]], 0)],
  'gather / scatterAdd (index along an axis)': (b, up) => [b.gather(up(v(24)), up([2, 0, 3, 3, 1, 0]), { outer: 2, n: 4, k: 3, inner: 1 }), b.scatterAdd(up(v(6)), up([2, 0, 2, 3, 1, 0]), { outer: 2, n: 4, k: 3, inner: 1 })],
  'matmul (batched, transposes)': (b, up) => [b.matmul(up(v(24)), up(v(20, 5)), mm), b.matmul(up(v(12)), up(v(20)), { ...mm, batch: 1, batchA: 1, transA: true, transB: false })],
  im2col: (b, up) => [b.im2col(up(v(32)), win)],
  col2im: (b, up) => [b.col2im(up(v(18 * 16)), win)],
  maxPool2d: (b, up) => {
    const r = b.maxPool2d(up(v(32)), { ...win, sh: 2, sw: 2, oh: 2, ow: 2 });
    return [r.out, r.indices];
  },
  maxPool2dBackward: (b, up) => {
    const g = { ...win, sh: 2, sw: 2, oh: 2, ow: 2 };
    return [b.maxPool2dBackward(up(v(8)), b.maxPool2d(up(v(32)), g).indices, g)];
  },
  avgPool2d: (b, up) => [b.avgPool2d(up(v(32)), { ...win, countIncludePad: false })],
  avgPool2dBackward: (b, up) => [b.avgPool2dBackward(up(v(32)), { ...win, countIncludePad: true })],
  'batchNorm (training: batch statistics)': (b, up) => {
    const r = b.batchNorm(up(v(32)), [2, 2, 2, 4], up([1.5, -0.5]), up([0.25, 1]), 1e-5);
    return [r.out, r.mean, r.var];
  },
  batchNormBackward: (b, up) => {
    const x = up(v(32));
    const r = b.batchNorm(x, [2, 2, 2, 4], up([1.5, -0.5]), up([0.25, 1]), 1e-5);
    const g = b.batchNormBackward(up(v(32, 3)), x, [2, 2, 2, 4], r.mean, r.var, up([1.5, -0.5]), 1e-5);
    return [g.dx, g.dweight, g.dbias];
  },
  'sgdStep (in place)': (b, up) => {
    const p = up(v(5));
    const m = up(v(5, 2));
    b.sgdStep(p, up(v(5, 3)), m, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true, firstStep: false });
    return [p, m];
  },
  'adamStep (in place)': (b, up) => {
    const p = up(v(5));
    const m = up(v(5, 2));
    const s = up(v(5, 4).map(Math.abs));
    b.adamStep(p, up(v(5, 3)), m, s, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 3 });
    return [p, m, s];
  },
  'matmulEpilogue (fused eval conv → BN → add → ReLU)': (b, up) => {
    const g = { batch: 1, batchA: 1, batchB: 1, m: 3, k: 4, n: 5, transA: false, transB: false };
    const [a, x, scale, shift, res] = [up(v(12)), up(v(20, 5)), up(v(3, 1)), up(v(3, 2)), up(v(15, 3))];
    return [b.matmulEpilogue(a, x, g, { scale, shift, residual: res, relu: true })];
  },
  'convEpilogue (fused eval 3×3 conv → BN → add → ReLU)': (b, up) => {
    const g = { n: 1, c: 2, h: 5, w: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 5, ow: 4 };
    const [x, w, scale, shift, res] = [up(v(40)), up(v(54, 5)), up(v(3, 1)), up(v(3, 2)), up(v(60, 3))];
    return [b.convEpilogue(x, w, g, 3, { scale, shift, residual: res, relu: true })];
  },
  'convForward (a 3×3 conv, training)': (b, up) => {
    const g = { n: 2, c: 2, h: 5, w: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 5, ow: 4 };
    return [b.convForward(up(v(80, 6)), up(v(54, 5)), g, 3).out];
  },
  "convWeightGrad (a 3×3 conv's weight gradient)": (b, up) => {
    const g = { n: 2, c: 2, h: 5, w: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 5, ow: 4 };
    return [b.convWeightGrad(up(v(120, 6)), up(v(80, 5)), null, g, 3)];
  },
  "convInputGrad (a 3×3 conv's input gradient)": (b, up) => {
    const g = { n: 2, c: 2, h: 5, w: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 5, ow: 4 };
    return [b.convInputGrad(up(v(120, 6)), up(v(54, 5)), g, 3)];
  },
};
/** The fast path (src/backend.ts's FastPaths) each case exercises: marked "composed" where withDefaults() supplies it. */
const fastPathOf = (name: string): keyof FastPaths | undefined => FAST_PATHS.find((m) => name === m || name.startsWith(`${m} `));

async function results(b: Backend): Promise<Record<string, Float32Array[] | string>> {
  const out: Record<string, Float32Array[] | string> = {};
  for (const [name, c] of Object.entries(cases)) {
    try {
      const got = c(b, (a) => b.upload(Float32Array.from(a)));
      out[name] = await Promise.all(got.map((s) => b.read(s)));
    } catch (e) {
      out[name] = `error: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return out;
}

/** A backend from the registry by label, completed as setBackend() would. */
const make = (label: string): BackendImpl | Promise<BackendImpl> => {
  const { name, options } = parseBackendLabel(label);
  return BACKENDS.find((e) => e.name === name)!.create(options);
};

const ref = await results(withDefaults(await make('reference')));

interface Column {
  marks: Record<string, string>;
  note?: string;
}

/** Runs every case on one backend and marks each against the reference. */
async function column(start: () => BackendImpl | Promise<BackendImpl>): Promise<Column> {
  let b: Backend;
  let own: Set<keyof FastPaths>;
  try {
    const impl = await start();
    own = ownFastPaths(impl);
    b = withDefaults(impl);
  } catch (e) {
    return { marks: Object.fromEntries(Object.keys(cases).map((n) => [n, '–'])), note: (e as Error).message };
  }
  const got = await results(b);
  const marks: Record<string, string> = {};
  for (const name of Object.keys(cases)) {
    const g = got[name];
    const want = ref[name] as Float32Array[];
    if (typeof g === 'string') marks[name] = `✗ (${g})`;
    else {
      let err = 0;
      g.forEach((arr, i) => arr.forEach((x, j) => (err = Math.max(err, Math.abs(x - want[i][j]) / (1 + Math.abs(want[i][j]))))));
      marks[name] = err > 1e-4 ? `✗ (rel err ${err.toExponential(1)})` : fastPathOf(name) && !own.has(fastPathOf(name)!) ? 'composed' : '✓';
    }
  }
  let note: string | undefined;
  if (b instanceof GpujsBackend) note = `kernels ran as ${[...new Set(b.ranAs.values())].join(', ')}${b.fallbackReason ? `; fallback: ${b.fallbackReason}` : ''}`;
  b.destroy?.();
  return { marks, note };
}

const webgpuColumn = async (): Promise<BackendImpl> => {
  const why = await installWebGPU();
  if (why !== null) throw new Error(why);
  return new GpujsBackend('webgpu');
};

const only = process.argv.indexOf('--column');
if (only >= 0) {
  // Child: one column, as JSON on the last line of stdout.
  if (process.argv[only + 1] !== 'gpujs:webgpu') throw new Error(`--column: only gpujs:webgpu runs apart, got ${process.argv[only + 1]}`);
  console.log(JSON.stringify(await column(webgpuColumn)));
  process.exit(0);
}

const columns: { label: string; make: () => BackendImpl | Promise<BackendImpl>; apart?: boolean }[] = [{ label: 'reference', make: () => make('reference') }];
// The reference backend reduced to the contract's core: every fast path composed (the "composed" marks).
columns.push({ label: 'reference:core-only', make: () => make('reference:core-only') });
if (wasmAvailable()) columns.push({ label: 'wasm', make: () => make('wasm:threads1') });
const unavailable = (): Promise<never> => Promise.reject(new Error('not available here'));
for (const m of GPUJS_MODES.filter((x) => x !== 'webgl')) {
  if (m === 'webgpu') columns.push({ label: 'gpujs:webgpu', make: webgpuColumn, apart: true });
  else columns.push({ label: `gpujs:${m}`, make: () => (gpujsModeAvailable(m) ? make(`gpujs:${m}`) : unavailable()) });
  // Threaded webasm runs its kernels asynchronously (queued ops, no synchronous read).
  if (m === 'webasm') columns.push({ label: 'gpujs:webasm:threads2', make: () => (gpujsThreadsAvailable() ? make('gpujs:webasm:threads2') : unavailable()) });
}

const cells: Record<string, Record<string, string>> = {};
const notes: string[] = [];
for (const col of columns) {
  let c: Column;
  if (col.apart) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--column', col.label], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`the ${col.label} column failed:\n${r.stderr}`);
    c = JSON.parse(r.stdout.trim().split('\n').pop()!) as Column;
  } else c = await column(col.make);
  for (const name of Object.keys(cases)) (cells[name] ??= {})[col.label] = c.marks[name];
  if (c.note) notes.push(`- ${col.label}: ${c.note}`);
}

const labels = columns.map((c) => c.label);
const lines = [
  '# Backend coverage',
  '',
  'Generated by `scripts/coverage-table.ts` (run it under `xvfb-run -a` to include headlessgl): each Backend',
  'primitive is run once per backend/mode on a small input and compared with the reference backend.',
  '✓ agrees (relative error ≤ 1e-4), ✗ disagrees or throws, – backend not available on the generating machine;',
  '"composed": a fast path this backend does not provide, composed from its core by withDefaults() (src/backends/defaults.ts).',
  'Every tensor op, composed op and gradient rule reduces to these primitives.',
  '',
  `| primitive | ${labels.join(' | ')} |`,
  `|---|${labels.map(() => ':---:').join('|')}|`,
  ...Object.keys(cases).map((name) => `| ${name} | ${labels.map((l) => cells[name][l]).join(' | ')} |`),
  '',
  'Notes from the generating run:',
  '',
  ...notes,
  '',
];
writeFileSync(new URL('../docs/coverage.md', import.meta.url), lines.join('\n'));
console.log(lines.join('\n'));
