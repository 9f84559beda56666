// `gpugrad train`: trains the small Bottleneck ResNet on digits with a live progress line, evaluates on
// held-out images each epoch, and commits weights, optimizer state and a JSON log per epoch (checkpoint.ts: a kill
// at any moment leaves a state --resume continues from), with a PNG plot. Options: train-options.ts; the log,
// plot and progress line: train-log.ts; resuming: resume.ts. Read top-down: setUp, trainEpoch, train.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getBackend, registeredBackends } from '../backend.js';
import * as F from '../functional.js';
import { DataLoader, type ImageDataset } from '../data/index.js';
import type { ResNet } from '../models/resnet.js';
import type { NetConfig } from '../models/netconfig.js';
import type { Optimizer } from '../optim/index.js';
import type { LRScheduler } from '../optim/scheduler.js';
import { manualSeed } from '../random.js';
import { memory, noGrad, tidy } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { type OptionValue } from './args.js';
import { cleanRunDir, commitEpoch, MANIFEST, replaceFile } from './checkpoint.js';
import { firstNonFinite } from './finite.js';
import { buildNet, digitNetConfig, encodeModel, encodeOptimizer, MODEL_FILE, OPTIM_FILE } from './model.js';
import { summary } from '../summary.js';
import { chooseBackend, loadData, makeOptimizer, makeSchedule, opt, TRAIN_OPTIONS, validateSavedOptions } from './train-options.js';
import { fmtTime, plotLog, progressLine, type EpochTotals, type TrainLog } from './train-log.js';
import { keptWeights, readSavedRun, restoreRun, type SavedRun } from './resume.js';
import { countCorrect } from '../data/metrics.js';

export { chooseBackend, TRAIN_OPTIONS } from './train-options.js';
export { plotLog, type TrainLog } from './train-log.js';

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


/** Everything one run holds: its data, model, optimizer, schedule and log. */
interface Run {
  outDir: string;
  showProgress: boolean;
  trainSet: ImageDataset;
  testSet: ImageDataset;
  config: NetConfig;
  model: ResNet;
  optim: Optimizer;
  loader: DataLoader;
  schedule: LRScheduler | null;
  accumulate: number;
  epochs: number;
  stepsPerEpoch: number;
  totalSteps: number;
  startEpoch: number;
  log: TrainLog;
  /** A new run, or one resumed from a directory. */
  saved: SavedRun | null;
  release(): void;
}

/**
 * Builds a run from the options, or resumes one (--resume: the saved options govern; only --epochs and --backend
 * may differ). Returns an exit status instead when there is nothing to do.
 */
async function setUp(o: Map<string, OptionValue>, say: (line: string) => void): Promise<Run | number> {
  const outDir = resolve(opt<string>(o, 'resume') ?? opt<string>(o, 'out'));
  const resume = o.get('resume') as string | undefined;
  // Leftovers of a save that was interrupted (temporary files, an uncommitted epoch directory) go first.
  const removed = cleanRunDir(outDir);
  if (removed.length) say(`removed ${removed.length} leftover(s) of an interrupted save in ${outDir}: ${removed.slice(0, 4).join(', ')}${removed.length > 4 ? ', …' : ''}`);
  const saved = resume ? readSavedRun(outDir, resume) : null;
  if (saved) for (const [k, v] of validateSavedOptions(saved.log.options, 'log.json')) if (k !== 'backend' && (k !== 'epochs' || !o.has(k))) o.set(k, v);

  const { train: trainSet, test: testSet } = loadData(o);
  const seed = opt<number>(o, 'seed');
  manualSeed(seed);
  const config = saved ? saved.log.config : digitNetConfig(opt<number>(o, 'width'), opt<number[]>(o, 'depth'), opt<number>(o, 'stem-stride'));
  if (!saved && o.get('data') !== undefined) {
    // Other IDX datasets (Fashion-MNIST, ...): normalise with their own training-set statistics.
    const { mean, std } = pixelStats(trainSet);
    config.mean = [mean];
    config.std = [std];
    config.classes = undefined;
  }
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
  const release = (): void => {
    optim.dispose();
    model.dispose();
  };

  let startEpoch = 0;
  if (saved) {
    try {
      startEpoch = await restoreRun(saved, model, optim, resume!);
    } catch (e) {
      release();
      throw e;
    }
    saved.log.steps = saved.log.steps.filter((s) => s.epoch < startEpoch);
    schedule?.setEpoch(startEpoch * stepsPerEpoch);
    if (startEpoch >= epochs) {
      release();
      say(`nothing to do: the run in ${outDir} already has ${startEpoch} epochs (ask for more with --epochs)`);
      return 0;
    }
  }
  const options: Record<string, OptionValue> = {};
  for (const k of Object.keys(TRAIN_OPTIONS)) if (!['resume', 'out', 'progress', 'help', 'stop-after'].includes(k) && opt(o, k) !== undefined) options[k] = opt(o, k);
  const log: TrainLog = saved?.log ?? {
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
  const showProgress = o.has('progress') ? (o.get('progress') as boolean) : Boolean(process.stdout.isTTY);
  return { outDir, showProgress, trainSet, testSet, config, model, optim, loader, schedule, accumulate, epochs, stepsPerEpoch, totalSteps, startEpoch, log, saved, release };
}

/** Why a run stopped early: recorded in the log, said on stderr, exit status 1. */
interface Stop {
  reason: string;
  where: string;
  step: number;
  epoch: number;
}

/** Counters that span epochs: optimizer steps taken, and the throughput since training began. */
interface Progress {
  step: number;
  stepsRun: number;
  imagesRun: number;
  tTrain: number;
}

/**
 * One epoch: micro-batches accumulated into optimizer steps, each step logged, a progress line when asked.
 * Stops at the first non-finite loss.
 */
async function trainEpoch(run: Run, epoch: number, p: Progress): Promise<EpochTotals | Stop> {
  const { model, optim, loader, accumulate, log } = run;
  const t: EpochTotals = { lossSum: 0, correct: 0, seen: 0 };
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
    if (!Number.isFinite(lv)) return { reason: `loss is ${lv}`, where: `the loss became ${lv} at step ${p.step + 1} (epoch ${epoch + 1}, batch ${k})`, step: p.step + 1, epoch: epoch + 1 };
    stepLoss += lv / group;
    if (k - groupStart === group) {
      optim.step();
      p.step++;
      log.steps.push({ step: p.step, epoch, loss: stepLoss, lr: optim.lr });
      run.schedule?.step();
      p.stepsRun++;
      stepLoss = 0;
    }
    t.lossSum += lv * b.labels.length;
    t.correct += countCorrect(lg, b.labels, 10);
    t.seen += b.labels.length;
    p.imagesRun += b.labels.length;
    if (run.showProgress) {
      const el = (performance.now() - p.tTrain) / 1000;
      const perStep = p.stepsRun ? el / p.stepsRun : Infinity;
      process.stdout.write(progressLine(epoch, run.epochs, k, loader.length, t, p.imagesRun / el, perStep * (run.totalSteps - p.step)));
    }
  }
  if (run.showProgress) process.stdout.write('\n');
  // Weights that went non-finite in the epoch's last update are never committed as a checkpoint.
  const bad = await firstNonFinite(model.stateDict());
  if (bad) return { reason: `weights are non-finite ('${bad.name}' has ${bad.value})`, where: `the weights became non-finite in epoch ${epoch + 1} ('${bad.name}' has ${bad.value}) and were not saved`, step: p.step, epoch: epoch + 1 };
  return t;
}

/** Runs `gpugrad train`; returns the process exit status. */
export async function train(o: Map<string, OptionValue>, say: (line: string) => void = console.log): Promise<number> {
  await chooseBackend(o.get('backend') as string | undefined);
  const t0 = performance.now();
  const memStart = memory().tensors;
  const run = await setUp(o, say);
  if (typeof run === 'number') return run;
  const { outDir, config, model, optim, log, epochs, startEpoch, trainSet, testSet } = run;
  mkdirSync(outDir, { recursive: true });
  let tLast = t0;
  const logBytes = (): Uint8Array => {
    log.totalSeconds += (performance.now() - tLast) / 1000;
    tLast = performance.now();
    return new TextEncoder().encode(JSON.stringify(log, null, 1));
  };
  // A new run commits its start (options and configuration, epoch 0), so --resume has a state from the outset.
  if (!run.saved) commitEpoch(outDir, 0, { log: logBytes() });

  if (getBackend() === 'reference') {
    const others = registeredBackends().filter((b) => b !== 'reference');
    say(`note: 'reference' is the float64 test oracle and trains slowly${others.length ? `; faster: --backend ${others.join(' | ')}` : ''}`);
  }
  const accumulate = run.accumulate;
  say(`gpugrad train: backend ${getBackend()}, ${trainSet.name}: ${trainSet.count} training / ${testSet.count} held-out images`);
  say(`model: Bottleneck ResNet ${config.layers.join(',')} blocks, widths ${config.widths.join(',')}, ${model.numParameters().toLocaleString('en-US')} parameters, ${(summary(model, [1, 1, 28, 28]).totalMacs / 1e6).toFixed(1)} MMAC per image; ` + `${opt<string>(o, 'optimizer')} lr ${opt<number>(o, 'lr')} (${opt<string>(o, 'schedule')}), batch ${opt<number>(o, 'batch-size')}${accumulate > 1 ? ` × ${accumulate} accumulated` : ''}, ${epochs} epochs` + (startEpoch ? `, resuming after epoch ${startEpoch}` : ''));

  /** The log and plot outside a commit (a stop, the end): atomic replacements of the top-level copies. */
  const writeLog = (): void => {
    replaceFile(join(outDir, 'log.json'), logBytes());
    replaceFile(join(outDir, 'plot.png'), plotLog(log));
  };
  const progress: Progress = { step: startEpoch * run.stepsPerEpoch, stepsRun: 0, imagesRun: 0, tTrain: performance.now() };
  const stopAfter = Math.min(epochs, (o.get('stop-after') as number | undefined) ?? epochs);
  for (let epoch = startEpoch; epoch < stopAfter; epoch++) {
    const te = performance.now();
    const t = await trainEpoch(run, epoch, progress);
    if ('reason' in t) {
      optim.zeroGrad();
      log.stopped = { reason: t.reason, step: t.step, epoch: t.epoch };
      writeLog();
      if (run.showProgress) process.stdout.write('\n');
      console.error(`gpugrad train: stopped: ${t.where}; ${keptWeights(outDir)}. Try a lower --lr.`);
      run.release();
      return 1;
    }
    const acc = await evaluate(model, testSet, { mean: config.mean[0], std: config.std[0] });
    const seconds = (performance.now() - te) / 1000;
    log.epochs.push({ epoch: epoch + 1, trainLoss: t.lossSum / t.seen, trainAccuracy: t.correct / t.seen, heldOutAccuracy: acc, seconds, imagesPerSecond: t.seen / seconds });
    commitEpoch(outDir, epoch + 1, { model: await encodeModel(model, config, epoch + 1), optimizer: await encodeOptimizer(model, optim, epoch + 1), log: logBytes(), plot: plotLog(log) });
    say(`epoch ${epoch + 1}/${epochs}: train loss ${(t.lossSum / t.seen).toFixed(4)}, train acc ${((100 * t.correct) / t.seen).toFixed(2)}%, held-out acc ${(100 * acc).toFixed(2)}% (${seconds.toFixed(1)} s, ${(t.seen / seconds).toFixed(0)} img/s)`);
  }
  log.finished = stopAfter === epochs;
  writeLog();
  if (!log.finished) say(`stopped after epoch ${stopAfter} of ${epochs}; continue with: gpugrad train --resume ${outDir}`);
  run.release();
  const leaked = memory().tensors - memStart;
  const final = log.epochs[log.epochs.length - 1];
  say(`done in ${fmtTime((performance.now() - t0) / 1000)}: held-out accuracy ${(100 * final.heldOutAccuracy).toFixed(2)}% on ${testSet.count} images; wrote ${join(outDir, MODEL_FILE)}, ${OPTIM_FILE}, log.json, plot.png (committed: ${MANIFEST})` + (leaked > 0 ? ` (warning: ${leaked} tensors still live)` : ''));
  return 0;
}
