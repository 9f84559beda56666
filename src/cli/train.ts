// `gpugrad train`: trains the small Bottleneck ResNet on digits with a live progress line, evaluates on
// held-out images each epoch, and writes weights, optimizer state, a JSON log and a PNG plot.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getBackend, readyBackend, registeredBackends, setBackend } from '../backend.js';
import { fail } from '../errors.js';
import * as F from '../functional.js';
import { DataLoader, loadIdxDir, loadMnistPackage, splitHoldout, subset, type ImageDataset } from '../data/index.js';
import type { ResNet } from '../models/resnet.js';
import { Adam, AdamW, CosineAnnealingLR, SGD, StepLR, type LRScheduler, type Optimizer } from '../optim/index.js';
import { manualSeed } from '../random.js';
import { memory, noGrad, tidy } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { UsageError, type OptionSpec, type OptionValue } from './args.js';
import { buildNet, digitNetConfig, loadOptimizer, MODEL_FILE, OPTIM_FILE, readWeights, saveCheckpoint, type NetConfig } from './model.js';
import { plotPanels } from './plot.js';
import { summary } from '../summary.js';

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

interface StepLog {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
}
interface EpochLog {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  heldOutAccuracy: number;
  seconds: number;
  imagesPerSecond: number;
}
export interface TrainLog {
  version: 1;
  backend: string;
  dataset: { name: string; train: number; heldOut: number };
  config: NetConfig;
  options: Record<string, OptionValue>;
  parameters: number;
  steps: StepLog[];
  epochs: EpochLog[];
  finished: boolean;
  stopped?: { reason: string; step: number; epoch: number };
  totalSeconds: number;
}

function opt<T extends OptionValue>(o: Map<string, OptionValue>, k: string): T {
  return (o.has(k) ? o.get(k) : TRAIN_OPTIONS[k].default) as T;
}

/** Selects a backend given as 'name' or 'name:mode'; unknown names are refused by setBackend. */
export async function chooseBackend(spec: string | undefined): Promise<void> {
  // No choice: the library's default, started here because it may start asynchronously (worker pools).
  if (spec === undefined) return void (await readyBackend());
  const [name, mode] = spec.split(':');
  await setBackend(name, mode ? { mode } : {});
}

function loadData(o: Map<string, OptionValue>): { train: ImageDataset; test: ImageDataset } {
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

function makeOptimizer(o: Map<string, OptionValue>, model: ResNet): Optimizer {
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

function makeSchedule(o: Map<string, OptionValue>, optim: Optimizer, totalSteps: number): LRScheduler | null {
  switch (opt<string>(o, 'schedule')) {
    case 'cosine':
      return new CosineAnnealingLR(optim, totalSteps, 0);
    case 'step':
      return new StepLR(optim, Math.max(1, Math.round(totalSteps / 3)), 0.1);
    default:
      return null;
  }
}

/** Held-out accuracy in eval mode (running BatchNorm statistics), in batches that each free their tensors. */
export async function evaluate(model: ResNet, data: ImageDataset, norm: { mean: number; std: number }, batchSize = 250): Promise<number> {
  model.eval();
  const loader = new DataLoader(data, { batchSize, mean: norm.mean, std: norm.std });
  let correct = 0;
  for (const b of loader.epoch()) {
    const logits = noGrad(() => tidy(() => model.forward(b.x)));
    b.x.dispose();
    correct += countCorrect(await logits.data(), b.labels, logits.shape[1]);
    logits.dispose();
  }
  model.train();
  return correct / data.count;
}

function pixelStats(ds: ImageDataset): { mean: number; std: number } {
  let sum = 0;
  let sq = 0;
  for (const v of ds.pixels) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / ds.pixels.length;
  return { mean, std: Math.sqrt(Math.max(sq / ds.pixels.length - mean * mean, 1e-12)) };
}

function countCorrect(logits: Float32Array, labels: Int32Array, classes: number): number {
  let c = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
    if (best === labels[i]) c++;
  }
  return c;
}

/**
 * Forward and backward of one micro-batch, adding its gradient to those already accumulated (zeroed first when
 * `first`). The loss is scaled by 1/`of`, the micro-batches in this optimizer step, so `of` equal micro-batches
 * leave the gradient of their mean loss: one step over an `of`× batch, up to batch-norm batch statistics.
 * Returns the unscaled loss and the logits.
 */
export function accumulateMicroBatch(model: ResNet, optim: Optimizer, x: Tensor, labels: F.Labels, first: boolean, of: number): { loss: Tensor; logits: Tensor } {
  return tidy(() => {
    if (first) optim.zeroGrad();
    const logits = model.forward(x);
    const loss = F.crossEntropy(logits, labels);
    (of > 1 ? loss.div(of) : loss).backward();
    return { loss, logits };
  });
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/** Runs `gpugrad train`; returns the process exit status. */
export async function train(o: Map<string, OptionValue>, say: (line: string) => void = console.log): Promise<number> {
  await chooseBackend(o.get('backend') as string | undefined);
  const outDir = resolve(opt<string>(o, 'resume') ?? opt<string>(o, 'out'));
  const resume = o.get('resume') as string | undefined;
  const showProgress = o.has('progress') ? (o.get('progress') as boolean) : Boolean(process.stdout.isTTY);
  const t0 = performance.now();

  let log: TrainLog | null = null;
  if (resume) {
    const logPath = join(outDir, 'log.json');
    if (!existsSync(logPath)) fail('train', `--resume ${resume}: no log.json there (not a gpugrad run directory)`);
    try {
      log = JSON.parse(readFileSync(logPath, 'utf8')) as TrainLog;
    } catch (e) {
      fail('train', `--resume ${resume}: log.json is unreadable (${(e as Error).message})`);
    }
    // The saved options govern the resumed run; only --epochs (to extend it) and --backend may differ.
    for (const [k, v] of Object.entries(log.options)) if (k !== 'backend' && (k !== 'epochs' || !o.has(k))) o.set(k, v);
  }
  const { train: trainSet, test: testSet } = loadData(o);
  const seed = opt<number>(o, 'seed');
  manualSeed(seed);
  const config = log ? log.config : digitNetConfig(opt<number>(o, 'width'), opt<number[]>(o, 'depth'), opt<number>(o, 'stem-stride'));
  if (!log && o.get('data') !== undefined) {
    // Other IDX datasets (Fashion-MNIST, ...): normalise with their own training-set statistics.
    const { mean, std } = pixelStats(trainSet);
    config.mean = [mean];
    config.std = [std];
    config.classes = undefined;
  }
  const memStart = memory().tensors;
  const model = buildNet(config, true);
  const optim = makeOptimizer(o, model);
  const batchSize = opt<number>(o, 'batch-size');
  const accumulate = opt<number>(o, 'accumulate');
  const epochs = opt<number>(o, 'epochs');
  const loader = new DataLoader(trainSet, { batchSize, shuffle: true, seed, mean: config.mean[0], std: config.std[0], maxShift: opt<number>(o, 'shift'), dropLast: trainSet.count > batchSize });
  // An epoch's last step takes the micro-batches left over when they do not divide evenly.
  const stepsPerEpoch = Math.ceil(loader.length / accumulate);
  const totalSteps = stepsPerEpoch * epochs;
  const schedule = makeSchedule(o, optim, totalSteps);

  let startEpoch = 0;
  if (resume && log) {
    const w = readWeights(join(outDir, MODEL_FILE));
    // tidy: Module.loadStateDict's copies create scalar constants that would otherwise outlive the call.
    tidy(() => void model.loadStateDict(w.state));
    for (const t of w.state.values()) t.dispose();
    startEpoch = loadOptimizer(join(outDir, OPTIM_FILE), model, optim);
    if (startEpoch !== log.epochs.length || w.epoch !== startEpoch) fail('train', `--resume ${resume}: weights (epoch ${w.epoch}), optimizer (epoch ${startEpoch}) and log (${log.epochs.length} epochs) disagree`);
    log.steps = log.steps.filter((s) => s.epoch < startEpoch);
    schedule?.setEpoch(startEpoch * stepsPerEpoch);
    if (startEpoch >= epochs) {
      say(`nothing to do: the run in ${outDir} already has ${startEpoch} epochs (ask for more with --epochs)`);
      return 0;
    }
  }
  mkdirSync(outDir, { recursive: true });
  const options: Record<string, OptionValue> = {};
  for (const k of Object.keys(TRAIN_OPTIONS)) if (!['resume', 'out', 'progress', 'help', 'stop-after'].includes(k) && opt(o, k) !== undefined) options[k] = opt(o, k);
  log ??= {
    version: 1,
    backend: getBackend(),
    dataset: { name: trainSet.name, train: trainSet.count, heldOut: testSet.count },
    config,
    options,
    parameters: model.numParameters(),
    steps: [],
    epochs: [],
    finished: false,
    totalSeconds: 0,
  };
  log.options.epochs = epochs;
  log.backend = getBackend();

  if (getBackend() === 'reference') {
    const others = registeredBackends().filter((b) => b !== 'reference');
    say(`note: 'reference' is the float64 test oracle and trains slowly${others.length ? `; faster: --backend ${others.join(' | ')}` : ''}`);
  }
  say(`gpugrad train: backend ${getBackend()}, ${trainSet.name}: ${trainSet.count} training / ${testSet.count} held-out images`);
  say(`model: Bottleneck ResNet ${config.layers.join(',')} blocks, widths ${config.widths.join(',')}, ${model.numParameters().toLocaleString('en-US')} parameters, ${(summary(model, [1, 1, 28, 28]).totalMacs / 1e6).toFixed(1)} MMAC per image; ` + `${opt<string>(o, 'optimizer')} lr ${opt<number>(o, 'lr')} (${opt<string>(o, 'schedule')}), batch ${batchSize}${accumulate > 1 ? ` × ${accumulate} accumulated` : ''}, ${epochs} epochs` + (startEpoch ? `, resuming after epoch ${startEpoch}` : ''));

  const writeLog = (): void => {
    log!.totalSeconds += (performance.now() - tLast) / 1000;
    tLast = performance.now();
    writeFileSync(join(outDir, 'log.json'), JSON.stringify(log, null, 1));
    writeFileSync(join(outDir, 'plot.png'), plotLog(log!));
  };
  let tLast = t0;
  let step = startEpoch * stepsPerEpoch;
  const tTrain = performance.now();
  let stepsRun = 0;
  let imagesRun = 0;
  const stopAfter = Math.min(epochs, (o.get('stop-after') as number | undefined) ?? epochs);
  for (let epoch = startEpoch; epoch < stopAfter; epoch++) {
    const te = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    let k = 0;
    let stepLoss = 0;
    for (const b of loader.epoch(epoch)) {
      const groupStart = k - (k % accumulate);
      const group = Math.min(accumulate, loader.length - groupStart);
      const { loss, logits } = accumulateMicroBatch(model, optim, b.x, b.labels, k === groupStart, group);
      b.x.dispose();
      const lv = await loss.item();
      const lg = await logits.data();
      loss.dispose();
      logits.dispose();
      k++;
      if (!Number.isFinite(lv)) {
        step++;
        optim.zeroGrad();
        const kept = existsSync(join(outDir, MODEL_FILE)) ? `${join(outDir, MODEL_FILE)} keeps the last good weights (not overwritten)` : 'no epoch finished, so no weights were written';
        log.stopped = { reason: `loss is ${lv}`, step, epoch: epoch + 1 };
        writeLog();
        if (showProgress) process.stdout.write('\n');
        console.error(`gpugrad train: stopped: the loss became ${lv} at step ${step} (epoch ${epoch + 1}, batch ${k}); ${kept}. Try a lower --lr.`);
        optim.dispose();
        model.dispose();
        return 1;
      }
      stepLoss += lv / group;
      if (k - groupStart === group) {
        optim.step();
        step++;
        log.steps.push({ step, epoch, loss: stepLoss, lr: optim.lr });
        schedule?.step();
        stepsRun++;
        stepLoss = 0;
      }
      lossSum += lv * b.labels.length;
      correct += countCorrect(lg, b.labels, 10);
      seen += b.labels.length;
      imagesRun += b.labels.length;
      if (showProgress) {
        const el = (performance.now() - tTrain) / 1000;
        const left = totalSteps - step;
        const perStep = stepsRun ? el / stepsRun : Infinity;
        const bar = '█'.repeat(Math.round((20 * k) / loader.length)).padEnd(20, '·');
        process.stdout.write(`\r epoch ${epoch + 1}/${epochs} ${bar} ${k}/${loader.length}  loss ${(lossSum / seen).toFixed(4)}  acc ${((100 * correct) / seen).toFixed(1)}%  ${(imagesRun / el).toFixed(0)} img/s  ETA ${fmtTime(perStep * left)} `);
      }
    }
    if (showProgress) process.stdout.write('\n');
    const acc = await evaluate(model, testSet, { mean: config.mean[0], std: config.std[0] });
    const seconds = (performance.now() - te) / 1000;
    log.epochs.push({ epoch: epoch + 1, trainLoss: lossSum / seen, trainAccuracy: correct / seen, heldOutAccuracy: acc, seconds, imagesPerSecond: seen / seconds });
    await saveCheckpoint(outDir, model, config, optim, epoch + 1);
    writeLog();
    say(`epoch ${epoch + 1}/${epochs}: train loss ${(lossSum / seen).toFixed(4)}, train acc ${((100 * correct) / seen).toFixed(2)}%, held-out acc ${(100 * acc).toFixed(2)}% (${seconds.toFixed(1)} s, ${(seen / seconds).toFixed(0)} img/s)`);
  }
  log.finished = stopAfter === epochs;
  writeLog();
  if (!log.finished) say(`stopped after epoch ${stopAfter} of ${epochs}; continue with: gpugrad train --resume ${outDir}`);
  optim.dispose();
  model.dispose();
  const leaked = memory().tensors - memStart;
  const final = log.epochs[log.epochs.length - 1];
  say(`done in ${fmtTime((performance.now() - t0) / 1000)}: held-out accuracy ${(100 * final.heldOutAccuracy).toFixed(2)}% on ${testSet.count} images; wrote ${join(outDir, MODEL_FILE)}, ${OPTIM_FILE}, log.json, plot.png` + (leaked > 0 ? ` (warning: ${leaked} tensors still live)` : ''));
  return 0;
}

/** The loss/accuracy picture: per-step loss (smoothed) and per-epoch accuracies. */
export function plotLog(log: TrainLog): Uint8Array {
  const perEpoch = log.steps.length / Math.max(1, log.epochs.length || 1);
  const raw = log.steps.map((s) => [s.step / Math.max(1, perEpoch), s.loss] as const);
  // Exponential smoothing keeps the trend readable at small batch sizes.
  let ema = raw.length ? raw[0][1] : 0;
  const smooth = raw.map(([x, y]) => [x, (ema = 0.9 * ema + 0.1 * y)] as const);
  return plotPanels([
    {
      title: 'loss vs epoch',
      series: [
        { label: 'step', color: [190, 200, 230], points: raw },
        { label: 'smoothed', color: [30, 80, 200], points: smooth },
      ],
    },
    {
      title: 'accuracy % vs epoch',
      series: [
        { label: 'train', color: [230, 120, 30], points: log.epochs.map((e) => [e.epoch, 100 * e.trainAccuracy] as const) },
        { label: 'held out', color: [30, 150, 60], points: log.epochs.map((e) => [e.epoch, 100 * e.heldOutAccuracy] as const) },
      ],
    },
  ]);
}
