// `gpugrad predict`: classifies PNG/JPEG images with a safetensors state dict (torchvision ResNet keys or a
// file written by `gpugrad train`) and prints the top-k classes with their names.
import { fail } from '../errors.js';
import * as F from '../functional.js';
import { IMAGENET_CLASSES } from '../data/imagenet-classes.js';
import { imageToTensor, readImage } from '../io/image.js';
import { noGrad, tidy } from '../engine.js';
import { UsageError, type OptionSpec, type OptionValue } from './args.js';
import { buildNet, readWeights } from './model.js';
import { refuseNonFinite } from './finite.js';
import { chooseBackend } from './train.js';
import { getBackend } from '../backend.js';
import { skipInit } from '../nn/layers.js';

export const PREDICT_OPTIONS: Record<string, OptionSpec> = {
  weights: { kind: 'string', help: 'safetensors state dict (torchvision ResNet keys, or model.safetensors from train)' },
  top: { kind: 'int', min: 1, help: 'how many classes to print (default 5)' },
  invert: { kind: 'string', choices: ['auto', 'yes', 'no'], help: 'for digit models: make dark-on-light pictures light-on-dark (default auto)' },
  backend: { kind: 'string', help: 'backend name, optionally with a mode' },
  'max-pixels': { kind: 'int', min: 1, help: 'largest image (width × height) decoded (default 33554432)' },
  help: { kind: 'flag', help: 'show this help' },
};

export async function predict(o: Map<string, OptionValue>, images: string[], say: (line: string) => void = console.log): Promise<number> {
  const weights = o.get('weights') as string | undefined;
  if (!weights) throw new UsageError('predict needs --weights <file.safetensors>');
  if (images.length === 0) throw new UsageError('predict needs at least one image file (PNG or JPEG)');
  await chooseBackend(o.get('backend') as string | undefined);
  // Decode every image first so that a bad file is reported before the (slow) model work starts.
  const maxPixels = o.get('max-pixels') as number | undefined;
  const decoded = images.map((p) => ({ path: p, img: readImage(p, { maxPixels }) }));
  const { state, config } = readWeights(weights);
  try {
    await refuseNonFinite('predict', weights, state);
  } catch (e) {
    for (const t of state.values()) t.dispose();
    throw e;
  }
  // Every weight is overwritten by the file, so skip the (for ResNet-50, seconds-long) random init.
  const model = skipInit(() => buildNet(config));
  try {
    // tidy: Module.loadStateDict's copies create scalar constants that would otherwise outlive the call.
    tidy(() => void model.loadStateDict(state));
  } finally {
    for (const t of state.values()) t.dispose();
  }
  model.eval();
  const names = config.classes ?? (config.numClasses === 1000 ? IMAGENET_CLASSES : null);
  const top = Math.min((o.get('top') as number | undefined) ?? 5, config.numClasses);
  const inv = (o.get('invert') as string | undefined) ?? 'auto';
  say(`backend ${getBackend()}; model: ${config.block === 'bottleneck' ? 'Bottleneck' : 'BasicBlock'} ResNet ${config.layers.join(',')}${config.groups || config.widthPerGroup ? ` (groups ${config.groups ?? 1}, width per group ${config.widthPerGroup ?? 64})` : ''}, ${config.numClasses} classes, input ${config.inChannels}×${config.inputSize}×${config.inputSize}`);
  for (const { path, img } of decoded) {
    const digits = config.inChannels === 1;
    const probs = noGrad(() =>
      tidy(() => {
        const x = imageToTensor(img, {
          channels: config.inChannels === 1 ? 1 : 3,
          size: config.inputSize,
          fit: digits ? 'stretch' : 'imagenet',
          mean: config.mean,
          std: config.std,
          invert: digits ? (inv === 'auto' ? 'auto' : inv === 'yes') : false,
        });
        return F.softmax(model.forward(x), 1);
      }),
    );
    const p = await probs.data();
    probs.dispose();
    if (!p.every(Number.isFinite)) fail('predict', `the model produced non-finite outputs for ${path}; the weights may be corrupt`);
    const order = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, top);
    say(`${path}:`);
    order.forEach((k, i) => say(`  ${i + 1}. ${(100 * p[k]).toFixed(2).padStart(6)}%  ${names?.[k] ?? `class ${k}`} (${k})`));
  }
  model.dispose();
  return 0;
}
