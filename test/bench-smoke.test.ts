// Smoke test of the benchmark suite: every entry runs once at a tiny size on the reference backend, so the
// suite cannot rot. Needs no peers; the tfjs network builder is checked only where bench/ has tfjs installed.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed, noGrad, resnet18, resnet50, setBackend, tensor, type ResNet, type ResNetOptions } from '../src/index.js';
import { relMaxErr } from '../bench/common.js';
import { runE2E, trainLabels } from '../bench/e2e.js';
import { runKernels } from '../bench/kernels.js';
import { seededInput } from '../bench/peers/fixture.js';
import { loadTf, TfResNet, type Weights } from '../bench/peers/tfjs.js';
import { BEGIN, END, writeResults, type Report } from '../bench/results.js';
import { distinctConvs, resnet50Flop, resnetConvs } from '../bench/shapes.js';

const TINY: ResNetOptions = { layers: [1, 1, 1, 1], widths: [4, 4, 4, 8], numClasses: 10 };
const tiny = (): ResNet => resnet50(TINY);
const log = (): void => {};

describe('bench: ResNet-50 shapes', () => {
  it('counts torchvision resnet50 at 224²: 53 convolutions, 23 distinct, 4.089 GMAC', () => {
    expect(resnetConvs(224)).toHaveLength(53);
    expect(distinctConvs(224)).toHaveLength(23);
    // 4,089,184,256 multiply-adds including the 2048→1000 classifier (torchvision's count).
    expect(resnet50Flop(224) / 2).toBe(4_089_184_256);
  });
});

describe('bench: entries run once at a tiny size', () => {
  it('kernels', async () => {
    await setBackend('reference');
    const rows = await runKernels(['reference'], { size: 16, maxConvs: 2, gemms: [[4, 8, 6]], timeMs: 1, minIter: 1, log });
    expect(rows.length).toBeGreaterThan(8);
    for (const r of rows) {
      expect(r.note, r.work).toBeUndefined();
      expect(r.timing && r.timing.medianMs >= 0 && r.timing.samples >= 1, r.work).toBe(true);
    }
  });

  it('end to end: eval forward and a training step, from shared weights', async () => {
    await setBackend('reference');
    manualSeed(3);
    const src = tiny();
    const weights = src.stateDict();
    const input = seededInput(2 * 3 * 16 * 16, 5);
    const [res] = await runE2E(['reference'], {
      makeModel: tiny,
      weights,
      evalInput: input.subarray(0, 3 * 16 * 16),
      evalShape: [1, 3, 16, 16],
      flopAt: () => 1,
      train: [{ key: '16² b2', batch: 2, size: 16, input, labels: trainLabels(2, 10) }],
      skip: () => null,
      timeMs: 1,
      minIter: 1,
      log,
    });
    expect(res.error).toBeUndefined();
    // The benchmark's model got the shared weights: its logits are the source model's.
    const want = noGrad(() => src.eval().forward(tensor(input.subarray(0, 3 * 16 * 16), [1, 3, 16, 16])));
    expect(relMaxErr(res.eval?.logits ?? new Float32Array(), await want.data())).toBeLessThan(1e-6);
    expect(res.train).toHaveLength(1);
    expect(Number.isFinite(res.train[0].firstLoss)).toBe(true);
    want.dispose();
    src.dispose();
  });

  it('budgets: a backend predicted to overrun is skipped with a note, not run', async () => {
    await setBackend('reference');
    manualSeed(3);
    const src = tiny();
    const [res] = await runE2E(['reference'], {
      makeModel: tiny,
      weights: src.stateDict(),
      evalInput: new Float32Array(3 * 64 * 64),
      evalShape: [1, 3, 64, 64],
      flopAt: (s) => s * s,
      train: [],
      skip: () => null,
      timeMs: 1,
      minIter: 1,
      budgetMs: 1e-3,
      log,
    });
    expect(res.eval).toBeUndefined();
    expect(res.error).toMatch(/^skipped: predicted .* per forward/);
    const rows = await runKernels(['reference'], { size: 16, maxConvs: 1, gemms: [], timeMs: 1, minIter: 1, budgetMs: -1, log });
    expect(rows.every((r) => r.note === 'skipped: time budget spent')).toBe(true);
    src.dispose();
  });

  it('the runner CLI (kernels part, quick, reference)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--part', 'kernels', '--backends', 'reference', '--quick', '--no-write'], { encoding: 'utf8', timeout: 110_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/gpugrad reference conv 3→64 7×7\/2/);
  });

  it('peak memory of a forward, in a fresh process (bench/peak-mem.ts, quick)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/peak-mem.ts', '--backend', 'wasm', '--threads', '1', '--quick'], { encoding: 'utf8', timeout: 110_000 });
    expect(r.status, r.stderr).toBe(0);
    const cells = r.stdout.trim().split('|').map((c) => c.trim()).filter(Boolean);
    expect(cells.slice(0, 3)).toEqual(['wasm', '1', '32² b1']);
    const [start, withModel, peak] = cells.slice(3).map(Number);
    expect(start > 0 && withModel >= start && peak >= withModel).toBe(true);
  });

  it('the training-step profile and the interleaved step comparison (bench/train-profile.ts, bench/train-ab.ts, tiny)', () => {
    const prof = spawnSync(process.execPath, ['--import', 'tsx', 'bench/train-profile.ts', '.', '32', '2', '1', '1'], { encoding: 'utf8', timeout: 110_000 });
    expect(prof.status, prof.stderr).toBe(0);
    expect(prof.stdout).toMatch(/outside \(engine\)/);
    expect(prof.stdout).toMatch(/calls {2}matmul/);
    const ab = spawnSync(process.execPath, ['--import', 'tsx', 'bench/train-ab.ts', '32', '2', '1', '.', '--per=1', '--threads=1', '--no-torch'], { encoding: 'utf8', timeout: 110_000 });
    expect(ab.status, ab.stderr).toBe(0);
    expect(ab.stdout).toMatch(/ResNet-50 train 32² b2, 1 threads, 1 rounds × 1 steps\ngpugrad .*: median \d+ ms, min \d+ ms/);
  }, 240_000);

  it('rejects an unknown part', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--part', 'nope', '--no-write'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown part/);
  });
});

describe('bench: RESULTS.md generation', () => {
  const report = (system: string): Report => ({
    command: 'npm run bench -- --quick',
    date: '2026-01-01T00:00:00Z',
    machine: { cpu: 'cpu', cores: 2, memGiB: 1, node: 'v20', os: 'linux' },
    quick: true,
    backends: ['reference'],
    rows: [
      { part: 'e2e', work: 'eval', system: `gpugrad ${system}`, flop: 2e9, timing: { coldMs: 20, medianMs: 10, samples: 3 }, relErr: 1e-6 },
      { part: 'peers', work: 'eval', system: 'peer', flop: 2e9, timing: { coldMs: 5, medianMs: 5, samples: 3 }, relErr: 1e-6 },
      { part: 'peers', work: 'eval', system: 'wrong peer', flop: 2e9, relErr: 0.5, note: 'logits disagree: time withheld' },
    ],
    notes: [],
  });

  it('replaces only its own section and keeps sections other benchmarks append', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bench-')), 'RESULTS.md');
    writeResults(path, report('first'));
    writeFileSync(path, `${readFileSync(path, 'utf8')}\n## GEMM (bench/gemm.ts)\n\nkept table\n`);
    writeResults(path, report('second'));
    const text = readFileSync(path, 'utf8');
    expect(text.split(BEGIN)).toHaveLength(2);
    expect(text.split(END)).toHaveLength(2);
    expect(text).toContain('kept table');
    expect(text).not.toContain('gpugrad first');
    expect(text).toContain('gpugrad second');
    // The ratio of each peer to gpugrad's best, and no time for a peer that disagrees.
    expect(text).toMatch(/\| eval \| peer \| 5\.0 ms \| 5\.0 ms \| 400\.00 \| 1\.0e-6 \| 2\.00× \|/);
    expect(text).toMatch(/\| eval \| wrong peer \| – \| – \| – \| 5\.0e-1 ✗ \| logits disagree/);
  });
});

const tfInstalled = existsSync(new URL('../bench/node_modules/@tensorflow/tfjs-core', import.meta.url));

describe.skipIf(!tfInstalled)('bench: the tfjs peer builds the same network in NHWC', () => {
  /** The TensorFlow.js builder of bench/peers/tfjs-model.ts on gpugrad's weights gives gpugrad's logits. */
  async function agrees(make: () => ResNet, inputSeed: number): Promise<void> {
    const tf = await loadTf();
    if (typeof tf === 'string') throw new Error(tf);
    await tf.setBackend('cpu');
    await setBackend('reference');
    const model = make().eval();
    const w: Weights = new Map();
    for (const [k, t] of model.stateDict()) w.set(k, { shape: t.shape, data: await t.data() });
    const input = seededInput(2 * 3 * 24 * 24, inputSeed);
    const want = noGrad(() => model.forward(tensor(input, [2, 3, 24, 24])));
    const tm = new TfResNet(tf, w);
    const x = tf.transpose(tf.tensor(input, [2, 3, 24, 24]), [0, 2, 3, 1]);
    const got = await tm.forward(x).data();
    expect(relMaxErr(got, await want.data())).toBeLessThan(1e-4);
    tm.dispose();
    model.dispose();
    want.dispose();
  }

  it('agrees with gpugrad on a tiny ResNet', () => agrees(() => (manualSeed(4), tiny()), 6));

  it('agrees with gpugrad on a tiny basic-block ResNet (ResNet-18 layout: stride on conv1, no conv3)', () => agrees(() => (manualSeed(5), resnet18(TINY)), 7));
});
