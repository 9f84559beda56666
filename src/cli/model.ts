// The models the CLI builds, and their checkpoints: a small Bottleneck ResNet for 28×28 digits, the
// architecture recorded in (or inferred from) a safetensors file, and model/optimizer save and load.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, fmt } from '../errors.js';
import { BasicBlock, Bottleneck, ResNet } from '../models/resnet.js';
import type { Optimizer, OptimizerStateDict, ParamState } from '../optim/index.js';
import { readSafetensors, readSafetensorsMetadata, writeSafetensorsAsync } from '../io/safetensors.js';
import { isTorchFile, readTorchStateDict } from '../io/torch.js';
import type { Tensor } from '../tensor.js';

/** Everything needed to rebuild a network and feed it: stored in the weights file's metadata. */
export interface NetConfig {
  block: 'bottleneck' | 'basic';
  layers: number[];
  widths: number[];
  inChannels: number;
  numClasses: number;
  stemKernel: number;
  stemStride: number;
  maxPool: boolean;
  /** Input side length and per-channel normalisation the network was trained with. */
  inputSize: number;
  mean: number[];
  std: number[];
  /** Class names, when they are not ImageNet's. */
  classes?: string[];
}

/** MNIST's pixel mean and standard deviation (the values every MNIST tutorial normalises with). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

/** The digit network: torchvision's ResNet layout with a 3×3 stem and no max pool, sized for 28×28. */
export function digitNetConfig(width: number, layers: number[], stemStride: number): NetConfig {
  if (layers.length !== 4) fail('train', `--depth needs 4 block counts (one per stage), got ${layers.length}`);
  return {
    block: 'bottleneck',
    layers,
    widths: [width, 2 * width, 4 * width, 8 * width],
    inChannels: 1,
    numClasses: 10,
    stemKernel: 3,
    stemStride,
    maxPool: false,
    inputSize: 28,
    mean: [MNIST_MEAN],
    std: [MNIST_STD],
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  };
}

export function buildNet(c: NetConfig, zeroInitResidual = false): ResNet {
  return new ResNet(c.block === 'bottleneck' ? Bottleneck : BasicBlock, c.layers, {
    layers: c.layers,
    widths: c.widths,
    inChannels: c.inChannels,
    numClasses: c.numClasses,
    stemKernel: c.stemKernel,
    stemStride: c.stemStride,
    maxPool: c.maxPool,
    zeroInitResidual,
  });
}

/**
 * Infers a torchvision ResNet's architecture from its state-dict keys and shapes (for files without
 * gpugrad metadata, e.g. torchvision's resnet50 weights exported to safetensors).
 */
export function inferNetConfig(shapes: Map<string, readonly number[]>, what: string): NetConfig {
  const need = (k: string): readonly number[] => {
    const s = shapes.get(k);
    if (!s) fail('predict', `${what} is not a ResNet state dict: it has no '${k}'`);
    return s;
  };
  const conv1 = need('conv1.weight');
  const fc = need('fc.weight');
  const layers: number[] = [];
  const widths: number[] = [];
  let bottleneck = false;
  for (let s = 1; s <= 4; s++) {
    let n = 0;
    while (shapes.has(`layer${s}.${n}.conv1.weight`)) n++;
    if (n === 0) fail('predict', `${what} is not a ResNet state dict: it has no 'layer${s}.0.conv1.weight'`);
    layers.push(n);
    widths.push(need(`layer${s}.0.conv1.weight`)[0]);
    bottleneck = shapes.has(`layer${s}.0.conv3.weight`);
  }
  if (conv1.length !== 4 || fc.length !== 2) fail('predict', `${what}: conv1.weight ${fmt(conv1)} or fc.weight ${fmt(fc)} has the wrong rank`);
  const rgb = conv1[1] === 3;
  return {
    block: bottleneck ? 'bottleneck' : 'basic',
    layers,
    widths,
    inChannels: conv1[1],
    numClasses: fc[0],
    stemKernel: conv1[2],
    // torchvision's stem for RGB inputs; a 1-channel net without metadata is taken to be a digit net.
    stemStride: rgb ? 2 : 1,
    maxPool: rgb,
    inputSize: rgb ? 224 : 28,
    mean: rgb ? [0.485, 0.456, 0.406] : [MNIST_MEAN],
    std: rgb ? [0.229, 0.224, 0.225] : [MNIST_STD],
  };
}

export function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail('gpugrad', code === 'ENOENT' ? `${what} not found: ${path}` : `cannot read ${what} ${path} (${code ?? (e as Error).message})`);
  }
}

/** Reads a weights file: its tensors, and the NetConfig from its metadata or inferred from its keys. */
export function readWeights(path: string): { state: Map<string, Tensor>; config: NetConfig; epoch: number | null } {
  const bytes = readBytes(path, 'weights file');
  // A torch.save file (torchvision's .pth downloads) has no gpugrad metadata: its keys give the architecture.
  const torch = isTorchFile(bytes);
  const meta = torch ? {} : readSafetensorsMetadata(bytes);
  const state = torch ? readTorchStateDict(bytes) : readSafetensors(bytes);
  let config: NetConfig;
  if (meta['gpugrad.config']) {
    try {
      config = JSON.parse(meta['gpugrad.config']) as NetConfig;
    } catch {
      fail('gpugrad', `${path} has unreadable gpugrad.config metadata`);
    }
  } else {
    config = inferNetConfig(new Map([...state].map(([k, t]) => [k, t.shape])), path);
  }
  const epoch = meta['gpugrad.epoch'] !== undefined ? Number(meta['gpugrad.epoch']) : null;
  return { state, config, epoch };
}

export const MODEL_FILE = 'model.safetensors';
export const OPTIM_FILE = 'optimizer.safetensors';

/**
 * Writes the model and then the optimizer state of a finished epoch. Each file is replaced atomically
 * (temporary file + rename), so an interrupted run leaves the previous epoch's complete files.
 */
export async function saveCheckpoint(dir: string, model: ResNet, config: NetConfig, opt: Optimizer, epoch: number): Promise<void> {
  const { rename, writeFile } = await import('node:fs/promises');
  const put = async (name: string, bytes: Uint8Array): Promise<void> => {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, bytes);
    await rename(tmp, join(dir, name));
  };
  await put(MODEL_FILE, await writeSafetensorsAsync(model.stateDict(), { metadata: { 'gpugrad.config': JSON.stringify(config), 'gpugrad.epoch': String(epoch) } }));
  const sd = opt.stateDict();
  const names = model.namedParameters().map(([n]) => n);
  const tensors = new Map<string, Tensor>();
  const steps: Record<string, number> = {};
  for (const [i, s] of sd.state) {
    steps[names[i]] = s.step;
    for (const [k, t] of s.tensors) tensors.set(`${names[i]}.${k}`, t);
  }
  try {
    await put(OPTIM_FILE, await writeSafetensorsAsync(tensors, { metadata: { 'gpugrad.optimizer': sd.kind, 'gpugrad.hyper': JSON.stringify(sd.hyper), 'gpugrad.steps': JSON.stringify(steps), 'gpugrad.epoch': String(epoch) } }));
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** Loads an optimizer state written by saveCheckpoint into `opt` (which must be over `model`'s parameters). */
export function loadOptimizer(path: string, model: ResNet, opt: Optimizer): number {
  const bytes = readBytes(path, 'optimizer state');
  const meta = readSafetensorsMetadata(bytes);
  const kind = meta['gpugrad.optimizer'];
  if (!kind) fail('gpugrad', `${path} is not a gpugrad optimizer state (no gpugrad.optimizer metadata)`);
  let hyper: Record<string, number | boolean>;
  let steps: Record<string, number>;
  try {
    hyper = JSON.parse(meta['gpugrad.hyper']) as Record<string, number | boolean>;
    steps = JSON.parse(meta['gpugrad.steps']) as Record<string, number>;
  } catch {
    fail('gpugrad', `${path} has unreadable optimizer metadata`);
  }
  const tensors = readSafetensors(bytes);
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
    if (stray.length) fail('gpugrad', `${path} holds optimizer state for parameters the model does not have: ${stray.slice(0, 5).join(', ')}`);
    const sd: OptimizerStateDict = { kind, hyper, state };
    opt.loadStateDict(sd);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return Number(meta['gpugrad.epoch'] ?? 0);
}
