// gpu.js kernel sources for the fused optimizer updates. Hyper-parameters travel in a small array argument
// `h` so learning-rate schedules and Adam's step count do not recompile the kernels.
import type { KernelSpec } from './common.js';

/** h = [lr, momentum, dampening, weightDecay, nesterov, firstStep, hasMomentum]. Returns the new param. */
export function sgdParamSource(size: number): KernelSpec {
  const src = `function(p, g, m, h) {
const w = p[this.thread.x];
let gr = g[this.thread.x] + h[3] * w;
if (h[6] > 0.0) {
  let buf = gr;
  if (h[5] == 0.0) { buf = h[1] * m[this.thread.x] + (1.0 - h[2]) * gr; }
  if (h[4] > 0.0) { gr = gr + h[1] * buf; } else { gr = buf; }
}
return w - h[0] * gr;
}`;
  return { op: 'sgdStep.param', source: src, output: size, maxLoop: 0 };
}

/** The new momentum buffer for the same h. */
export function sgdBufSource(size: number): KernelSpec {
  const src = `function(p, g, m, h) {
const gr = g[this.thread.x] + h[3] * p[this.thread.x];
if (h[5] > 0.0) { return gr; }
return h[1] * m[this.thread.x] + (1.0 - h[2]) * gr;
}`;
  return { op: 'sgdStep.buf', source: src, output: size, maxLoop: 0 };
}

/**
 * h = [lr, beta1, beta2, eps, weightDecay, decoupled, bc1, bc2]; `which` picks the output
 * (0 param, 1 first moment, 2 second moment); each recomputes the shared terms.
 */
export function adamSource(size: number, which: 0 | 1 | 2): KernelSpec {
  const ret = ['return w - (h[0] / h[6]) * (m1 / (Math.sqrt(v1 / h[7]) + h[3]));', 'return m1;', 'return v1;'][which];
  const src = `function(p, g, m, v, h) {
let gr = g[this.thread.x];
let w = p[this.thread.x];
if (h[5] > 0.0) { w = w * (1.0 - h[0] * h[4]); } else { gr = gr + h[4] * w; }
const m1 = h[1] * m[this.thread.x] + (1.0 - h[1]) * gr;
const v1 = h[2] * v[this.thread.x] + (1.0 - h[2]) * gr * gr;
${ret}
}`;
  return { op: `adamStep.${which}`, source: src, output: size, maxLoop: 0 };
}
