// The training log of `gpugrad train` (log.json: what a resumed run continues from), its plot, and the live
// progress line: everything the loop reports, kept apart from the loop itself.
import { fail } from '../errors.js';
import type { NetConfig } from '../models/netconfig.js';
import { validateNetConfig } from './model.js';
import type { OptionValue } from './args.js';
import { plotPanels } from './plot.js';
import { validateSavedOptions } from './train-options.js';

export interface StepLog {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
}
export interface EpochLog {
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

/** Parses and checks a run's log.json (it governs a resumed run: options, network config, steps so far). */
export function parseLog(bytes: Uint8Array, source: string): TrainLog {
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

/** m:ss, or --:-- before there is a rate to extrapolate from. */
export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/** Running totals of one epoch, for the progress line and the epoch's log entry. */
export interface EpochTotals {
  lossSum: number;
  correct: number;
  seen: number;
}

/** The live one-line progress display: bar, running loss and accuracy, throughput, time left. */
export function progressLine(epoch: number, epochs: number, k: number, batches: number, t: EpochTotals, imagesPerSecond: number, secondsLeft: number): string {
  const bar = '█'.repeat(Math.round((20 * k) / batches)).padEnd(20, '·');
  return `\r epoch ${epoch + 1}/${epochs} ${bar} ${k}/${batches}  loss ${(t.lossSum / t.seen).toFixed(4)}  acc ${((100 * t.correct) / t.seen).toFixed(1)}%  ${imagesPerSecond.toFixed(0)} img/s  ETA ${fmtTime(secondsLeft)} `;
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
