// Activation checkpointing (torch.utils.checkpoint): run a segment without keeping its intermediates for backward,
// and run it again during backward to get them — compute traded for memory, for larger batches.
import { fail } from '../errors.js';
import { isGradEnabled, noGrad } from '../engine.js';
import { Tensor } from '../tensor.js';
import type { GradNode } from '../autograd.js';

/**
 * `fn(...inputs)` whose graph is not kept: only the inputs are saved, and backward recomputes the segment (so `fn`
 * must be deterministic: no dropout draws). Parameters used inside get their gradients as usual. While recording,
 * the output always takes part in the graph (whether anything inside needs a gradient is known only by running it
 * with a graph, which is what this avoids); under noGrad it is just `fn(...inputs)`.
 */
export function checkpoint(fn: (...xs: Tensor[]) => Tensor, ...inputs: Tensor[]): Tensor {
  if (typeof fn !== 'function') fail('checkpoint', `the first argument must be a function, got ${typeof fn}`);
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) fail('checkpoint', `input ${i} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  });
  if (!isGradEnabled()) return fn(...inputs);
  const y = noGrad(() => fn(...inputs));
  if (!(y instanceof Tensor)) fail('checkpoint', `the function must return a Tensor, got ${y === null ? 'null' : typeof y}`);
  const node: GradNode = { op: 'checkpoint', inputs, attrs: { fn }, saved: [], freed: false, versions: [] };
  const out = y.shareAs(y.shape, node, true);
  y.dispose();
  return out;
}
