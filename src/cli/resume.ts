// `gpugrad train --resume`: reading a run directory's last committed state (checkpoint.ts) and restoring a model
// and optimizer from it, refusing anything inconsistent or non-finite; and what a stop says about the files kept.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { tidy } from '../engine.js';
import type { ResNet } from '../models/resnet.js';
import type { Optimizer } from '../optim/index.js';
import { MANIFEST, readCommitted, readManifest } from './checkpoint.js';
import { firstNonFinite } from './finite.js';
import { loadOptimizer, MODEL_FILE, nonFiniteInFile, OPTIM_FILE, parseWeights, readBytes } from './model.js';
import { parseLog, type TrainLog } from './train-log.js';

/** What --resume continues from: the log, and the committed weights and optimizer bytes (none at epoch 0). */
export interface SavedRun {
  log: TrainLog;
  epoch: number;
  model: { bytes: Uint8Array; path: string } | null;
  optimizer: { bytes: Uint8Array; path: string } | null;
}

/**
 * Reads the last complete state of a run directory: the files checkpoint.json names (size and hash checked), or,
 * for a run written before checkpoints had a manifest, the three top-level files, which must agree.
 */
export function readSavedRun(dir: string, arg: string): SavedRun {
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

/**
 * Loads a saved run's weights and optimizer state into `model` and `optim`; returns the epoch they belong to (0
 * for a run saved before its first epoch ended).
 * Refuses non-finite weights and files that disagree about the epoch.
 */
export async function restoreRun(saved: SavedRun, model: ResNet, optim: Optimizer, arg: string): Promise<number> {
  if (!saved.model || !saved.optimizer) return 0; // a run resumed at epoch 0 has no weights yet
  const w = parseWeights(saved.model.bytes, saved.model.path);
  try {
    // tidy: Module.loadStateDict's copies create scalar constants that would otherwise outlive the call.
    tidy(() => void model.loadStateDict(w.state));
  } finally {
    for (const t of w.state.values()) t.dispose();
  }
  const bad = await firstNonFinite(model.stateDict());
  if (bad) fail('train', `--resume ${arg}: the saved weights of epoch ${saved.epoch} hold non-finite values ('${bad.name}' has ${bad.value}); a run cannot continue from them. Start a new run (e.g. with a lower --lr)`);
  const epoch = loadOptimizer(saved.optimizer.path, model, optim, saved.optimizer.bytes);
  if (epoch !== saved.epoch || w.epoch !== epoch) fail('train', `--resume ${arg}: weights (epoch ${w.epoch}), optimizer (epoch ${epoch}) and log (${saved.epoch} epochs) disagree`);
  return epoch;
}

/** What the stop message says about the weights on disk: verified, never assumed, to be good. */
export function keptWeights(outDir: string): string {
  const path = join(outDir, MODEL_FILE);
  if (!existsSync(path)) return 'no epoch finished, so no weights were written';
  const bad = nonFiniteInFile(path);
  if (bad) return `${path} holds non-finite values ('${bad.name}' has ${bad.value}) from an earlier run and is no usable checkpoint`;
  const epoch = readManifest(outDir)?.epoch;
  return `${path} keeps the last good weights (${epoch ? `epoch ${epoch}, ` : ''}all values finite; not overwritten)`;
}
