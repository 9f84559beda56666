// nn.utils: gradient clipping (torch.nn.utils.clip_grad_norm_ and clip_grad_value_), computed on the backend
// without reading values back to the host.
import { fail, fmt } from '../errors.js';
import * as o from '../ops.js';
import { Tensor } from '../tensor.js';
import { noGrad, tidy } from '../engine.js';
import { zeros } from '../creation.js';

function gradsOf(op: string, params: Iterable<Tensor> | Tensor): Tensor[] {
  const list = params instanceof Tensor ? [params] : [...params];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) fail(op, `parameter ${i} is not a Tensor`);
  });
  return list.flatMap((p) => (p.grad ? [p.grad] : []));
}

export interface ClipGradNormOptions {
  /** The p of the p-norm (default 2; Infinity for the largest |g|). */
  normType?: number;
  /** Throw when the total norm is NaN or ±Infinity (default false, as in torch; this reads the norm back). */
  errorIfNonfinite?: boolean;
}

/**
 * Scales every gradient in place so that their joint p-norm is at most maxNorm: g ← g·min(1, maxNorm / (‖g‖ + 1e-6)),
 * as torch.nn.utils.clip_grad_norm_. Returns the total norm before clipping (a scalar tensor the caller owns).
 */
export function clipGradNorm_(params: Iterable<Tensor> | Tensor, maxNorm: number, options: ClipGradNormOptions = {}): Tensor {
  const op = 'clipGradNorm_';
  for (const k of Object.keys(options)) if (k !== 'normType' && k !== 'errorIfNonfinite') fail(op, `unknown option '${k}' (options: normType, errorIfNonfinite)`);
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) fail(op, `maxNorm must be a non-negative number, got ${String(maxNorm)}`);
  const p = options.normType ?? 2;
  if (typeof p !== 'number' || !(p > 0)) fail(op, `normType must be a positive number or Infinity, got ${String(p)}`);
  const grads = gradsOf(op, params);
  if (grads.length === 0) return zeros([]);
  const backend = grads[0].backend;
  grads.forEach((g, i) => {
    if (g.backend !== backend) fail(op, `gradient ${i} ${fmt(g.shape)} lives on another backend than gradient 0`);
  });
  return noGrad(() => {
    const total = tidy(() => {
      if (p === Infinity) return grads.map((g) => o.max(o.abs(g))).reduce(maxOf);
      const sums = grads.map((g) => o.sum(p === 2 ? o.mul(g, g) : p === 1 ? o.abs(g) : o.pow(o.abs(g), p)));
      const s = sums.reduce((a, b) => o.add(a, b));
      return p === 1 ? s : p === 2 ? o.sqrt(s) : o.pow(s, 1 / p);
    });
    if (options.errorIfNonfinite) {
      if (!total.backend.readSync) {
        total.dispose();
        fail(op, 'errorIfNonfinite needs a backend that reads synchronously');
      }
      const v = total.itemSync();
      if (!Number.isFinite(v)) {
        total.dispose();
        fail(op, `the total norm of order ${p} of the gradients is ${v}, so they cannot be clipped`);
      }
    }
    tidy(() => {
      // coef = min(1, maxNorm / (total + 1e-6)) = 1 − relu(1 − maxNorm / (total + 1e-6)): no host read.
      const coef = o.sub(1, o.relu(o.sub(1, o.div(maxNorm, o.add(total, 1e-6)))));
      for (const g of grads) g.assign(o.mul(g, coef));
    });
    return total;
  });
}

/** max(a, b) elementwise from relu: a + relu(b − a). */
function maxOf(a: Tensor, b: Tensor): Tensor {
  return o.add(a, o.relu(o.sub(b, a)));
}

/** Clamps every gradient in place to [−clipValue, clipValue] (torch.nn.utils.clip_grad_value_). */
export function clipGradValue_(params: Iterable<Tensor> | Tensor, clipValue: number): void {
  const op = 'clipGradValue_';
  if (typeof clipValue !== 'number' || !(clipValue >= 0) || !Number.isFinite(clipValue)) fail(op, `clipValue must be a finite non-negative number, got ${String(clipValue)}`);
  const c = clipValue;
  noGrad(() =>
    tidy(() => {
      // clamp(g, −c, c) = c − relu(c − (relu(g + c) − c)).
      for (const g of gradsOf(op, params)) g.assign(o.sub(c, o.relu(o.sub(2 * c, o.relu(o.add(g, c))))));
    }),
  );
}
