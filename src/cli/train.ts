// `gpugrad train`: trains the small Bottleneck ResNet on digits with a live progress line, evaluates on
// held-out images each epoch, and commits weights, optimizer state and a JSON log per epoch (checkpoint.ts: a kill
// at any moment leaves a state --resume continues from), with a PNG plot. Options: train-options.ts.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getBackend, registeredBackends } from '../backend.js';
import { fail } from '../errors.js';
import * as F from '../functional.js';
import { DataLoader, type ImageDataset } from '../data/index.js';
import type { ResNet } from '../models/resnet.js';
import type { Optimizer } from '../optim/index.js';
import { manualSeed } from '../random.js';
import { memory, noGrad, tidy } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { type OptionValue } from './args.js';
import { cleanRunDir, commitEpoch, MANIFEST, readCommitted, readManifest, replaceFile } from './checkpoint.js';
import { buildNet, digitNetConfig, encodeModel, encodeOptimizer, loadOptimizer, MODEL_FILE, nonFiniteInFile, OPTIM_FILE, parseWeights, readBytes, validateNetConfig, type NetConfig } from './model.js';
import { plotPanels } from './plot.js';
import { summary } from '../summary.js';
import { chooseBackend, loadData, makeOptimizer, makeSchedule, opt, TRAIN_OPTIONS, validateSavedOptions } from './train-options.js';
import { countCorrect } from '../data/metrics.js';

export { chooseBackend, TRAIN_OPTIONS } from './train-options.js';

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

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/** The first tensor holding NaN or ±Infinity, with the offending value; null when all are finite. */
async function firstNonFinite(named: Iterable<[string, Tensor]>): Promise<{ name: string; value: number } | null> {
  for (const [name, t] of named) {
    const bad = (await t.data()).find((v) => !Number.isFinite(v));
    if (bad !== undefined) return { name, value: bad };
  }
  return null;
}

/** Parses and checks a run's log.json (it governs a resumed run: options, network config, steps so far). */
function parseLog(bytes: Uint8Array, source: string): TrainLog {
  let log: TrainLog;
  try {
    log = JSON.parse(new TextDecoder().decode(bytes)) as TrainLog;
  } catch (e) {
    return fail('train', `${source} is unreadable (${(e as Error).message})`);
  }
  if (typeof log !== 'object' || log === null || !Array.isArray(log.steps) || !Array.isArray(log.epochs)) fail('train', `${source} is not a gpugrad training log (no steps and epochs lists)`);
  log.config = validateNetConfig(log.config, `${source}: config`, 'train');
  validateSavedOptions(log.options, source);
  return log;
}

/** What --resume continues from: the log, and the committed weights and optimizer bytes (none at epoch 0). */
interface SavedRun {
  log: TrainLog;
  epoch: number;
  model: { bytes: Uint8Array; path: string } | null;
  optimizer: { bytes: Uint8Array; path: string } | null;
}

/**
 * Reads the last complete state of a run directory: the files checkpoint.json names (size and hash checked), or,
 * for a run written before checkpoints had a manifest, the three top-level files, which must agree.
 */
function readSavedRun(dir: string, arg: string): SavedRun {
  const m = readManifest(dir);
  if (m) {
    const log = parseLog(readCommitted(dir, m, 'log'), join(dir, m.files.log!.path));
    if (log.epochs.length !== m.epoch) fail('train', `--resume ${arg}: ${MANIFEST} names epoch ${m.epoch} but its log holds ${log.epochs.length} epochs`);
    const file = (role: 'model' | 'optimizer'): { bytes: Uint8Array; path: string } | null => (m.epoch > 0 ? { bytes: readCommitted(dir, m, role), path: join(dir, m.files[role]!.path) } : null);
    return { log, epoch: m.epoch, model: file('model'), optimizer: file('optimizer') };
  }
  const logPath = join(dir, 'log.json');
  if (!existsSync(logPath)) fail('train', `--resume ${arg}: no log.json there, nor a ${MANIFEST} (not a gpugrad run directory)`);
  const log = parseLog(readFileSync(logPath), logPath);
  const at = (name: string): { bytes: Uint8Array; path: string } => ({ bytes: readBytes(join(dir, name), name), path: join(dir, name) });
  return { log, epoch: log.epochs.length, model: at(MODEL_FILE), optimizer: at(OPTIM_FILE) };
}

/** What the stop message says about the weights on disk: verified, never assumed, to be good. */
function keptWeights(outDir: string): string {
  const path = join(outDir, MODEL_FILE);
  if (!existsSync(path)) return 'no epoch finished, so no weights were written';
  const bad = nonFiniteInFile(path);
  if (bad) return `${path} holds non-finite values ('${bad.name}' has ${bad.value}) from an earlier run and is no usable checkpoint`;
  const epoch = readManifest(outDir)?.epoch;
  return `${path} keeps the last good weights (${epoch ? `epoch ${epoch}, ` : ''}all values finite; not overwritten)`;
}

/** Runs `gpugrad train`; returns the process exit status. */
export async function train(o: Map<string, OptionValue>, say: (line: string) => void = console.log): Promise<number> {
  await chooseBackend(o.get('backend') as string | undefined);
  const outDir = resolve(opt<string>(o, 'resume') ?? opt<string>(o, 'out'));
  const resume = o.get('resume') as string | undefined;
  const showProgress = o.has('progress') ? (o.get('progress') as boolean) : Boolean(process.stdout.isTTY);
  const t0 = performance.now();

  // Leftovers of a save that was interrupted (temporary files, an uncommitted epoch directory) go first.
  const removed = cleanRunDir(outDir);
  if (removed.length) say(`removed ${removed.length} leftover(s) of an interrupted save in ${outDir}: ${removed.slice(0, 4).join(', ')}${removed.length > 4 ? ', …' : ''}`);
  let saved: SavedRun | null = null;
  let log: TrainLog | null = null;
  if (resume) {
    saved = readSavedRun(outDir, resume);
    log = saved.log;
    // The saved options govern the resumed run; only --epochs (to extend it) and --backend may differ.
    for (const [k, v] of validateSavedOptions(log.options, 'log.json')) if (k !== 'backend' && (k !== 'epochs' || !o.has(k))) o.set(k, v);
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
  const release = (): void => {
    optim.dispose();
    model.dispose();
  };

  let startEpoch = 0;
  if (saved && log && saved.model && saved.optimizer) {
    try {
      const w = parseWeights(saved.model.bytes, saved.model.path);
      try {
        // tidy: Module.loadStateDict's copies create scalar constants that would otherwise outlive the call.
        tidy(() => void model.loadStateDict(w.state));
      } finally {
        for (const t of w.state.values()) t.dispose();
      }
      const bad = await firstNonFinite(model.stateDict());
      if (bad) fail('train', `--resume ${resume}: the saved weights of epoch ${saved.epoch} hold non-finite values ('${bad.name}' has ${bad.value}); a run cannot continue from them. Start a new run (e.g. with a lower --lr)`);
      startEpoch = loadOptimizer(saved.optimizer.path, model, optim, saved.optimizer.bytes);
      if (startEpoch !== saved.epoch || w.epoch !== startEpoch) fail('train', `--resume ${resume}: weights (epoch ${w.epoch}), optimizer (epoch ${startEpoch}) and log (${saved.epoch} epochs) disagree`);
    } catch (e) {
      release();
      throw e;
    }
    log.steps = log.steps.filter((s) => s.epoch < startEpoch);
    schedule?.setEpoch(startEpoch * stepsPerEpoch);
    if (startEpoch >= epochs) {
      release();
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
  let tLast = t0;
  const logBytes = (): Uint8Array => {
    log!.totalSeconds += (performance.now() - tLast) / 1000;
    tLast = performance.now();
    return new TextEncoder().encode(JSON.stringify(log, null, 1));
  };
  // A new run commits its start (options and configuration, epoch 0), so --resume has a state from the outset.
  if (!saved) commitEpoch(outDir, 0, { log: logBytes() });

  if (getBackend() === 'reference') {
    const others = registeredBackends().filter((b) => b !== 'reference');
    say(`note: 'reference' is the float64 test oracle and trains slowly${others.length ? `; faster: --backend ${others.join(' | ')}` : ''}`);
  }
  say(`gpugrad train: backend ${getBackend()}, ${trainSet.name}: ${trainSet.count} training / ${testSet.count} held-out images`);
  say(`model: Bottleneck ResNet ${config.layers.join(',')} blocks, widths ${config.widths.join(',')}, ${model.numParameters().toLocaleString('en-US')} parameters, ${(summary(model, [1, 1, 28, 28]).totalMacs / 1e6).toFixed(1)} MMAC per image; ` + `${opt<string>(o, 'optimizer')} lr ${opt<number>(o, 'lr')} (${opt<string>(o, 'schedule')}), batch ${batchSize}${accumulate > 1 ? ` × ${accumulate} accumulated` : ''}, ${epochs} epochs` + (startEpoch ? `, resuming after epoch ${startEpoch}` : ''));

  /** The log and plot outside a commit (a stop, the end): atomic replacements of the top-level copies. */
  const writeLog = (): void => {
    replaceFile(join(outDir, 'log.json'), logBytes());
    replaceFile(join(outDir, 'plot.png'), plotLog(log!));
  };
  const stop = (reason: string, where: string, step: number, epoch: number): number => {
    optim.zeroGrad();
    log!.stopped = { reason, step, epoch };
    writeLog();
    if (showProgress) process.stdout.write('\n');
    console.error(`gpugrad train: stopped: ${where}; ${keptWeights(outDir)}. Try a lower --lr.`);
    release();
    return 1;
  };
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
      if (!Number.isFinite(lv)) return stop(`loss is ${lv}`, `the loss became ${lv} at step ${step + 1} (epoch ${epoch + 1}, batch ${k})`, step + 1, epoch + 1);
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
    // Weights that went non-finite in the epoch's last update are never committed as a checkpoint.
    const bad = await firstNonFinite(model.stateDict());
    if (bad) return stop(`weights are non-finite ('${bad.name}' has ${bad.value})`, `the weights became non-finite in epoch ${epoch + 1} ('${bad.name}' has ${bad.value}) and were not saved`, step, epoch + 1);
    const acc = await evaluate(model, testSet, { mean: config.mean[0], std: config.std[0] });
    const seconds = (performance.now() - te) / 1000;
    log.epochs.push({ epoch: epoch + 1, trainLoss: lossSum / seen, trainAccuracy: correct / seen, heldOutAccuracy: acc, seconds, imagesPerSecond: seen / seconds });
    commitEpoch(outDir, epoch + 1, { model: await encodeModel(model, config, epoch + 1), optimizer: await encodeOptimizer(model, optim, epoch + 1), log: logBytes(), plot: plotLog(log) });
    say(`epoch ${epoch + 1}/${epochs}: train loss ${(lossSum / seen).toFixed(4)}, train acc ${((100 * correct) / seen).toFixed(2)}%, held-out acc ${(100 * acc).toFixed(2)}% (${seconds.toFixed(1)} s, ${(seen / seconds).toFixed(0)} img/s)`);
  }
  log.finished = stopAfter === epochs;
  writeLog();
  if (!log.finished) say(`stopped after epoch ${stopAfter} of ${epochs}; continue with: gpugrad train --resume ${outDir}`);
  release();
  const leaked = memory().tensors - memStart;
  const final = log.epochs[log.epochs.length - 1];
  say(`done in ${fmtTime((performance.now() - t0) / 1000)}: held-out accuracy ${(100 * final.heldOutAccuracy).toFixed(2)}% on ${testSet.count} images; wrote ${join(outDir, MODEL_FILE)}, ${OPTIM_FILE}, log.json, plot.png (committed: ${MANIFEST})` + (leaked > 0 ? ` (warning: ${leaked} tensors still live)` : ''));
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
