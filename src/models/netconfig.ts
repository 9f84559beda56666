// The digit network's and torchvision ResNets' architecture as data (NetConfig): validation of configs read from
// files, the digit net's defaults, building a ResNet from a config, inferring it from a state dict's keys, and
// reading a weights file's bytes (parseWeights). No file system: the CLI (src/cli/model.ts) and the browser demo
// share it.
import { fail, fmt } from '../errors.js';
import { BasicBlock, Bottleneck, ResNet } from './resnet.js';
import { readSafetensors, readSafetensorsMetadata } from '../io/safetensors.js';
import { isTorchFile, readTorchStateDict } from '../io/torch.js';
import { namingFile } from '../io/naming.js';
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
  /** Bottleneck's grouped convolution (ResNeXt, Wide ResNet); absent means 1 and 64, a plain ResNet. */
  groups?: number;
  widthPerGroup?: number;
  /** Input side length and per-channel normalisation the network was trained with. */
  inputSize: number;
  mean: number[];
  std: number[];
  /** Class names, when they are not ImageNet's. */
  classes?: string[];
}

/** Limits of a NetConfig read from a file (or given on the command line); every torchvision ResNet fits them. */
export const NET_LIMITS = {
  /** Blocks in all four stages (ResNet-152 has 50). */
  blocks: 256,
  /** Planes of a stage (torchvision's widest: 512). */
  width: 8192,
  inChannels: 64,
  numClasses: 100_000,
  /** Input side length (ImageNet: 224). */
  inputSize: 1024,
  stemKernel: 15,
  stemStride: 8,
  /** Bottleneck groups (ResNeXt-101 64x4d: 64) and width per group (Wide ResNet: 128). */
  groups: 1024,
  widthPerGroup: 8192,
  /** Parameters and buffers of the whole network (ResNet-152: 60 M; 2^27 float32 are 512 MiB). */
  parameters: 2 ** 27,
  className: 200,
} as const;

/** Parameters plus batch-norm buffers of the ResNet a (shape-checked) config describes, computed without building it. */
export function countNetParameters(c: NetConfig): number {
  const bn = (ch: number): number => 4 * ch; // weight, bias, running mean and variance
  const w0 = c.widths[0];
  let n = c.inChannels * w0 * c.stemKernel * c.stemKernel + bn(w0);
  let inplanes = w0;
  for (let s = 0; s < 4; s++) {
    const p = c.widths[s];
    const out = c.block === 'bottleneck' ? 4 * p : p;
    // A bottleneck's inner width: floor(planes·widthPerGroup/64)·groups; its 3×3 convolution is grouped.
    const groups = c.groups ?? 1;
    const w = Math.floor((p * (c.widthPerGroup ?? 64)) / 64) * groups;
    for (let b = 0; b < c.layers[s]; b++) {
      n += c.block === 'bottleneck' ? inplanes * w + (9 * w * w) / groups + w * out + bn(w) + bn(w) + bn(out) : 9 * inplanes * p + 9 * p * p + bn(p) + bn(p);
      if (b === 0 && (s > 0 || inplanes !== out)) n += inplanes * out + bn(out);
      inplanes = out;
    }
  }
  return n + inplanes * c.numClasses + c.numClasses;
}

/**
 * Checks a NetConfig that came from outside the program (a weights file's gpugrad.config, a run's log.json, the
 * command line) field by field — types, ranges, list lengths, and the total block and parameter budget — before
 * anything is built from it. Refusals name `source` and the field.
 */
export function validateNetConfig(raw: unknown, source: string, op = 'config'): NetConfig {
  const bad = (field: string, rule: string, got: unknown): never => {
    const shown = JSON.stringify(got);
    return fail(op, `${source}: ${field} must be ${rule}, got ${shown === undefined ? 'nothing' : shown.length > 60 ? `${shown.slice(0, 60)}…` : shown}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('the network config', 'an object', raw);
  const c = raw as Record<string, unknown>;
  const int = (k: string, min: number, max: number): number => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(k, `an integer from ${min} to ${max}`, v);
    return v as number;
  };
  const ints = (k: string, len: number, min: number, max: number): number[] => {
    const v = c[k];
    if (!Array.isArray(v) || v.length !== len || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max)) bad(k, `a list of ${len} integers from ${min} to ${max}`, v);
    return [...(v as number[])];
  };
  if (c.block !== 'bottleneck' && c.block !== 'basic') bad('block', "'bottleneck' or 'basic'", c.block);
  const layers = ints('layers', 4, 1, NET_LIMITS.blocks);
  const blocks = layers.reduce((a, b) => a + b, 0);
  if (blocks > NET_LIMITS.blocks) bad('layers', `at most ${NET_LIMITS.blocks} blocks in all`, layers);
  const inChannels = int('inChannels', 1, NET_LIMITS.inChannels);
  const floats = (k: string, positive: boolean): number[] => {
    const v = c[k];
    if (!Array.isArray(v) || v.length !== inChannels || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) bad(k, `a list of ${inChannels} finite${positive ? ' positive' : ''} numbers (one per input channel)`, v);
    return [...(v as number[])];
  };
  if (typeof c.maxPool !== 'boolean') bad('maxPool', 'true or false', c.maxPool);
  const stemKernel = int('stemKernel', 1, NET_LIMITS.stemKernel);
  if (stemKernel % 2 === 0) bad('stemKernel', 'odd', stemKernel);
  const config: NetConfig = {
    block: c.block as NetConfig['block'],
    layers,
    widths: ints('widths', 4, 1, NET_LIMITS.width),
    inChannels,
    numClasses: int('numClasses', 1, NET_LIMITS.numClasses),
    stemKernel,
    stemStride: int('stemStride', 1, NET_LIMITS.stemStride),
    maxPool: c.maxPool as boolean,
    inputSize: int('inputSize', 1, NET_LIMITS.inputSize),
    mean: floats('mean', false),
    std: floats('std', true),
  };
  // ResNeXt / Wide ResNet bottlenecks; absent means a plain ResNet (groups 1, width per group 64).
  if (c.groups !== undefined || c.widthPerGroup !== undefined) {
    config.groups = c.groups === undefined ? 1 : int('groups', 1, NET_LIMITS.groups);
    config.widthPerGroup = c.widthPerGroup === undefined ? 64 : int('widthPerGroup', 1, NET_LIMITS.widthPerGroup);
    if (config.block === 'basic' && (config.groups !== 1 || config.widthPerGroup !== 64)) bad('groups and widthPerGroup', "1 and 64 for 'basic' blocks", [config.groups, config.widthPerGroup]);
  }
  if (c.classes !== undefined && c.classes !== null) {
    const v = c.classes;
    if (!Array.isArray(v) || v.length !== config.numClasses || !v.every((x) => typeof x === 'string' && x.length <= NET_LIMITS.className)) bad('classes', `a list of ${config.numClasses} names (one per class) of at most ${NET_LIMITS.className} characters`, v);
    config.classes = [...(v as string[])];
  }
  const params = countNetParameters(config);
  if (params > NET_LIMITS.parameters) fail(op, `${source}: the network it describes (layers ${fmt(layers)}, widths ${fmt(config.widths)}) has ${params} parameters and buffers, over the limit of ${NET_LIMITS.parameters}`);
  return config;
}

/** MNIST's pixel mean and standard deviation (the values every MNIST tutorial normalises with). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

/** The digit network: torchvision's ResNet layout with a 3×3 stem and no max pool, sized for 28×28. */
export function digitNetConfig(width: number, layers: number[], stemStride: number): NetConfig {
  if (layers.length !== 4) fail('train', `--depth needs 4 block counts (one per stage), got ${layers.length}`);
  return validateNetConfig({
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
  }, `--width ${width} --depth ${layers.join(',')}`, 'train');
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
    groups: c.groups,
    widthPerGroup: c.widthPerGroup,
    zeroInitResidual,
  });
}

/**
 * Infers a torchvision ResNet's architecture from its state-dict keys and shapes (for files without
 * gpugrad metadata, e.g. torchvision's resnet50 weights exported to safetensors).
 */
export function inferNetConfig(shapes: Map<string, readonly number[]>, what: string): NetConfig {
  // Count blocks by key with a bound, so a file listing layer1.0 … layer1.99999 is refused before a long walk.
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
    while (shapes.has(`layer${s}.${n}.conv1.weight`) && n <= NET_LIMITS.blocks) n++;
    if (n === 0) fail('predict', `${what} is not a ResNet state dict: it has no 'layer${s}.0.conv1.weight'`);
    layers.push(n);
    bottleneck = shapes.has(`layer${s}.0.conv3.weight`);
    // A bottleneck's planes are its output channels / 4; its inner width (conv1's outputs) is larger in ResNeXt/WRN.
    widths.push(bottleneck ? need(`layer${s}.0.conv3.weight`)[0] / 4 : need(`layer${s}.0.conv1.weight`)[0]);
  }
  // ResNeXt / Wide ResNet: conv2 is grouped (its weight has width/groups input channels) and the inner width is
  // floor(planes·widthPerGroup/64)·groups.
  let groups = 1;
  let widthPerGroup = 64;
  if (bottleneck) {
    const inner = need('layer1.0.conv1.weight')[0];
    groups = inner / need('layer1.0.conv2.weight')[1];
    widthPerGroup = Math.round(((inner / groups) * 64) / widths[0]);
  }
  if (conv1.length !== 4 || fc.length !== 2) fail('predict', `${what}: conv1.weight ${fmt(conv1)} or fc.weight ${fmt(fc)} has the wrong rank`);
  const rgb = conv1[1] === 3;
  return validateNetConfig({
    block: bottleneck ? 'bottleneck' : 'basic',
    layers,
    widths,
    inChannels: conv1[1],
    numClasses: fc[0],
    stemKernel: conv1[2],
    // torchvision's stem for RGB inputs; a 1-channel net without metadata is taken to be a digit net.
    stemStride: rgb ? 2 : 1,
    maxPool: rgb,
    ...(groups !== 1 || widthPerGroup !== 64 ? { groups, widthPerGroup } : {}),
    inputSize: rgb ? 224 : 28,
    mean: rgb ? [0.485, 0.456, 0.406] : [MNIST_MEAN],
    std: rgb ? [0.229, 0.224, 0.225] : [MNIST_STD],
  }, `${what} (architecture inferred from its keys)`, 'predict');
}

/** readWeights on bytes already read (`path` names them in messages). */
export function parseWeights(bytes: Uint8Array, path: string): { state: Map<string, Tensor>; config: NetConfig; epoch: number | null } {
  // A torch.save file (torchvision's .pth downloads) has no gpugrad metadata: its keys give the architecture. A
  // file named .pth/.pt that is no torch.save file is reported as such, not as a damaged safetensors header.
  const torch = isTorchFile(bytes) || /\.(pth|pt)$/i.test(path);
  const op = 'readWeights';
  const meta = torch ? {} : namingFile(op, path, () => readSafetensorsMetadata(bytes));
  // The metadata is checked before any tensor is created or any model is built from it.
  let config: NetConfig | null = null;
  if (meta['gpugrad.config'] !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(meta['gpugrad.config']);
    } catch (e) {
      fail(op, `${path}: gpugrad.config metadata is not JSON (${(e as Error).message})`);
    }
    config = validateNetConfig(raw, `${path}: gpugrad.config`, op);
  }
  let epoch: number | null = null;
  if (meta['gpugrad.epoch'] !== undefined) {
    epoch = Number(meta['gpugrad.epoch']);
    if (!Number.isSafeInteger(epoch) || epoch < 0) fail(op, `${path}: gpugrad.epoch metadata must be a non-negative integer, got ${JSON.stringify(meta['gpugrad.epoch'])}`);
  }
  const state = namingFile(op, path, () => (torch ? readTorchStateDict(bytes) : readSafetensors(bytes)));
  try {
    config ??= inferNetConfig(new Map([...state].map(([k, t]) => [k, t.shape])), path);
  } catch (e) {
    for (const t of state.values()) t.dispose();
    throw e;
  }
  return { state, config, epoch };
}
