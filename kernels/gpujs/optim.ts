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

// Adam's shared terms (the moments m1, v1 of this step) and its new parameter, for the split and fused kernels.
const ADAM_MOMENTS = `let gr = g[this.thread.x];
let w = p[this.thread.x];
if (h[5] > 0.0) { w = w * (1.0 - h[0] * h[4]); } else { gr = gr + h[4] * w; }
const m1 = h[1] * m[this.thread.x] + (1.0 - h[1]) * gr;
const v1 = h[2] * v[this.thread.x] + (1.0 - h[2]) * gr * gr;`;
const ADAM_PARAM = 'w - (h[0] / h[6]) * (m1 / (Math.sqrt(v1 / h[7]) + h[3]))';

/**
 * h = [lr, beta1, beta2, eps, weightDecay, decoupled, bc1, bc2]; `which` picks the output
 * (0 param, 1 first moment, 2 second moment); each recomputes the shared terms.
 */
export function adamSource(size: number, which: 0 | 1 | 2): KernelSpec {
  const ret = [`return ${ADAM_PARAM};`, 'return m1;', 'return v1;'][which];
  const src = `function(p, g, m, v, h) {\n${ADAM_MOMENTS}\n${ret}\n}`;
  return { op: `adamStep.${which}`, source: src, output: size, maxLoop: 0 };
}

/** A kernel-map output: the value it is called with. */
const record = (name: string): Record<string, string> => ({ [name]: `function ${name}(x) {\nreturn x;\n}` });

/**
 * GL: sgdParamSource and sgdBufSource in one pass with two render targets (result: the new param, sgdNewBuf: the
 * new momentum buffer), so p, g and m are read once; the same arithmetic, so results are identical. Momentum only.
 */
export function sgdFusedSource(size: number): KernelSpec {
  const src = `function(p, g, m, h) {
const w = p[this.thread.x];
let gr = g[this.thread.x] + h[3] * w;
let buf = gr;
if (h[5] == 0.0) { buf = h[1] * m[this.thread.x] + (1.0 - h[2]) * gr; }
sgdNewBuf(buf);
if (h[4] > 0.0) { gr = gr + h[1] * buf; } else { gr = buf; }
return w - h[0] * gr;
}`;
  return { op: 'sgdStep.fused', source: src, output: size, maxLoop: 0, subKernels: record('sgdNewBuf') };
}

/** GL: adamSource's three outputs in one pass (result: param, adamNewM, adamNewV). */
export function adamFusedSource(size: number): KernelSpec {
  const src = `function(p, g, m, v, h) {\n${ADAM_MOMENTS}\nadamNewM(m1);\nadamNewV(v1);\nreturn ${ADAM_PARAM};\n}`;
  return { op: 'adamStep.fused', source: src, output: size, maxLoop: 0, subKernels: { ...record('adamNewM'), ...record('adamNewV') } };
}
