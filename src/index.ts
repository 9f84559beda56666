// gpugrad's public API: tensors, ops, autograd, functional ops under F, backends. This is the portable entry
// (`import 'gpugrad'` in browsers, Web Workers and bundlers): nothing reachable from here imports a `node:*`
// module. Node adds file helpers in node.ts (`gpugrad/node`, and `gpugrad` itself under Node).
import { registerBackend, setDefaultBackendChooser } from './backend.js';
import { chooseDefaultBackend } from './select.js';
import { BACKENDS } from './backends/registry.js';

// The shipped backends and their factories: src/backends/registry.ts.
for (const b of BACKENDS) registerBackend(b.name, b.create);
// The default (when no setBackend was called): see select.ts for the order and the reason it reports.
setDefaultBackendChooser(chooseDefaultBackend);

export { Tensor } from './tensor.js';
export { noGrad, noGradAsync, isGradEnabled, tidy, tidyAsync, keep, memory, setLeakTracking, type MemoryInfo } from './engine.js';
export { tensor, zeros, ones, full, zerosLike, onesLike, arange, rand, randn, type TensorOptions, type DataLike, type NestedArray } from './creation.js';
export {
  add,
  sub,
  mul,
  div,
  eq,
  gt,
  ne,
  neg,
  exp,
  log,
  sqrt,
  abs,
  relu,
  pow,
  sum,
  mean,
  max,
  expand,
  reshape,
  view,
  permute,
  transpose,
  flatten,
  squeeze,
  unsqueeze,
  slice,
  concat,
  matmul,
  sigmoid,
  tanh,
  erf,
} from './ops.js';
export {
  lt,
  le,
  ge,
  where,
  maximum,
  minimum,
  clamp,
  min,
  amax,
  amin,
  argmax,
  argmin,
  variance as var,
  variance,
  std,
  stack,
  cat,
  split,
  chunk,
  gather,
  indexSelect,
  oneHot,
  t,
  clone,
  sort,
  argsort,
  topk,
  type VarOptions,
  type SortOptions,
  type TopkOptions,
  type ValuesIndices,
} from './ops-extra.js';
export { eye, linspace, randint, type RandintOptions } from './creation-extra.js';
export * as F from './functional-scoped.js';
export { manualSeed, Generator } from './random.js';
export { GpugradError } from './errors.js';
export {
  setBackend,
  getBackend,
  registerBackend,
  registeredBackends,
  backendFallbackReason,
  currentBackend,
  readyBackend,
  defaultBackendChoice,
  backendLabel,
  type DefaultChoice,
  type Backend,
  type BackendImpl,
  type CoreBackend,
  type FastPaths,
  type BackendOptions,
  type Storage,
  type WindowGeometry,
  type MatmulGeometry,
} from './backend.js';
export { withDefaults, ownFastPaths, FAST_PATHS } from './backends/defaults.js';
export { coreOnly, CORE_MEMBERS } from './backends/core-only.js';
export { BACKENDS, GPUJS_MODES, parseBackendLabel, type BackendEntry } from './backends/registry.js';
export type { Prim } from './autograd.js';
export { detectAnomaly, setAnomalyDetection, AnomalyError, liveTensors, type LiveTensor } from './debug.js';
export * as nn from './nn/index.js';
export {
  ResNet,
  BasicBlock,
  Bottleneck,
  makeLayer,
  conv1x1,
  conv3x3,
  resnet18,
  resnet34,
  resnet50,
  resnet101,
  resnet152,
  resnext50_32x4d,
  resnext101_32x8d,
  resnext101_64x4d,
  wide_resnet50_2,
  wide_resnet101_2,
  type ResNetOptions,
  type BlockOptions,
  type BlockType,
} from './models/resnet.js';
export {
  readSafetensors,
  writeSafetensors,
  writeSafetensorsAsync,
  readSafetensorsMetadata,
  parseSafetensorsHeader,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type WriteSafetensorsOptions,
} from './io/safetensors.js';
export { readTorchStateDict, isTorchFile, isTorchZip, type ReadTorchOptions } from './io/torch.js';
export { GpujsBackend, gpujsModeAvailable, gpujsThreadsAvailable, installWebGPU, fastestGpujsMode, type GpujsMode } from './backends/gpujs/index.js';
export { WasmBackend, wasmAvailable, wasmThreadsAvailable, defaultWasmThreads, wasmRelaxedDefault, enableRelaxedSimd, relaxedSimdAvailable, type WasmBackendOptions } from './backends/wasm.js';
export { summary, type ModelSummary, type SummaryRow, type SummaryOptions } from './summary.js';
export { setPrintOptions, type PrintOptions } from './print.js';
// Training: optimizers and schedules, and the browser-safe data pieces (file loaders are in node.ts).
export * as optim from './optim/index.js';
export { splitHoldout, subset, type ImageDataset } from './data/dataset.js';
export { DataLoader, type LoaderOptions, type Batch } from './data/loader.js';
// Pixels → tensors (decode in a page with a canvas's getImageData(), or readImage/decodeImage from gpugrad/node).
export { imageToTensor, toPlanar, resizePlanar, IMAGENET_MEAN, IMAGENET_STD, type RawImage, type ImageTensorOptions } from './io/pixels.js';
export { IMAGENET_CLASSES } from './data/imagenet-classes.js';
