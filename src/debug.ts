// Debugging aids: anomaly mode (the first op whose output or gradient holds NaN/Inf is named) and the
// leak tracker re-exported from the tensor engine.
import { inBackward, setGradCheck, type Prim } from './autograd.js';
import { GpugradError, fmt } from './errors.js';
import type { Tensor } from './tensor.js';
import { setLeakTracking, setOpHook } from './engine.js';

export { setLeakTracking, liveTensors, type LiveTensor } from './engine.js';

/** Thrown in anomaly mode; `phase` says whether the forward value or the gradient went bad. */
export class AnomalyError extends GpugradError {
  constructor(
    op: string,
    readonly phase: 'forward' | 'backward',
    message: string,
  ) {
    super(op, message);
    this.name = 'AnomalyError';
  }
}

function firstBad(t: Tensor): { index: number; value: number } | null {
  if (!t.backend.readSync) {
    throw new GpugradError('detectAnomaly', `backend '${t.backend.name}:${t.backend.mode}' cannot read synchronously, which anomaly mode needs`);
  }
  const d = t.backend.readSync(t.storage);
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return { index: i, value: d[i] };
  return null;
}

let depth = 0;

function install(): void {
  setOpHook((t, op) => {
    if (inBackward()) return; // gradients are checked per rule below
    const bad = firstBad(t);
    if (bad) {
      const ins = t.node ? t.node.inputs.map((x) => fmt(x.shape)).join(', ') : 'untracked inputs';
      throw new AnomalyError(op, 'forward', `produced ${bad.value} at flat index ${bad.index} of its output ${fmt(t.shape)} (inputs ${ins})`);
    }
  });
  setGradCheck((op: Prim, grads) => {
    grads.forEach((g, i) => {
      if (!g) return;
      const bad = firstBad(g);
      if (bad) throw new AnomalyError(op, 'backward', `gradient for input ${i} ${fmt(g.shape)} holds ${bad.value} at flat index ${bad.index}`);
    });
  });
}

function uninstall(): void {
  setOpHook(null);
  setGradCheck(null);
}

/**
 * Runs `fn` with anomaly detection (like torch.autograd.detect_anomaly): every op output and every
 * gradient is checked, and the first NaN/Inf throws an AnomalyError naming the op. Slow: debug only.
 */
export function detectAnomaly<T>(fn: () => T): T {
  if (depth++ === 0) install();
  try {
    return fn();
  } finally {
    if (--depth === 0) uninstall();
  }
}

/** Turns anomaly detection on or off globally. */
export function setAnomalyDetection(on: boolean): void {
  if (on && depth === 0) {
    depth = 1;
    install();
  } else if (!on && depth > 0) {
    depth = 0;
    uninstall();
  }
}
