// Generates docs/api.md: every public name gpugrad exports (top-level functions, Tensor methods, F, nn, nn.init,
// nn.utils, Module methods, optim, schedulers, models), each with its PyTorch counterpart, read from the exports
// at run time so the table lists exactly what exists. PyTorch names come from the camelCase → snake_case rule
// plus the exceptions below; names with no PyTorch counterpart say so.
// Run: node --import tsx scripts/api-table.ts   (writes docs/api.md; test/api-table.test.ts checks it is current)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// The Node entry: the portable index plus the file helpers (gpugrad/node).
import * as gg from '../src/node.js';

/** crossEntropy → cross_entropy, maxPool2d → max_pool2d, requiresGrad_ → requires_grad_. */
export function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

const ONLY = '— (gpugrad only)';

// Exceptions to the naming rule, by section and gpugrad name; ONLY for what PyTorch has no counterpart of.
const EXCEPTIONS: Record<string, Record<string, string>> = {
  top: {
    concat: 'torch.cat',
    oneHot: 'torch.nn.functional.one_hot',
    variance: 'torch.var',
    expand: 'Tensor.expand',
    view: 'Tensor.view',
    cat: 'torch.cat',
    slice: 'torch.narrow',
    noGrad: 'torch.no_grad',
    noGradAsync: 'torch.no_grad (async code)',
    setPrintOptions: 'torch.set_printoptions',
    manualSeed: 'torch.manual_seed',
    Generator: 'torch.Generator',
    Tensor: 'torch.Tensor',
    GpugradError: ONLY,
    detectAnomaly: 'torch.autograd.detect_anomaly',
    setAnomalyDetection: 'torch.autograd.set_detect_anomaly',
    AnomalyError: ONLY,
    loadTorchStateDict: 'torch.load',
    readTorchStateDict: 'torch.load',
    isTorchFile: ONLY,
    isTorchZip: ONLY,
    summary: 'torchinfo.summary (not in torch)',
    DataLoader: 'torch.utils.data.DataLoader',
    subset: 'torch.utils.data.Subset',
    splitHoldout: 'torch.utils.data.random_split (stratified here)',
    memory: 'torch.cuda.memory_allocated (per backend)',
    imageToTensor: 'torchvision.transforms.functional.to_tensor + normalize',
    resizePlanar: 'torchvision.transforms.functional.resize',
    toPlanar: ONLY,
    IMAGENET_CLASSES: "torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta['categories']",
    IMAGENET_MEAN: ONLY,
    IMAGENET_STD: ONLY,
    readImage: 'torchvision.io.read_image',
    decodeImage: 'torchvision.io.decode_image',
    encodePng: 'torchvision.io.encode_png',
    readIdx: ONLY,
    loadIdxPair: ONLY,
    loadIdxDir: ONLY,
    loadMnistPackage: 'torchvision.datasets.MNIST',
  },
  tensor: {
    data: 'Tensor.numpy (async)',
    dataSync: 'Tensor.numpy',
    itemSync: 'Tensor.item',
    item: 'Tensor.item (async)',
    toArray: 'Tensor.tolist',
    assign: 'Tensor.copy_',
    toBackend: 'Tensor.to',
    toBackendAsync: 'Tensor.to',
    zeroGrad: 'Tensor.grad = None',
    toString: 'Tensor.__repr__',
    dispose: ONLY,
    T: 'Tensor.T',
    moveTo: 'Tensor.data = t.to(…)',
    version: 'Tensor._version',
    markModified: ONLY,
    node: 'Tensor.grad_fn',
    rank: 'Tensor.dim',
    size: 'Tensor.numel',
  },
  F: { conv2dAffine: ONLY, softplusOf: ONLY, batchNorm2d: 'torch.nn.functional.batch_norm' },
  nn: {
    BatchNorm: 'torch.nn.modules.batchnorm._BatchNorm',
    Parameter: 'torch.nn.Parameter',
    Buffer: 'torch.nn.Buffer (torch ≥ 2.5)',
    convBn: ONLY,
    setBatchNormFolding: ONLY,
    batchNormFolding: ONLY,
    skipInit: 'torch.nn.utils.skip_init',
    initSkipped: ONLY,
    checkpoint: 'torch.utils.checkpoint.checkpoint',
    invalidateFoldedBatchNorms: ONLY,
  },
  init: { fans: 'torch.nn.init._calculate_fan_in_and_fan_out', gain: 'torch.nn.init.calculate_gain' },
  module: {
    call: 'Module.__call__',
    numParameters: 'sum(p.numel() for p in m.parameters())',
    extraRepr: 'Module.extra_repr',
    toString: 'Module.__repr__',
    dispose: ONLY,
  },
  optim: { LRScheduler: 'torch.optim.lr_scheduler._LRScheduler' },
  optimizer: { lr: "Optimizer.param_groups[i]['lr']", initialLr: "Optimizer.param_groups[i]['initial_lr']", params: 'Optimizer.param_groups', dispose: ONLY },
  models: {
    ResNet: 'torchvision.models.ResNet',
    BasicBlock: 'torchvision.models.resnet.BasicBlock',
    Bottleneck: 'torchvision.models.resnet.Bottleneck',
    makeLayer: 'torchvision.models.ResNet._make_layer',
    conv1x1: 'torchvision.models.resnet.conv1x1',
    conv3x3: 'torchvision.models.resnet.conv3x3',
  },
};

// Top-level exports that are backend and runtime plumbing (no PyTorch counterpart): listed together, once.
const RUNTIME = /^(tidy|tidyAsync|keep|setLeakTracking|liveTensors|setBackend|getBackend|registerBackend|registeredBackends|backendFallbackReason|currentBackend|readyBackend|defaultBackendChoice|backendLabel|withDefaults|ownFastPaths|FAST_PATHS|coreOnly|CORE_MEMBERS|BACKENDS|GPUJS_MODES|parseBackendLabel|GpujsBackend|WasmBackend|gpujsModeAvailable|gpujsThreadsAvailable|installWebGPU|fastestGpujsMode|wasmAvailable|wasmThreadsAvailable|defaultWasmThreads|enableRelaxedSimd|relaxedSimdAvailable|wasmRelaxedDefault|readSafetensors|writeSafetensors|writeSafetensorsAsync|readSafetensorsMetadata|parseSafetensorsHeader|loadSafetensors|saveSafetensors)$/;
const MODELS = /^(ResNet|BasicBlock|Bottleneck|makeLayer|conv1x1|conv3x3|resnet\d+|resnext\w+|wide_resnet\w+)$/;
const SCHEDULERS = /LR$|^LRScheduler$|^ReduceLROnPlateau$/;
// Internal helpers on the prototypes (TypeScript-private or protected plumbing), not API.
const HIDDEN = new Set(['storage', 'setStorage', 'shareAs', 'backend', 'isDisposed', 'storageOn', 'checkName', 'collect', 'discover', 'setModule', 'freeCaches', 'groupHyper', 'paramState', 'initialState']);

function methods(proto: object): string[] {
  return Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor' && !n.startsWith('_') && !HIDDEN.has(n)).sort();
}

function rows(section: string, names: string[], prefix: string, gpugradPrefix: string, snakeCase: boolean | ((n: string) => boolean) = true): string[] {
  return names.map((n) => {
    const ex = EXCEPTIONS[section]?.[n];
    const torch = ex ?? `${prefix}${(typeof snakeCase === 'function' ? snakeCase(n) : snakeCase) ? snake(n) : n}`;
    return `| \`${gpugradPrefix}${n}\` | ${torch === ONLY ? torch : `\`${torch}\``} |`;
  });
}

const isClass = (v: unknown): boolean => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));

export function apiTable(): string {
  const top = Object.keys(gg).filter((k) => !['F', 'nn', 'optim'].includes(k)).sort();
  const nn = gg.nn as unknown as Record<string, unknown>;
  const nnNames = Object.keys(nn).filter((k) => !['init', 'utils'].includes(k)).sort();
  const optimNames = Object.keys(gg.optim).sort();
  const out: string[] = [
    '# API coverage',
    '',
    'Every public name gpugrad exports and its PyTorch counterpart, generated from the exports by',
    '`scripts/api-table.ts` (`node --import tsx scripts/api-table.ts`; a test fails when this file is out of date),',
    'read from the Node entry (`gpugrad/node`: the portable `gpugrad` plus the file helpers).',
    'Names follow PyTorch in camelCase; options are objects (`F.crossEntropy(x, t, { labelSmoothing: 0.1 })`).',
    '',
  ];
  const table = (title: string, body: string[]): void => {
    out.push(`## ${title} (${body.length})`, '', '| gpugrad | PyTorch |', '|---|---|', ...body, '');
  };
  table('Tensors, creation and top-level ops', rows('top', top.filter((k) => !RUNTIME.test(k) && !MODELS.test(k)), 'torch.', ''));
  table('Tensor methods', rows('tensor', methods(gg.Tensor.prototype), 'Tensor.', 'Tensor.'));
  table('Functional (`F`)', rows('F', Object.keys(gg.F).sort(), 'torch.nn.functional.', 'F.'));
  // Classes keep their names (nn.Linear); functions are snake_cased.
  table('Modules and nn helpers (`nn`)', rows('nn', nnNames, 'torch.nn.', 'nn.', (n) => !isClass(nn[n])));
  table('Module methods', rows('module', methods(gg.nn.Module.prototype), 'Module.', 'Module.'));
  table('Initialisers (`nn.init`)', rows('init', Object.keys(gg.nn.init).sort(), 'torch.nn.init.', 'nn.init.'));
  table('Utilities (`nn.utils`)', rows('utils', Object.keys(gg.nn.utils).sort(), 'torch.nn.utils.', 'nn.utils.'));
  table('Optimizers (`optim`)', rows('optim', optimNames.filter((k) => !SCHEDULERS.test(k)), 'torch.optim.', 'optim.', false));
  table('Optimizer methods', rows('optimizer', methods(gg.optim.Optimizer.prototype), 'Optimizer.', 'Optimizer.'));
  table('Learning-rate schedulers (`optim`)', rows('optim', optimNames.filter((k) => SCHEDULERS.test(k)), 'torch.optim.lr_scheduler.', 'optim.', false));
  table('Models (torchvision)', rows('models', top.filter((k) => MODELS.test(k)), 'torchvision.models.', '', false));
  out.push(`## Runtime, backends and I/O (no PyTorch counterpart)`, '', top.filter((k) => RUNTIME.test(k)).map((k) => `\`${k}\``).join(', '), '');
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = fileURLToPath(new URL('../docs/api.md', import.meta.url));
  writeFileSync(path, apiTable());
  console.log(`wrote ${path}`);
}
