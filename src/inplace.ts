// In-place tensor ops (add_, mul_, zero_, fill_, copy_, clamp_, …): each computes its result out of place and copies
// it into the tensor's own storage with assign(), which bumps the storage's version, so backward() refuses a graph
// that saved the old values (PyTorch's version counter). gpugrad records no in-place history: while gradients are
// recorded, a tensor that requires grad is refused (as PyTorch refuses leaves); inside noGrad(…) any tensor may change.
import { backendLabel } from './backend.js';
import { fail, fmt } from './errors.js';
import { isGradEnabled, noGrad } from './engine.js';
import * as o from './ops.js';
import { checkOptions, checkTensor, clamp } from './ops-extra.js';
import { Tensor } from './tensor.js';

type Operand = Tensor | number;

function inPlace(op: string, t: Tensor, args: readonly unknown[], compute: () => Tensor): Tensor {
  checkTensor(op, 'self', t);
  if (isGradEnabled()) {
    if (t.requiresGrad) {
      fail(
        op,
        t.node
          ? `tensor #${t.id} ${fmt(t.shape)} is the output of a recorded op and gpugrad does not record in-place history; use the out-of-place op (or noGrad(() => …) if no gradient should flow through the change)`
          : `a leaf tensor that requires grad (#${t.id} ${fmt(t.shape)}) cannot change in place while gradients are recorded; do it inside noGrad(() => …), as under torch.no_grad()`,
      );
    }
    if (args.some((a) => a instanceof Tensor && a.requiresGrad)) fail(op, `an argument requires grad, but the in-place result on #${t.id} ${fmt(t.shape)} would not record it; use the out-of-place op`);
  }
  const r = noGrad(compute);
  try {
    if (r.rank !== t.rank || r.shape.some((d, i) => d !== t.shape[i])) fail(op, `the result has shape ${fmt(r.shape)} but the tensor changed in place has ${fmt(t.shape)} (in-place results cannot broadcast the tensor itself)`);
    t.assign(r);
  } finally {
    r.dispose();
  }
  return t;
}

/** The same shape as t, broadcasting v to it (copy_'s source). */
function broadcastTo(op: string, v: Tensor, t: Tensor): Tensor {
  if (v.rank === t.rank && v.shape.every((d, i) => d === t.shape[i])) return o.mul(v, 1);
  return o.expand(v, t.shape);
}

export interface AddOptions {
  /** other is scaled by alpha first (torch's add_(other, alpha=…)). */
  alpha?: number;
}

export function add_(t: Tensor, other: Operand, options: AddOptions = {}): Tensor {
  checkOptions('add_', options, ['alpha']);
  const alpha = options.alpha ?? 1;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) fail('add_', `alpha must be a finite number, got ${alpha}`);
  return inPlace('add_', t, [other], () => o.add(t, alpha === 1 ? other : typeof other === 'number' ? other * alpha : o.mul(other, alpha)));
}
export const sub_ = (t: Tensor, other: Operand): Tensor => inPlace('sub_', t, [other], () => o.sub(t, other));
export const mul_ = (t: Tensor, other: Operand): Tensor => inPlace('mul_', t, [other], () => o.mul(t, other));
export const div_ = (t: Tensor, other: Operand): Tensor => inPlace('div_', t, [other], () => o.div(t, other));
export const zero_ = (t: Tensor): Tensor => fill_(t, 0);
export function fill_(t: Tensor, value: number): Tensor {
  if (typeof value !== 'number') fail('fill_', `value must be a number, got ${typeof value}`);
  return inPlace('fill_', t, [], () => o.constant(t, t.shape, value));
}
/** Copies src's values (broadcast to this shape) into the tensor. */
export function copy_(t: Tensor, src: Tensor): Tensor {
  checkTensor('copy_', 'src', src);
  if (src.backend !== t.backend) fail('copy_', `src lives on '${backendLabel(src.backend)}' and the tensor on '${backendLabel(t.backend)}'; move it with toBackend() first`);
  return inPlace('copy_', t, [src], () => broadcastTo('copy_', src, t));
}
export const clamp_ = (t: Tensor, min?: Operand | null, max?: Operand | null): Tensor => inPlace('clamp_', t, [min, max], () => clamp(t, min, max));
