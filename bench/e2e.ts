// End-to-end gpugrad benchmarks on every selected backend: ResNet eval forward, and training steps
// (forward, cross-entropy, backward, SGD with momentum) at a small and a large input size.
import { performance } from 'node:perf_hooks';
import { F, getBackend, noGrad, tensor, tidy, type ResNet, type Tensor } from '../src/index.js';
import { SGD } from '../src/optim/index.js';
import { cold, fmtMs, gflops, warm, type Timing } from './common.js';
import { useBenchBackend } from './backends.js';

export interface TrainConfig {
  key: string;
  batch: number;
  size: number;
  input: Float32Array;
  labels: number[];
}

export interface E2EConfig {
  /** Builds the model on the current backend (weights are then loaded from `weights`). */
  makeModel: () => ResNet;
  /** The shared weights, on any backend that reads synchronously. */
  weights: Map<string, Tensor>;
  evalInput: Float32Array;
  evalShape: readonly number[];
  /** Forward FLOP of the model per image at the eval size, and per image at each training size. */
  flopAt: (size: number) => number;
  train: TrainConfig[];
  /** Training configs (by key) a backend skips as too slow for the time budget. */
  skip: (backend: string, key: string) => string | null;
  timeMs: number;
  minIter: number;
  /**
   * Wall-time budget per backend (ms). A training configuration whose predicted cost (from the eval
   * time, scaled by FLOP) would overrun it is skipped with a note; calls slower than SLOW_MS run once warm.
   */
  budgetMs?: number;
  log: (s: string) => void;
}

const SLOW_MS = 5000;
/** Past this, the cold call is the only one (samples 0): warm calls of the float64 oracle cost minutes. */
const VERY_SLOW_MS = 20000;

export interface E2EResult {
  backend: string;
  /** What the backend actually ran as (fallbacks show here). */
  ranAs: string;
  eval?: { timing: Timing; logits: Float32Array };
  train: { key: string; timing?: Timing; firstLoss?: number; note?: string }[];
  error?: string;
}

export const LR = 0.01;
export const MOMENTUM = 0.9;

/** Deterministic labels for a training batch. */
export const trainLabels = (batch: number, classes: number): number[] => Array.from({ length: batch }, (_, i) => (i * 37) % classes);

function warmMaybeOnce(cfg: E2EConfig, fn: () => Promise<unknown>, coldMs: number): Promise<Timing> {
  if (coldMs > VERY_SLOW_MS) return Promise.resolve({ coldMs, medianMs: coldMs, samples: 0 });
  const slow = coldMs > SLOW_MS;
  return warm(fn, coldMs, slow ? 0 : cfg.timeMs, slow ? 1 : cfg.minIter);
}

const PROBE = 32;

/** Time of one warm eval forward at PROBE² batch 1 (the first call compiles and is not counted). */
async function probe(model: ResNet): Promise<number> {
  model.eval();
  const x = tensor(new Float32Array(3 * PROBE * PROBE), [1, 3, PROBE, PROBE]);
  let ms = 0;
  for (let i = 0; i < 2; i++) {
    const t = await cold(async () => {
      const y = noGrad(() => tidy(() => model.forward(x)));
      await y.data();
      y.dispose();
    });
    ms = t.ms;
  }
  x.dispose();
  return ms;
}

async function evalForward(cfg: E2EConfig, model: ResNet): Promise<{ timing: Timing; logits: Float32Array }> {
  model.eval();
  const x = tensor(cfg.evalInput, cfg.evalShape);
  const once = async (): Promise<Float32Array> => {
    const y = noGrad(() => tidy(() => model.forward(x)));
    const v = await y.data();
    y.dispose();
    return v;
  };
  const first = await cold(once);
  const timing = await warmMaybeOnce(cfg, once, first.ms);
  x.dispose();
  return { timing, logits: first.value };
}

async function trainStep(cfg: E2EConfig, model: ResNet, t: TrainConfig): Promise<{ timing: Timing; firstLoss: number }> {
  model.train();
  const x = tensor(t.input, [t.batch, 3, t.size, t.size]);
  const opt = new SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
  const once = async (): Promise<number> => {
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = F.crossEntropy(model.forward(x), t.labels);
      l.backward();
      opt.step();
      return l;
    });
    const v = await loss.item();
    loss.dispose();
    return v;
  };
  const first = await cold(once);
  const timing = await warmMaybeOnce(cfg, once, first.ms);
  opt.dispose();
  x.dispose();
  return { timing, firstLoss: first.value };
}

export async function runE2E(backends: string[], cfg: E2EConfig): Promise<E2EResult[]> {
  const results: E2EResult[] = [];
  for (const b of backends) {
    const r: E2EResult = { backend: b, ranAs: b, train: [] };
    results.push(r);
    let model: ResNet | null = null;
    const start = performance.now();
    try {
      await useBenchBackend(b);
      r.ranAs = getBackend();
      model = cfg.makeModel();
      model.loadStateDict(cfg.weights);
      const [n, , h] = cfg.evalShape;
      if (h > PROBE && cfg.budgetMs !== undefined) {
        // A backend that would spend minutes on one forward is caught by a cheap forward at 32² first.
        const perEval = (await probe(model)) * ((n * cfg.flopAt(h)) / cfg.flopAt(PROBE));
        if (perEval > cfg.budgetMs / 2) {
          const why = `skipped: predicted ~${fmtMs(perEval)} per forward (from a ${PROBE}² probe) overruns the per-backend budget`;
          r.error = why;
          cfg.log(`  ${b}: ${why}`);
          continue;
        }
      }
      r.eval = await evalForward(cfg, model);
      cfg.log(`  ${b} eval ${cfg.evalShape[2]}² b${cfg.evalShape[0]}: cold ${fmtMs(r.eval.timing.coldMs)}, median ${fmtMs(r.eval.timing.medianMs)} (${gflops(cfg.evalShape[0] * cfg.flopAt(cfg.evalShape[2]), r.eval.timing.medianMs).toFixed(2)} GFLOP/s)`);
      for (const t of cfg.train) {
        // cold + at least one warm call, scaled from the eval forward (a training step ≈ 3 forwards)
        const perStep = r.eval.timing.medianMs * ((3 * t.batch * cfg.flopAt(t.size)) / (n * cfg.flopAt(h)));
        const predicted = (perStep > VERY_SLOW_MS ? 1 : 2) * perStep;
        const over = performance.now() - start + predicted > (cfg.budgetMs ?? Infinity);
        const why = cfg.skip(b, t.key) ?? (over ? `skipped: predicted ~${fmtMs(perStep)} per step overruns the per-backend budget` : null);
        if (why) {
          r.train.push({ key: t.key, note: why });
          cfg.log(`  ${b} train ${t.key}: ${why}`);
          continue;
        }
        model.loadStateDict(cfg.weights); // every training config starts from the shared weights
        const s = await trainStep(cfg, model, t);
        r.train.push({ key: t.key, ...s });
        cfg.log(`  ${b} train ${t.key}: cold ${fmtMs(s.timing.coldMs)}, median ${fmtMs(s.timing.medianMs)}, first loss ${s.firstLoss.toFixed(5)}`);
      }
    } catch (e) {
      r.error = (e as Error).message.split('\n')[0];
      cfg.log(`  ${b}: failed: ${r.error}`);
    } finally {
      model?.dispose();
    }
  }
  return results;
}
