// Where a ResNet-50 training step's time goes, per backend method: wraps every method of the current backend
// with a timer (outermost calls only, so a method calling another is counted once) and runs a few SGD-momentum
// steps; prints ms per step and calls per step for each method (and per op/shape detail with --detail), and the
// time outside backend methods (the engine: autograd, shape checks, allocation bookkeeping).
// usage: node --experimental-wasm-relaxed-simd --import tsx bench/train-profile.ts [root=.] [size=224] [batch=1]
//        [steps=3] [threads=2] [--detail] [--fma]     (root: a checkout, to profile another tree the same way)
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')));
const root = args[0] ?? '.';
const [size, batch, steps, threads] = [args[1] ?? '224', args[2] ?? '1', args[3] ?? '3', args[4] ?? '2'].map(Number);
const g = await import(`${root === '.' ? process.cwd() : root}/src/index.js`);
const opts: Record<string, unknown> = { threads };
if (flags.has('--fma')) opts.fmaTraining = true;
await g.setBackend('wasm', opts);
const be = g.currentBackend() as unknown as Record<string, unknown>;
g.manualSeed(0);
const model = g.resnet50();
model.train();
const opt = new g.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
const x = g.randn([batch, 3, size, size]);
const labels = Array.from({ length: batch }, (_, i) => (i * 37) % 1000);
const step = (): number => {
  const l = g.tidy(() => {
    opt.zeroGrad();
    const loss = g.F.crossEntropy(model.forward(x), labels);
    loss.backward();
    opt.step();
    return loss;
  });
  const v = l.itemSync ? l.itemSync() : 0;
  l.dispose();
  return v;
};

const totals = new Map<string, { ms: number; calls: number }>();
let depth = 0;
let recording = false;
const detail = flags.has('--detail');
const describe = (m: string, a: unknown[]): string => {
  if (!detail) return m;
  const sh = (s: unknown): string => (Array.isArray(s) ? `[${s.join(',')}]` : '');
  switch (m) {
    case 'binary': return `binary ${a[0]} ${sh(a[2])}${sh(a[4])}`;
    case 'unary': return `unary ${a[0]}`;
    case 'reduce': return `reduce ${a[0]} ${sh(a[2])} axes ${sh(a[3])}`;
    case 'permute': return `permute ${sh(a[1])} ${sh(a[2])}`;
    case 'matmul': { const q = a[2] as { m: number; k: number; n: number; transA: boolean; transB: boolean; batch: number }; return `matmul b${q.batch} ${q.m}x${q.k}x${q.n} ${q.transA ? 'T' : 'N'}${q.transB ? 'T' : 'N'}`; }
    case 'im2col': case 'col2im': { const q = a[1] as { c: number; h: number; kh: number; sh: number }; return `${m} c${q.c} h${q.h} k${q.kh} s${q.sh}`; }
    case 'batchNorm': case 'batchNormBackward': return `${m} ${sh(a[m === 'batchNorm' ? 1 : 2])}`;
    default: return m;
  }
};
for (const m of process.env.NOWRAP ? [] : Object.getOwnPropertyNames(Object.getPrototypeOf(be)).concat(Object.keys(be))) {
  const f = be[m];
  if (typeof f !== 'function' || m === 'constructor' || m.startsWith('_')) continue;
  be[m] = function (this: unknown, ...a: unknown[]) {
    if (!recording || depth > 0) {
      depth++;
      try { return f.apply(this, a); } finally { depth--; }
    }
    depth++;
    const t0 = performance.now();
    try {
      return f.apply(this, a);
    } finally {
      const dt = performance.now() - t0;
      depth--;
      const k = describe(m, a);
      const e = totals.get(k) ?? { ms: 0, calls: 0 };
      e.ms += dt;
      e.calls++;
      totals.set(k, e);
    }
  };
}

for (let i = 0; i < 2; i++) step();
recording = true;
const stepMs: number[] = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  step();
  stepMs.push(performance.now() - t0);
}
const total = stepMs.reduce((a, b) => a + b, 0) / steps;
const rows = [...totals].map(([k, v]) => ({ k, ms: v.ms / steps, calls: v.calls / steps })).sort((a, b) => b.ms - a.ms);
const inBackend = rows.reduce((a, r) => a + r.ms, 0);
console.log(`root ${root}  ${size}² b${batch}  threads ${threads}${flags.has('--fma') ? ' fma' : ''}  step ms: ${stepMs.map((t) => t.toFixed(0)).join(', ')}  mean ${total.toFixed(1)}`);
console.log(`backend methods ${inBackend.toFixed(1)} ms, outside (engine) ${(total - inBackend).toFixed(1)} ms`);
for (const r of rows.filter((r) => !detail || !r.k.startsWith("matmul") || r.ms > 8).slice(0, detail ? 400 : 30)) console.log(`${r.ms.toFixed(2).padStart(9)} ms ${String(r.calls).padStart(6)} calls  ${r.k}`);
process.exit(0);
