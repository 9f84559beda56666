// Debugging aids: anomaly mode (the first NaN/Inf in a parameter, an input, an op's output or a gradient is
// named, with the public op the user called) and the leak tracker re-exported from the tensor engine.
import { inBackward, setGradCheck, type GradNode, type Prim } from './autograd.js';
import { backendLabel } from './backend.js';
import { GpugradError, fmt } from './errors.js';
import { Tensor } from './tensor.js';
import { setLeakTracking } from './engine.js';
import { currentUserOp, setAnomalyHooks } from './opscope.js';
import type { Module } from './nn/module.js';

export { setLeakTracking, liveTensors, type LiveTensor } from './engine.js';

/**
 * Thrown in anomaly mode. `op` is the public op the user called (conv2d), `primitive` the step inside it that
 * went bad (matmul; equal to op for a primitive called directly), and `phase` what held the value: an input
 * or parameter before the op ran, the forward value, or a gradient.
 */
export class AnomalyError extends GpugradError {
  constructor(
    op: string,
    readonly phase: 'input' | 'forward' | 'backward',
    message: string,
    readonly primitive: string = op,
  ) {
    super(op, message);
    this.name = 'AnomalyError';
  }
}

export interface AnomalyOptions {
  /**
   * A model whose parameters and buffers are checked when the scope starts and named (conv1.weight) when a
   * NaN/Inf is found in one later.
   */
  model?: Module;
}

function firstBad(t: Tensor): { index: number; value: number } | null {
  if (!t.backend.readSync) {
    throw new GpugradError('detectAnomaly', `backend '${backendLabel(t.backend)}' cannot read synchronously, which anomaly mode needs`);
  }
  const d = t.backend.readSync(t.storage);
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return { index: i, value: d[i] };
  return null;
}

let depth = 0;
/** Op outputs already checked in this scope; any other tensor an op reads (a leaf: input, parameter) is checked when read. */
let checked = new WeakSet<Tensor>();
/** The public op under which each graph node was recorded, for backward messages. */
let nodeOps = new WeakMap<GradNode, string>();
let names = new Map<Tensor, string>();

function nameOf(t: Tensor): string {
  const n = names.get(t);
  return n ? ` (parameter or buffer '${n}')` : '';
}

/** Checks a tensor that was not produced by an op in this scope (an input, a parameter, a constant). */
function checkLeaf(op: string, primitive: string, what: string, t: Tensor): void {
  if (checked.has(t) || t.isDisposed) return;
  const bad = firstBad(t);
  if (bad) {
    throw new AnomalyError(op, 'input', `${what} ${fmt(t.shape)}${nameOf(t)} holds ${bad.value} at flat index ${bad.index} before the op ran (it is an input or a parameter, not the result of an op inside detectAnomaly)`, primitive);
  }
}

function install(options: AnomalyOptions): void {
  checked = new WeakSet();
  nodeOps = new WeakMap();
  names = new Map(options.model ? [...options.model.namedParameters(), ...options.model.namedBuffers()].map(([k, t]) => [t, k]) : []);
  for (const [t, k] of names) {
    const bad = firstBad(t);
    if (bad) throw new AnomalyError('detectAnomaly', 'input', `parameter or buffer '${k}' ${fmt(t.shape)} holds ${bad.value} at flat index ${bad.index}`);
  }
  setAnomalyHooks(
    (op, argNames, args) => {
      if (inBackward()) return;
      args.forEach((a, i) => {
        const name = argNames[i] ?? `argument ${i}`;
        if (a instanceof Tensor) checkLeaf(op, op, `argument '${name}'`, a);
        else if (a && typeof a === 'object' && !Array.isArray(a) && !ArrayBuffer.isView(a)) {
          // An options object holding tensors (conv2dAffine's scale, shift and residual).
          for (const [k, v] of Object.entries(a)) if (v instanceof Tensor) checkLeaf(op, op, `argument '${name}.${k}'`, v);
        }
      });
    },
    (prim, inputs, out) => {
      if (inBackward()) return; // gradients are checked per rule below
      const op = currentUserOp() ?? prim;
      inputs.forEach((t, i) => checkLeaf(op, prim, op === prim ? `input ${i}` : `input ${i} of its ${prim} step`, t));
      const bad = firstBad(out);
      if (bad) {
        const step = op === prim ? '' : `its ${prim} step `;
        throw new AnomalyError(op, 'forward', `${step}produced ${bad.value} at flat index ${bad.index} of its output ${fmt(out.shape)} (inputs ${inputs.map((x) => fmt(x.shape)).join(', ')})`, prim);
      }
      checked.add(out);
      if (out.node) nodeOps.set(out.node, op);
    },
  );
  setGradCheck((prim: Prim, grads, node) => {
    const op = nodeOps.get(node) ?? prim;
    grads.forEach((g, i) => {
      if (!g) return;
      const bad = firstBad(g);
      const step = op === prim ? '' : ` of its ${prim} step`;
      if (bad) throw new AnomalyError(op, 'backward', `gradient for input ${i}${step} ${fmt(g.shape)} holds ${bad.value} at flat index ${bad.index}`, prim);
    });
  });
}

function uninstall(): void {
  setAnomalyHooks(null, null);
  setGradCheck(null);
  names = new Map();
}

/**
 * Runs `fn` with anomaly detection (like torch.autograd.detect_anomaly): every op's tensor inputs that no op
 * in the scope produced (inputs, parameters), every op output and every gradient is checked, and the first
 * NaN/Inf throws an AnomalyError naming the public op (conv2d, not its matmul) and what held the value.
 * With `{ model }`, the model's parameters and buffers are checked first and named in messages. Slow: debug only.
 */
export function detectAnomaly<T>(fn: () => T, options: AnomalyOptions = {}): T {
  if (depth === 0) install(options);
  depth++;
  try {
    return fn();
  } finally {
    if (--depth === 0) uninstall();
  }
}

/** Turns anomaly detection on or off globally (`options` as for detectAnomaly). */
export function setAnomalyDetection(on: boolean, options: AnomalyOptions = {}): void {
  if (on && depth === 0) {
    install(options);
    depth = 1;
  } else if (!on && depth > 0) {
    depth = 0;
    uninstall();
  }
}
