// Creation functions beyond creation.ts, following PyTorch's: eye, linspace (its float32 arithmetic) and randint.
import { fail, fmt } from './errors.js';
import { checkShape, sizeOf } from './shape.js';
import { globalGenerator, type Generator } from './random.js';
import { tensor, type TensorOptions } from './creation.js';
import type { Tensor } from './tensor.js';
import { checkOptions } from './ops-extra.js';

/** The n×m identity (m = n by default). */
export function eye(n: number, m: number = n, options: TensorOptions = {}): Tensor {
  checkOptions('eye', options, ['requiresGrad']);
  for (const [name, v] of [['n', n], ['m', m]] as const) if (!Number.isInteger(v) || v < 0) fail('eye', `${name} must be a non-negative integer, got ${v}`);
  const d = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) d[i * m + i] = 1;
  return tensor(d, [n, m], options);
}

/**
 * `steps` evenly spaced values from start to end inclusive. As PyTorch for float32: the step is computed in
 * float32 and the second half counts back from `end`, so both ends are exact.
 */
export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  checkOptions('linspace', options, ['requiresGrad']);
  if (!Number.isInteger(steps) || steps < 0) fail('linspace', `steps must be a non-negative integer, got ${steps}`);
  if (!Number.isFinite(start) || !Number.isFinite(end)) fail('linspace', `start and end must be finite, got ${start} and ${end}`);
  const f = Math.fround;
  const d = new Float32Array(steps);
  if (steps === 1) d[0] = start;
  else if (steps > 1) {
    const s0 = f(start);
    const e0 = f(end);
    const step = f(f(e0 - s0) / (steps - 1));
    const half = Math.floor(steps / 2);
    for (let i = 0; i < steps; i++) d[i] = i < half ? f(s0 + f(step * i)) : f(e0 - f(step * (steps - i - 1)));
  }
  return tensor(d, [steps], options);
}

export interface RandintOptions {
  /** Draw from this generator instead of the global one (manualSeed). */
  generator?: Generator;
}

/**
 * Uniform integers in [low, high) with the given shape, from the seeded generator: `randint(high, shape)` or
 * `randint(low, high, shape)` (as float32 values).
 */
export function randint(lowOrHigh: number, highOrShape: number | readonly number[], shapeOrOptions?: readonly number[] | RandintOptions, maybeOptions: RandintOptions = {}): Tensor {
  let low = 0;
  let high: number;
  let shape: readonly number[];
  let options: RandintOptions;
  if (Array.isArray(highOrShape)) {
    high = lowOrHigh;
    shape = highOrShape;
    options = (shapeOrOptions as RandintOptions | undefined) ?? {};
  } else {
    low = lowOrHigh;
    high = highOrShape as number;
    if (!Array.isArray(shapeOrOptions)) fail('randint', 'expected randint(high, shape) or randint(low, high, shape)');
    shape = shapeOrOptions as readonly number[];
    options = maybeOptions;
  }
  checkOptions('randint', options, ['generator']);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) fail('randint', `expected integers low < high, got low ${low}, high ${high}`);
  checkShape('randint', 'shape', shape);
  if (high - low > 2 ** 24 || Math.max(Math.abs(low), Math.abs(high)) > 2 ** 24) fail('randint', `range [${low}, ${high}) is too wide for exact float32 integers (shape ${fmt(shape)})`);
  const g = options.generator ?? globalGenerator;
  const d = new Float32Array(sizeOf(shape));
  for (let i = 0; i < d.length; i++) d[i] = low + g.int(high - low);
  return tensor(d, shape);
}
