// Counter-based "hash init": weights and inputs that numpy (scripts/fixtures_resnet.py) and TypeScript build
// bit for bit alike from (seed, stream, element index), so PyTorch fixtures need no committed weights.
import { tensor, type Tensor } from '../../src/index.js';

/** murmur3-style 32-bit finaliser: a bijection on uint32 that spreads every input bit. */
function mix(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * n values uniform in [-1, 1), exact multiples of 2⁻²³: element i of stream `stream` is
 * (mix(i ^ k) >>> 8) / 2²⁴ · 2 − 1 with k = mix(seed ^ mix(stream + 0x9e3779b9)).
 */
export function hashUniform(seed: number, stream: number, n: number): Float64Array {
  const k = mix((seed ^ mix((stream + 0x9e3779b9) >>> 0)) >>> 0);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (mix((i ^ k) >>> 0) >>> 8) / 16777216 * 2 - 1;
  return out;
}

/**
 * The value of state-dict entry number `index` named `name`: a per-kind affine map of hashUniform,
 * computed in float64 and rounded once to float32 (numpy does the same operations in the same order).
 */
export function hashValues(seed: number, index: number, name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = hashUniform(seed, index, n);
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  let f: (v: number) => number;
  if (leaf === 'num_batches_tracked') f = () => 0;
  else if (leaf === 'running_mean') f = (v) => 0.1 * v;
  else if (leaf === 'running_var') f = (v) => 1 + 0.5 * v;
  else if (leaf === 'weight' && shape.length >= 2) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const s = Math.sqrt(3 / fanIn);
    f = (v) => s * v;
  } else if (leaf === 'weight') f = (v) => 1 + 0.1 * v;
  // Positive biases keep ReLU inputs away from 0 so float32 rounding does not flip ReLU masks (see the script).
  else f = (v) => 0.5 + 0.1 * v;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(u[i]);
  return out;
}

/** A full state dict of hash-initialised tensors for the given keys and shapes (stateDict order). */
export function hashStateDict(seed: number, entries: readonly (readonly [string, readonly number[]])[]): Map<string, Tensor> {
  return new Map(entries.map(([name, shape], i) => [name, tensor(hashValues(seed, i, name, shape), shape)]));
}

/** Inputs and upstream gradients: uniform [-1, 1) on streams far from the parameters'. */
export function hashTensor(seed: number, stream: number, shape: readonly number[], scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = hashUniform(seed, stream, n);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = scale * u[i];
  return tensor(d, shape);
}

export const INPUT_STREAM = 1_000_000;
export const UPSTREAM_STREAM = 2_000_000;
