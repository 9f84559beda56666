// `gpugrad summary`: builds a named model and prints the library's summary() of it (layers, output shapes,
// parameters, multiply-accumulates).
import { fail } from '../errors.js';
import { RESNET_BUILDERS } from '../models/resnet.js';
import { summary } from '../summary.js';
import { skipInit } from '../nn/layers.js';
import { UsageError, type OptionSpec, type OptionValue } from './args.js';
import { buildNet, digitNetConfig } from './model.js';
import { chooseBackend, TRAIN_OPTIONS } from './train.js';

export const SUMMARY_OPTIONS: Record<string, OptionSpec> = {
  input: { kind: 'ints', min: 1, help: 'input shape N,C,H,W (default 1,3,224,224; 1,1,28,28 for digits)' },
  'num-classes': { kind: 'int', min: 1, help: 'classifier outputs (default 1000)' },
  backend: { kind: 'string', help: 'backend name, optionally with a mode' },
  help: { kind: 'flag', help: 'show this help' },
};

const MODELS = RESNET_BUILDERS;

export async function summaryCommand(o: Map<string, OptionValue>, positionals: string[], say: (line: string) => void = console.log): Promise<number> {
  const name = positionals[0] ?? 'resnet50';
  if (positionals.length > 1) throw new UsageError(`summary takes one model name, got ${positionals.length}`);
  await chooseBackend(o.get('backend') as string | undefined);
  const digits = name === 'digits';
  if (!digits && !MODELS[name]) throw new UsageError(`unknown model '${name}' (models: ${[...Object.keys(MODELS), 'digits'].join(', ')})`);
  const input = (o.get('input') as number[] | undefined) ?? (digits ? [1, 1, 28, 28] : [1, 3, 224, 224]);
  if (input.length !== 4) throw new UsageError(`--input must be N,C,H,W, got ${input.join(',')}`);
  // summary() traces shapes only, so the weights' values never matter.
  const model = skipInit(() => digits
    ? buildNet(digitNetConfig(TRAIN_OPTIONS.width.default as number, TRAIN_OPTIONS.depth.default as number[], TRAIN_OPTIONS['stem-stride'].default as number))
    : MODELS[name]({ numClasses: (o.get('num-classes') as number | undefined) ?? 1000 }));
  if (input[1] !== (digits ? 1 : 3)) fail('summary', `${name} takes ${digits ? 1 : 3} input channels, but --input has ${input[1]}`);
  say(summary(model, input).toString());
  model.dispose();
  return 0;
}
