// The benchmark entry (`npm run bench -- [options]`): kernels, end to end, the peers on the same weights and
// input, and the other engineers' GEMM benchmarks; writes bench/RESULTS.md.
//
//   --part kernels,e2e,peers,gemm   parts to run (default: all)
//   --backends reference,gpujs:webasm,wasm   gpugrad backends (default: every available test backend)
//   --quick                          tiny sizes and few iterations: checks the plumbing, measures nothing
//   --budget-s N                     wall-time budget per gpugrad backend for e2e (default 120 s; kernels get N/2):
//                                    slow backends skip what would overrun it, with a note in the results
//   --note TEXT                      a line on the conditions of the run, printed in RESULTS.md
//   --out PATH | --no-write          where to write the results (default bench/RESULTS.md)
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { enableRelaxedSimd, loadSafetensors, resnet50, setBackend } from '../src/node.js';
import { AGREE, fmtMs, machine, relMaxErr, type Row } from './common.js';
import { defaultBackends, unknownBackends } from './backends.js';
import { runE2E, trainLabels, LR, MOMENTUM, type TrainConfig } from './e2e.js';
import { runKernels } from './kernels.js';
import { BENCH_DIR, CACHE, prepareFixture, seededInput, writeF32 } from './peers/fixture.js';
import { runOrtNode, runOrtWeb, type PeerResult } from './peers/ort.js';
import { runTfjs, type Weights } from './peers/tfjs.js';
import { runTorch } from './peers/torch.js';
import { resnet50Flop } from './shapes.js';
import { writeResults } from './results.js';

// The wasm tier's fused multiply-add kernels (relaxed SIMD; `npm run bench` passes Node 20's flag, this covers
// direct runs); GPUGRAD_WASM_RELAXED=0 measures the plain SIMD128 kernels.
if (process.env.GPUGRAD_WASM_RELAXED !== '0') enableRelaxedSimd();

const PARTS = ['kernels', 'e2e', 'peers', 'gemm'];

interface Args {
  parts: Set<string>;
  backends: string[] | null;
  quick: boolean;
  budgetS: number | null;
  note: string | null;
  out: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { parts: new Set(PARTS), backends: null, quick: false, budgetS: null, note: null, out: join(BENCH_DIR, 'RESULTS.md') };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=');
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--part' || flag === '--parts') {
      const ps = value().split(',').filter(Boolean);
      const bad = ps.filter((p) => !PARTS.includes(p));
      if (bad.length) throw new Error(`unknown part(s) ${bad.join(', ')} (parts: ${PARTS.join(', ')})`);
      a.parts = new Set(ps);
    } else if (flag === '--backends') a.backends = value().split(',').filter(Boolean);
    else if (flag === '--quick') a.quick = true;
    else if (flag === '--out') a.out = value();
    else if (flag === '--note') a.note = value();
    else if (flag === '--budget-s') {
      a.budgetS = Number(value());
      if (!(a.budgetS > 0)) throw new Error('--budget-s needs a positive number of seconds');
    }
    else if (flag === '--no-write') a.out = null;
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: npm run bench -- [--part kernels,e2e,peers,gemm] [--backends reference,gpujs:webasm,wasm] [--quick] [--budget-s N] [--note TEXT] [--out PATH | --no-write]');
      process.exit(0);
    } else throw new Error(`unknown option ${argv[i]}`);
  }
  return a;
}

const log = (s: string): void => console.log(s);

/**
 * Runs the GEMM micro-benchmark files (other engineers' work) as processes of their own; what they print
 * (a markdown table) goes into RESULTS.md under their name.
 */
function runGemmFiles(quick: boolean, notes: string[], sections: { title: string; body: string }[]): void {
  for (const f of ['gemm.ts', 'wasm-gemm.ts']) {
    const path = join(BENCH_DIR, f);
    if (!existsSync(path)) {
      notes.push(`bench/${f} not present: its GEMM benchmark was not run.`);
      continue;
    }
    log(`[gemm] bench/${f}`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', path, ...(quick ? ['--quick', '--time', '100'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
    process.stdout.write(r.stdout ?? '');
    if (r.status !== 0) notes.push(`bench/${f} exited with status ${r.status}.`);
    else sections.push({ title: `GEMM: bench/${f}`, body: (r.stdout ?? '').trim() });
  }
}

/**
 * Peak resident memory of a ResNet-50 eval forward (224² b1) per wasm backend, each in a fresh process
 * (bench/peak-mem.ts) so that earlier benchmarks do not inflate it.
 */
function runPeakMem(backends: string[], quick: boolean, notes: string[], sections: { title: string; body: string }[]): void {
  const rows: string[] = [];
  for (const b of backends) {
    const m = /^wasm(?::threads(\d+))?$/.exec(b);
    if (!m) continue;
    const threads = m[1] ?? '1';
    log(`[memory] ${b}`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'peak-mem.ts'), '--backend', 'wasm', '--threads', threads, ...(quick ? ['--quick'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) notes.push(`bench/peak-mem.ts for ${b} exited with status ${r.status}.`);
    else rows.push((r.stdout ?? '').trim());
  }
  if (!rows.length) return;
  process.stdout.write(rows.join('\n') + '\n');
  sections.push({
    title: 'Peak memory: ResNet-50 eval forward (bench/peak-mem.ts, one fresh process per row)',
    body: ['| backend | threads | input | RSS at start MB | RSS with the model MB | peak RSS over two forwards MB |', '|---|---:|---|---:|---:|---:|', ...rows].join('\n'),
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const q = args.quick;
  const rows: Row[] = [];
  const notes: string[] = [];
  const sections: { title: string; body: string }[] = [];
  const m = machine();
  log(`gpugrad bench on ${m.cpu} (${m.cores} cores), Node ${m.node}${q ? ' — quick: plumbing only' : ''}`);

  let backends = args.backends ?? (await defaultBackends());
  if (args.backends) {
    const bad = unknownBackends(backends);
    for (const b of bad) notes.push(`backend '${b}' is not registered; skipped.`);
    backends = backends.filter((b) => !bad.includes(b));
  }
  log(`backends: ${backends.join(', ')}`);
  const budgetMs = (args.budgetS ?? (q ? 30 : 120)) * 1000;

  if (args.parts.has('kernels')) {
    log('[kernels]');
    rows.push(...(await runKernels(backends, { size: q ? 32 : 224, gemms: q ? [[16, 27, 256], [32, 64, 49]] : undefined, maxConvs: q ? 4 : undefined, timeMs: q ? 20 : 300, minIter: q ? 1 : 3, budgetMs: budgetMs / 2, log })));
  }
  if (args.parts.has('gemm')) runGemmFiles(q, notes, sections);

  if (args.parts.has('e2e') || args.parts.has('peers')) {
    const size = q ? 32 : 224;
    const flopAt = (s: number): number => resnet50Flop(s);
    log('[fixture]');
    const fx = await prepareFixture(size, 1, log);
    if (fx.exportNote) notes.push(`No ONNX model or PyTorch reference: ${fx.exportNote}.`);
    await setBackend('reference');
    const weights = await loadSafetensors(fx.weightsPath);
    const evalWork = `eval forward ${size}² b1`;
    const evalFlop = flopAt(size);

    // Training inputs, shared with PyTorch through files.
    // Quick: batch 4, since batch norm over layer4's 1×1 maps at batch 2 is too ill-conditioned to compare losses.
    const trainSpecs = q ? [{ batch: 4, size: 32 }] : [{ batch: 8, size: 32 }, { batch: 1, size: 224 }];
    const train: (TrainConfig & { inputPath: string })[] = [];
    for (const [i, t] of trainSpecs.entries()) {
      const input = seededInput(t.batch * 3 * t.size * t.size, 100 + i);
      const inputPath = join(CACHE, `train-${t.size}-b${t.batch}.f32`);
      await writeF32(inputPath, input);
      train.push({ key: `${t.size}² b${t.batch}`, batch: t.batch, size: t.size, input, labels: trainLabels(t.batch, 1000), inputPath });
    }
    const trainWork = (key: string): string => `train step ${key} (SGD momentum)`;
    const trainFlop = (t: TrainConfig): number => 3 * t.batch * flopAt(t.size);

    // gpugrad
    let gpugradLogits: Float32Array | null = null;
    let gpugradLogitsFrom = '';
    const gLoss = new Map<string, number>();
    // gpugrad's training rows with their first-step losses, checked against PyTorch's once it has run.
    const lossRows: { key: string; loss: number; row: Row }[] = [];
    if (args.parts.has('e2e')) {
      log('[e2e]');
      const results = await runE2E(backends, {
        makeModel: () => resnet50(),
        weights,
        evalInput: fx.input,
        evalShape: fx.shape,
        flopAt,
        train,
        // The float64 reference backend is the oracle, not a contender: its 224² training step alone
        // would take minutes, so it runs only the small configuration.
        skip: (b, key) => (b === 'reference' && !q && key.startsWith('224') ? 'skipped: too slow for the time budget (the oracle backend)' : null),
        timeMs: q ? 10 : 4000,
        minIter: q ? 1 : 3,
        budgetMs,
        log,
      });
      for (const r of results) {
        const system = `gpugrad ${r.ranAs}`;
        if (r.error) {
          rows.push({ part: 'e2e', work: evalWork, system, flop: evalFlop, note: r.error.startsWith('skipped') ? r.error : `failed: ${r.error}` });
          continue;
        }
        if (r.eval) {
          const relErr = fx.torchLogits ? relMaxErr(r.eval.logits, fx.torchLogits) : undefined;
          const bad = relErr !== undefined && !(relErr <= AGREE);
          rows.push({ part: 'e2e', work: evalWork, system, timing: r.eval.timing, flop: evalFlop, relErr, note: bad ? 'disagrees with PyTorch: time withheld' : undefined });
          if (!bad && !gpugradLogits) {
            gpugradLogits = r.eval.logits;
            gpugradLogitsFrom = system;
          }
        }
        for (const t of r.train) {
          const cfg = train.find((c) => c.key === t.key) as TrainConfig;
          if (t.firstLoss !== undefined && !gLoss.has(t.key)) gLoss.set(t.key, t.firstLoss);
          const row: Row = { part: 'e2e', work: trainWork(t.key), system, timing: t.timing, flop: trainFlop(cfg), note: t.note };
          rows.push(row);
          if (t.firstLoss !== undefined) lossRows.push({ key: t.key, loss: t.firstLoss, row });
        }
      }
      runPeakMem(backends, q, notes, sections);
      if (fx.torchLogits) notes.push('gpugrad\'s eval logits are checked against PyTorch\'s (torchvision resnet50, same safetensors weights) in the error column.');
    }

    if (args.parts.has('peers')) {
      log('[peers]');
      // Peers are checked against gpugrad's logits; without a gpugrad run, against PyTorch's.
      const ref = gpugradLogits ?? fx.torchLogits;
      const refName = gpugradLogits ? gpugradLogitsFrom : 'PyTorch (no gpugrad e2e in this run)';
      notes.push(`Peer logits are compared with ${refName}.`);
      const pt = q ? 10 : 3000;
      const pi = q ? 1 : 5;
      // Each peer is checked, logged and recorded as soon as it has run.
      const record = (peers: PeerResult[]): void => {
        for (const p of peers) {
          if (p.skipped || !p.logits || !p.timing) {
            rows.push({ part: 'peers', work: evalWork, system: p.system, flop: evalFlop, note: `skipped: ${p.skipped ?? 'no result'}` });
            log(`  ${p.system}: skipped: ${p.skipped}`);
            continue;
          }
          const relErr = ref ? relMaxErr(p.logits, ref) : undefined;
          const ok = relErr !== undefined && relErr <= AGREE;
          rows.push({ part: 'peers', work: evalWork, system: p.system, timing: ok ? p.timing : undefined, flop: evalFlop, relErr, note: ok ? undefined : relErr === undefined ? 'no reference logits: time withheld' : 'logits disagree: time withheld' });
          log(`  ${p.system}: ${ok ? `median ${fmtMs(p.timing.medianMs)}` : 'DISAGREES'} (rel err ${relErr?.toExponential(2)})`);
        }
      };
      if (fx.onnxPath) {
        record(await runOrtNode(fx.onnxPath, fx.input, fx.shape, [1, 2], pt, pi));
        record(await runOrtWeb(fx.onnxPath, fx.inputPath, fx.shape, [1, 2], pt, pi));
      } else notes.push('onnxruntime peers skipped: no ONNX export.');
      const w: Weights = new Map();
      for (const [k, t] of weights) w.set(k, { shape: t.shape, data: t.dataSync() });
      record(await runTfjs(w, fx.input, fx.shape, ['wasm'], pt, pi));
      // tfjs's pure-JS cpu backend takes ~10 s per 224² forward (peers.md): two warm calls are enough.
      record(await runTfjs(w, fx.input, fx.shape, ['cpu'], q ? 10 : 1, q ? 1 : 2));
      const torch = await runTorch(fx.weightsPath, { inputPath: fx.inputPath, shape: fx.shape }, train.map((t) => ({ key: t.key, inputPath: t.inputPath, shape: [t.batch, 3, t.size, t.size], labels: t.labels, lr: LR, momentum: MOMENTUM })), q ? 10 : 4000, q ? 1 : 3);
      if (torch.skipped) notes.push(`PyTorch skipped: ${torch.skipped}.`);
      if (torch.eval) record([torch.eval]);
      for (const t of torch.train) {
        const cfg = train.find((c) => c.key === t.key) as TrainConfig;
        const g = gLoss.get(t.key);
        const lossErr = g === undefined ? undefined : Math.abs(g - t.firstLoss) / Math.max(1, Math.abs(t.firstLoss));
        if (lossErr !== undefined) notes.push(`Training ${t.key}: first-step loss PyTorch ${t.firstLoss.toFixed(6)}, gpugrad ${(g as number).toFixed(6)} (relative difference ${lossErr.toExponential(1)}).`);
        const ok = lossErr === undefined || lossErr <= AGREE;
        for (const lr of lossRows.filter((x) => x.key === t.key)) lr.row.relErr = Math.abs(lr.loss - t.firstLoss) / Math.max(1, Math.abs(t.firstLoss));
        rows.push({ part: 'peers', work: trainWork(t.key), system: torch.eval?.system ?? 'PyTorch CPU', timing: ok ? t.timing : undefined, flop: trainFlop(cfg), relErr: lossErr, note: ok ? undefined : 'first-step loss disagrees: time withheld' });
        log(`  PyTorch train ${t.key}: median ${fmtMs(t.timing.medianMs)}, first loss ${t.firstLoss.toFixed(5)}`);
      }
      notes.push('TensorFlow.js training is not timed: its `cpu` backend takes ~97 s per 32² batch-8 step and its `wasm` backend lacks Conv2DBackpropFilter (tfjs-backend-wasm registers no such kernel).');
      notes.push('onnxruntime runs inference only; its training package is not part of the peers.');
    }
    for (const t of weights.values()) t.dispose();
  }

  if (args.out) {
    writeResults(args.out, {
      command: `npm run bench --${process.argv.slice(2).length ? ' ' + process.argv.slice(2).map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ') : ''}`,
      conditions: args.note,
      date: new Date().toISOString(),
      machine: m,
      quick: q,
      backends,
      rows,
      notes,
      sections,
    });
    log(`wrote ${args.out}`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
