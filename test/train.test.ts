// Training end to end: deterministic per backend, resumable from saved weights + optimizer state with the
// same loss curve, stopped on a non-finite loss without touching the saved weights, memory-stable per step,
// and `predict` reading what `train` wrote.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { F, manualSeed, memory, readSafetensors, readSafetensorsMetadata, registeredBackends, setBackend, tensor, tidy, writeSafetensors } from '../src/index.js';
import { buildNet, digitNetConfig } from '../src/cli/model.js';
import { accumulateMicroBatch, type TrainLog } from '../src/cli/train.js';
import { DataLoader, loadMnistPackage, subset } from '../src/data/index.js';
import { encodePng } from '../src/io/image.js';
import { SGD } from '../src/optim/index.js';
import { hasStack, runCli } from './helpers/cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'gpugrad-train-'));
// Tiny settings: 64 training images in batches of 16 (4 steps per epoch), 40 held out, a width-2 net.
const TINY = ['--train-limit', '64', '--holdout', '40', '--batch-size', '16', '--width', '2', '--no-progress'];
const readLog = (d: string): TrainLog => JSON.parse(readFileSync(join(d, 'log.json'), 'utf8')) as TrainLog;
const losses = (d: string): number[] => readLog(d).steps.map((s) => s.loss);

const backends = ['reference', 'wasm', 'gpujs'].filter((b) => registeredBackends().includes(b));

for (const backend of backends) {
  describe(`training on ${backend}`, () => {
    it('is deterministic: two runs with the same seed give identical losses; another seed differs', async () => {
      const run = async (name: string, seed: string): Promise<number[]> => {
        const out = join(root, `${backend}-${name}`);
        const r = await runCli(['train', ...TINY, '--epochs', '1', '--backend', backend, '--seed', seed, '--out', out]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).not.toMatch(/tensors still live/);
        return losses(out);
      };
      const [a, b, c] = await Promise.all([run('a', '3'), run('b', '3'), run('c', '4')]);
      expect(a).toHaveLength(4);
      expect(a.every(Number.isFinite)).toBe(true);
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
    });

    it('resuming from saved weights and optimizer state continues the same loss curve', async () => {
      const straight = join(root, `${backend}-straight`);
      const resumed = join(root, `${backend}-resumed`);
      const common = [...TINY, '--backend', backend, '--optimizer', 'adamw', '--lr', '0.01', '--shift', '1'];
      const [s, first] = await Promise.all([runCli(['train', ...common, '--epochs', '2', '--out', straight]), runCli(['train', ...common, '--epochs', '2', '--stop-after', '1', '--out', resumed])]);
      expect(s.code).toBe(0);
      expect(first.code).toBe(0);
      expect(losses(resumed)).toHaveLength(4);
      const r = await runCli(['train', '--resume', resumed, '--backend', backend, '--no-progress']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/resuming after epoch 1/);
      // The CLI compares memory() before building the model and after disposing it.
      expect(r.stdout).not.toMatch(/tensors still live/);
      expect(losses(resumed)).toHaveLength(8);
      expect(losses(resumed)).toEqual(losses(straight));
      expect(readLog(resumed).epochs.map((e) => e.heldOutAccuracy)).toEqual(readLog(straight).epochs.map((e) => e.heldOutAccuracy));
      expect(readFileSync(join(resumed, 'model.safetensors'))).toEqual(readFileSync(join(straight, 'model.safetensors')));
    });
  });
}

describe('training failures', () => {
  it('a non-finite loss stops training naming the step, and the last good weights stay on disk', async () => {
    const out = join(root, 'nan');
    const ok = await runCli(['train', ...TINY, '--epochs', '1', '--out', out]);
    expect(ok.code).toBe(0);
    const before = readFileSync(join(out, 'model.safetensors'));
    const r = await runCli(['train', ...TINY, '--epochs', '2', '--lr', '1e30', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stopped: the loss became (NaN|Infinity|-Infinity) at step \d+ \(epoch \d, batch \d\); .*model\.safetensors keeps the last good weights/);
    expect(hasStack(r.stdout + r.stderr)).toBe(false);
    expect(readFileSync(join(out, 'model.safetensors'))).toEqual(before);
    expect(readLog(out).stopped?.step).toBeGreaterThan(0);
  });

  it('saved weights that are non-finite are never called good: --resume refuses them and says why', async () => {
    const out = join(root, 'nan-weights');
    const ok = await runCli(['train', ...TINY, '--epochs', '2', '--stop-after', '1', '--out', out]);
    expect(ok.code).toBe(0);
    // Poison the committed weights (as an older gpugrad could have saved them) and commit their new hash.
    const manifest = JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as { files: { model: { path: string; bytes: number; sha256: string } } };
    const path = join(out, manifest.files.model.path);
    const bytes = readFileSync(path);
    const state = readSafetensors(bytes);
    const poisoned = new Map([...state].map(([k, t]) => [k, k.endsWith('num_batches_tracked') ? t : tensor(new Float32Array(t.size).fill(NaN), [...t.shape])]));
    const nan = writeSafetensors(poisoned, { metadata: readSafetensorsMetadata(bytes) });
    for (const t of new Set([...state.values(), ...poisoned.values()])) t.dispose();
    writeFileSync(path, nan);
    manifest.files.model.bytes = nan.length;
    manifest.files.model.sha256 = createHash('sha256').update(nan).digest('hex');
    writeFileSync(join(out, 'checkpoint.json'), JSON.stringify(manifest));
    const r = await runCli(['train', '--resume', out, '--no-progress']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--resume .*: the saved weights of epoch 1 hold non-finite values \('[\w.]+' has NaN\); a run cannot continue from them/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // A run stopped by a non-finite loss in that directory does not call them the last good weights either.
    const s = await runCli(['train', ...TINY, '--epochs', '1', '--lr', '1e30', '--out', out]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/model\.safetensors holds non-finite values \('[\w.]+' has NaN\) from an earlier run and is no usable checkpoint/);
    expect(s.stderr).not.toMatch(/good weights/);
  });

  it('resuming a directory that is not a run is refused', async () => {
    const r = await runCli(['train', '--resume', join(root, 'nowhere')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no log\.json there/);
  });
});

describe('gradient accumulation (--accumulate N)', () => {
  it('N micro-batches with the loss scaled by 1/N step as one N×-batch step (eval-mode batch norm)', async () => {
    await setBackend('reference');
    const ds = subset(loadMnistPackage(), Array.from({ length: 12 }, (_, i) => i * 300));
    const x = Float32Array.from(ds.pixels, (v) => v / 255);
    const build = () => {
      manualSeed(5);
      const model = buildNet(digitNetConfig(2, [1, 1, 1, 1], 2), true);
      // Eval mode: batch norm uses its running statistics, the one thing that legitimately differs with batch size.
      model.eval();
      return { model, opt: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }) };
    };
    const big = build();
    const acc = build();
    const xs = (a: number, b: number) => tensor(x.subarray(a * 784, b * 784), [b - a, 1, 28, 28]);
    for (let step = 0; step < 2; step++) {
      const whole = xs(0, 12);
      const r = accumulateMicroBatch(big.model, big.opt, whole, ds.labels, true, 1);
      big.opt.step();
      const micro: number[] = [];
      for (const [a, b] of [[0, 4], [4, 8], [8, 12]]) {
        const part = xs(a, b);
        const m = accumulateMicroBatch(acc.model, acc.opt, part, ds.labels.subarray(a, b), a === 0, 3);
        micro.push(m.loss.itemSync());
        for (const t of [part, m.loss, m.logits]) t.dispose();
      }
      acc.opt.step();
      // The mean of the micro-batch losses is the big batch's loss; the parameters move alike.
      expect(micro.reduce((u, v) => u + v) / 3).toBeCloseTo(r.loss.itemSync(), 5);
      for (const t of [whole, r.loss, r.logits]) t.dispose();
      const pa = big.model.parameters();
      const pb = acc.model.parameters();
      pa.forEach((p, i) => {
        const [u, v] = [p.dataSync(), pb[i].dataSync()];
        for (let j = 0; j < u.length; j++) expect(Math.abs(u[j] - v[j])).toBeLessThan(1e-5 + 1e-5 * Math.abs(u[j]));
      });
    }
    for (const m of [big, acc]) {
      m.opt.dispose();
      m.model.dispose();
    }
  });

  it('the CLI takes N micro-batches per optimizer step, the last step of an epoch taking what is left', async () => {
    const runs = await Promise.all(
      ['2', '3'].map(async (n) => {
        const out = join(root, `accumulate-${n}`);
        const r = await runCli(['train', ...TINY, '--epochs', '1', '--backend', 'reference', '--accumulate', n, '--out', out]);
        return { r, log: readLog(out) };
      }),
    );
    for (const { r } of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/tensors still live/);
    }
    // 64 images in micro-batches of 16: 4 per epoch, so 2 steps at N=2 and 2 (3 + 1) at N=3.
    expect(runs[0].r.stdout).toMatch(/batch 16 × 2 accumulated/);
    expect(runs[0].log.steps.map((s) => s.step)).toEqual([1, 2]);
    expect(runs[1].log.steps.map((s) => s.step)).toEqual([1, 2]);
    expect(runs[0].log.options.accumulate).toBe(2);
    expect(runs[0].log.steps.every((s) => Number.isFinite(s.loss))).toBe(true);
  });
});

describe('a training step is memory-stable', () => {
  it('memory() does not grow over steps (tidy per step, optimizer state allocated once)', async () => {
    await setBackend('reference');
    manualSeed(0);
    const model = buildNet(digitNetConfig(2, [1, 1, 1, 1], 2), true);
    const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const ds = loadMnistPackage();
    const loader = new DataLoader(subset(ds, Array.from({ length: 48 }, (_, i) => i * 200)), { batchSize: 8, shuffle: true });
    const snapshots: { tensors: number; bytes: number }[] = [];
    for (const b of loader.epoch(0)) {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = F.crossEntropy(model.forward(b.x), b.labels);
        l.backward();
        opt.step();
        return l;
      });
      expect(Number.isFinite(await loss.item())).toBe(true);
      loss.dispose();
      b.x.dispose();
      const m = memory();
      snapshots.push({ tensors: m.tensors, bytes: m.bytes });
    }
    // The first step creates the momentum buffers; from then on nothing accumulates.
    for (const s of snapshots.slice(1)) expect(s).toEqual(snapshots[1]);
    opt.dispose();
    model.dispose();
  });
});

describe('train → predict', () => {
  it('predict reads the weights train wrote and prints digit names', async () => {
    const out = join(root, 'for-predict');
    const r = await runCli(['train', ...TINY, '--epochs', '1', '--out', out]);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'plot.png'))).toBe(true);
    expect(readFileSync(join(out, 'plot.png')).subarray(1, 4).toString()).toBe('PNG');
    const ds = loadMnistPackage();
    const img = join(out, 'digit.png');
    writeFileSync(img, encodePng(ds.pixels.subarray(0, 784), 28, 28));
    const p = await runCli(['predict', '--weights', join(out, 'model.safetensors'), '--top', '3', img]);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/digit\.png:\n( {2}\d\. +\d+\.\d\d% {2}\d \(\d\)\n){3}$/);
  });
});
