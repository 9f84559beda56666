// The options of `gpugrad train` and what they build: the backend, the data split, the optimizer and the
// learning-rate schedule; and the check that options saved in a run's log (read back by --resume) are well-formed.
import { readyBackend, setBackend } from '../backend.js';
import { fail } from '../errors.js';
import { loadIdxDir, loadMnistPackage, splitHoldout, subset, type ImageDataset } from '../data/index.js';
import type { ResNet } from '../models/resnet.js';
import { Adam, AdamW, CosineAnnealingLR, SGD, StepLR, type LRScheduler, type Optimizer } from '../optim/index.js';
import { UsageError, type OptionSpec, type OptionValue } from './args.js';

/**
 * Defaults chosen so `npm start` reaches ≥ 97% on the 2,000 held-out digits quickly on 2 CPU cores;
 * see the README for the measurement.
 */
export const TRAIN_OPTIONS: Record<string, OptionSpec & { default?: OptionValue }> = {
  epochs: { kind: 'int', min: 1, help: 'passes over the training images', default: 5 },
  'batch-size': { kind: 'int', min: 1, help: 'images per forward pass (micro-batch)', default: 32 },
  accumulate: { kind: 'int', min: 1, help: 'micro-batches per optimizer step (gradient accumulation: the step of an N× batch, in the memory of one)', default: 1 },
  lr: { kind: 'number', min: 0, help: 'peak learning rate', default: 0.2 },
  optimizer: { kind: 'string', choices: ['sgd', 'adam', 'adamw'], help: 'update rule', default: 'sgd' },
  momentum: { kind: 'number', min: 0, help: 'SGD momentum', default: 0.9 },
  nesterov: { kind: 'flag', help: 'Nesterov momentum (SGD)', default: true },
  'weight-decay': { kind: 'number', min: 0, help: 'weight decay', default: 5e-4 },
  schedule: { kind: 'string', choices: ['cosine', 'step', 'none'], help: 'learning-rate schedule over the steps', default: 'cosine' },
  width: { kind: 'int', min: 1, help: 'planes of the first stage (stages use w, 2w, 4w, 8w)', default: 8 },
  depth: { kind: 'ints', min: 1, help: 'Bottleneck blocks per stage, e.g. 1,1,1,1', default: [1, 1, 1, 1] },
  'stem-stride': { kind: 'int', min: 1, help: 'stride of the 3×3 stem (2 quarters the compute)', default: 2 },
  shift: { kind: 'int', min: 0, help: 'random shift augmentation, in pixels', default: 2 },
  backend: { kind: 'string', help: "backend name, optionally with a mode ('reference', 'wasm', 'gpujs:cpu'); default: the library's default" },
  seed: { kind: 'int', min: 0, help: 'seed for initialisation, shuffling and augmentation', default: 0 },
  data: { kind: 'string', help: 'directory with IDX files (train-images-idx3-ubyte[.gz], ...); default: the mnist package digits' },
  holdout: { kind: 'int', min: 1, help: 'images held out for evaluation', default: 2000 },
  'train-limit': { kind: 'int', min: 0, help: 'use only this many training images (0: all)', default: 0 },
  out: { kind: 'string', help: 'output directory', default: 'runs/mnist' },
  resume: { kind: 'string', help: 'continue the run saved in this directory (weights + optimizer + log)' },
  'stop-after': { kind: 'int', min: 1, help: 'stop (resumably) once this many epochs are done, as if interrupted' },
  progress: { kind: 'flag', help: 'live progress line (default: on a terminal)' },
  help: { kind: 'flag', help: 'show this help' },
};

export function opt<T extends OptionValue>(o: Map<string, OptionValue>, k: string): T {
  return (o.has(k) ? o.get(k) : TRAIN_OPTIONS[k].default) as T;
}

/** Selects a backend given as 'name' or 'name:mode'; unknown names are refused by setBackend. */
export async function chooseBackend(spec: string | undefined): Promise<void> {
  // No choice: the library's default, started here because it may start asynchronously (worker pools).
  if (spec === undefined) return void (await readyBackend());
  const [name, mode] = spec.split(':');
  await setBackend(name, mode ? { mode } : {});
}

export function loadData(o: Map<string, OptionValue>): { train: ImageDataset; test: ImageDataset } {
  const dir = o.get('data') as string | undefined;
  const ds = dir ? loadIdxDir(dir, 'train') : loadMnistPackage();
  if (ds.height !== 28 || ds.width !== 28 || ds.channels !== 1) fail('train', `${ds.name} holds ${ds.channels}×${ds.height}×${ds.width} images; the digit network needs 1×28×28`);
  if (ds.classes > 10) fail('train', `${ds.name} has labels up to ${ds.classes - 1}; the digit network has 10 classes`);
  const holdout = opt<number>(o, 'holdout');
  if (holdout >= ds.count) throw new UsageError(`--holdout ${holdout} leaves no training images out of ${ds.count}`);
  let { train, test } = splitHoldout(ds, holdout);
  const limit = opt<number>(o, 'train-limit');
  if (limit > 0 && limit < train.count) {
    // An evenly spread subset keeps every class present.
    train = subset(train, Array.from({ length: limit }, (_, i) => Math.floor((i * train.count) / limit)), train.name);
  }
  return { train, test };
}

export function makeOptimizer(o: Map<string, OptionValue>, model: ResNet): Optimizer {
  const lr = opt<number>(o, 'lr');
  const wd = opt<number>(o, 'weight-decay');
  switch (opt<string>(o, 'optimizer')) {
    case 'adam':
      return new Adam(model.parameters(), { lr, weightDecay: wd });
    case 'adamw':
      return new AdamW(model.parameters(), { lr, weightDecay: wd });
    default: {
      const momentum = opt<number>(o, 'momentum');
      return new SGD(model.parameters(), { lr, momentum, weightDecay: wd, nesterov: opt<boolean>(o, 'nesterov') && momentum > 0 });
    }
  }
}

export function makeSchedule(o: Map<string, OptionValue>, optim: Optimizer, totalSteps: number): LRScheduler | null {
  switch (opt<string>(o, 'schedule')) {
    case 'cosine':
      return new CosineAnnealingLR(optim, totalSteps, 0);
    case 'step':
      return new StepLR(optim, Math.max(1, Math.round(totalSteps / 3)), 0.1);
    default:
      return null;
  }
}


/**
 * Checks the options a run's log.json saved (they govern a resumed run) against the option specs: a log edited
 * by hand or damaged must not feed a string where a number goes. Returns them as a Map.
 */
export function validateSavedOptions(raw: unknown, source: string): Map<string, OptionValue> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('train', `${source}: options must be an object`);
  const out = new Map<string, OptionValue>();
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const spec = TRAIN_OPTIONS[k];
    if (!spec || ['resume', 'out', 'progress', 'help', 'stop-after'].includes(k)) fail('train', `${source}: unknown saved option '${k}'`);
    const num = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && (spec.kind === 'number' || Number.isInteger(x)) && (spec.min === undefined || x >= spec.min) && Math.abs(x) <= 1e9;
    const ok =
      spec.kind === 'flag' ? typeof v === 'boolean'
      : spec.kind === 'string' ? typeof v === 'string' && v.length <= 4096 && (!spec.choices || spec.choices.includes(v))
      : spec.kind === 'ints' ? Array.isArray(v) && v.length <= 16 && v.every(num)
      : num(v);
    if (!ok) fail('train', `${source}: saved option '${k}' must be ${spec.kind === 'ints' ? 'a list of integers' : spec.kind === 'flag' ? 'true or false' : spec.choices ? `one of ${spec.choices.join(', ')}` : `a ${spec.kind}`}${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}, got ${JSON.stringify(v)?.slice(0, 60)}`);
    out.set(k, v as OptionValue);
  }
  return out;
}
