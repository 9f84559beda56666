// The models the CLI builds, and their checkpoints: a small Bottleneck ResNet for 28×28 digits, the
// architecture recorded in (or inferred from) a safetensors file, and model/optimizer save and load.
import { readFileSync } from 'node:fs';
import { fail } from '../errors.js';
import type { ResNet } from '../models/resnet.js';
import { parseWeights, type NetConfig } from '../models/netconfig.js';
import type { Optimizer, OptimizerStateDict, ParamState } from '../optim/index.js';
import { decodeElements, parseSafetensorsHeader, readSafetensors, readSafetensorsMetadata, writeSafetensorsAsync } from '../io/safetensors.js';
import { namingFile } from '../io/naming.js';
import type { Tensor } from '../tensor.js';

// The architecture helpers live in src/models/netconfig.ts (no file system: the browser demo uses them too).
export { MNIST_MEAN, MNIST_STD, NET_LIMITS, buildNet, countNetParameters, digitNetConfig, inferNetConfig, parseWeights, validateNetConfig, type NetConfig } from '../models/netconfig.js';

export function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail('readWeights', code === 'ENOENT' ? `${what} not found: ${path}` : `cannot read ${what} ${path} (${code ?? (e as Error).message})`);
  }
}

/** Reads a weights file: its tensors, and the NetConfig from its metadata or inferred from its keys. */
export function readWeights(path: string): { state: Map<string, Tensor>; config: NetConfig; epoch: number | null } {
  return parseWeights(readBytes(path, 'weights file'), path);
}

export const MODEL_FILE = 'model.safetensors';
export const OPTIM_FILE = 'optimizer.safetensors';

/** The weights file of a finished epoch: the state dict, with the architecture and the epoch in its metadata. */
export async function encodeModel(model: ResNet, config: NetConfig, epoch: number): Promise<Uint8Array> {
  return writeSafetensorsAsync(model.stateDict(), { metadata: { 'gpugrad.config': JSON.stringify(config), 'gpugrad.epoch': String(epoch) } });
}

/** The optimizer state of a finished epoch (moments and step counts by parameter name), for --resume. */
export async function encodeOptimizer(model: ResNet, opt: Optimizer, epoch: number): Promise<Uint8Array> {
  const sd = opt.stateDict();
  const names = model.namedParameters().map(([n]) => n);
  const tensors = new Map<string, Tensor>();
  const steps: Record<string, number> = {};
  for (const [i, s] of sd.state) {
    steps[names[i]] = s.step;
    for (const [k, t] of s.tensors) tensors.set(`${names[i]}.${k}`, t);
  }
  try {
    return await writeSafetensorsAsync(tensors, { metadata: { 'gpugrad.optimizer': sd.kind, 'gpugrad.hyper': JSON.stringify(sd.hyper), 'gpugrad.steps': JSON.stringify(steps), 'gpugrad.epoch': String(epoch) } });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** Loads an optimizer state written by encodeOptimizer into `opt` (which must be over `model`'s parameters). */
export function loadOptimizer(path: string, model: ResNet, opt: Optimizer, bytes = readBytes(path, 'optimizer state')): number {
  const meta = namingFile('loadOptimizer', path, () => readSafetensorsMetadata(bytes));
  const kind = meta['gpugrad.optimizer'];
  if (!kind) fail('loadOptimizer', `${path} is not a gpugrad optimizer state (no gpugrad.optimizer metadata)`);
  let hyper: Record<string, number | boolean>;
  let steps: Record<string, number>;
  try {
    hyper = JSON.parse(meta['gpugrad.hyper']) as Record<string, number | boolean>;
    steps = JSON.parse(meta['gpugrad.steps']) as Record<string, number>;
  } catch {
    fail('loadOptimizer', `${path} has unreadable optimizer metadata`);
  }
  if (typeof hyper !== 'object' || hyper === null || typeof steps !== 'object' || steps === null || !Object.values(steps).every((v) => Number.isSafeInteger(v) && v >= 0)) {
    fail('loadOptimizer', `${path}: gpugrad.hyper must be an object and gpugrad.steps an object of non-negative integer step counts`);
  }
  const tensors = namingFile('loadOptimizer', path, () => readSafetensors(bytes));
  const state = new Map<number, ParamState>();
  model.namedParameters().forEach(([name], i) => {
    if (steps[name] === undefined) return;
    const own = new Map<string, Tensor>();
    for (const [k, t] of tensors) if (k.startsWith(`${name}.`) && !k.slice(name.length + 1).includes('.')) own.set(k.slice(name.length + 1), t);
    state.set(i, { step: steps[name], tensors: own });
  });
  const known = new Set(model.namedParameters().map(([n]) => n));
  const stray = Object.keys(steps).filter((n) => !known.has(n));
  try {
    if (stray.length) fail('loadOptimizer', `${path} holds optimizer state for parameters the model does not have: ${stray.slice(0, 5).join(', ')}`);
    const sd: OptimizerStateDict = { kind, hyper, state };
    opt.loadStateDict(sd);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  const epoch = Number(meta['gpugrad.epoch'] ?? 0);
  if (!Number.isSafeInteger(epoch) || epoch < 0) fail('loadOptimizer', `${path}: gpugrad.epoch metadata must be a non-negative integer, got ${JSON.stringify(meta['gpugrad.epoch'])}`);
  return epoch;
}

/**
 * The first tensor of a safetensors weights file holding NaN or ±Infinity, read on the host (nothing is
 * uploaded); null when every value is finite.
 */
export function nonFiniteInFile(path: string): { name: string; value: number } | null {
  const bytes = readBytes(path, 'weights file');
  const { entries, dataStart } = namingFile('readWeights', path, () => parseSafetensorsHeader(bytes));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const values = decodeElements(dv, dataStart + e.begin, e.dtype, n);
    const bad = values.find((v) => !Number.isFinite(v));
    if (bad !== undefined) return { name: e.name, value: bad };
  }
  return null;
}
