// Helpers every part of F shares: pair arguments, PyTorch's two call styles (positional values or one options
// object), flags, the 4-D input check and the sliding-window geometry of convolutions and pools.
import type { WindowGeometry } from '../backend.js';
import { fail, fmt } from '../errors.js';
import { Tensor } from '../tensor.js';
import { checkKeys, describe, isOptions } from '../options.js';

export type Pair = number | readonly [number, number];

export function pair(op: string, name: string, v: Pair, min: number, forms = ''): [number, number] {
  const ok = typeof v === 'number' || (Array.isArray(v) && v.length === 2);
  const p: [number, number] = typeof v === 'number' ? [v, v] : ok ? [v[0], v[1]] : [NaN, NaN];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) {
    fail(op, `${name} must be an integer >= ${min} or a pair of them, got ${describe(v)}${forms ? `; accepted forms: ${forms}` : ''}`);
  }
  return p;
}

/**
 * PyTorch's two call styles after the leading arguments: positional values in `names` order (trailing ones
 * optional; null or undefined means the default, like Python's None), or one options object. Anything else
 * — too many values, an options object followed by more, unknown option names — is refused with the forms.
 */
export function callForm(op: string, rest: readonly unknown[], names: readonly string[], forms: string): Record<string, unknown> {
  let n = rest.length;
  while (n > 0 && rest[n - 1] === undefined) n--;
  if (n === 0) return {};
  if (isOptions(rest[0])) {
    if (n > 1) fail(op, `an options object must be the last argument, got ${n - 1} more after it; accepted forms: ${forms}`);
    checkKeys(op, 'the options', rest[0], names, forms);
    return rest[0];
  }
  if (n > names.length) fail(op, `takes at most ${names.length} values after its tensor arguments (${names.join(', ')}), got ${n}; accepted forms: ${forms}`);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    if (isOptions(rest[i])) fail(op, `an options object must come right after the tensor arguments, got one in place of ${names[i]}; accepted forms: ${forms}`);
    if (rest[i] !== undefined && rest[i] !== null) out[names[i]] = rest[i];
  }
  return out;
}

export function flag(op: string, name: string, v: unknown, dflt: boolean, forms: string): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(op, `${name} must be a boolean, got ${describe(v)}; accepted forms: ${forms}`);
  return v;
}

export function need4d(op: string, arg: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) fail(op, `argument '${arg}' must be a Tensor`);
  if (x.rank !== 4) fail(op, `${arg} must be 4-D [N, C, H, W], got shape ${fmt(x.shape)}`);
}

/** Output size of a sliding window along one axis (PyTorch's formula, with optional ceil mode). */
export function outSize(op: string, inp: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const eff = d * (k - 1) + 1;
  const span = inp + 2 * p - eff;
  if (span < 0) fail(op, `window of effective size ${eff} (kernel ${k}, dilation ${d}) does not fit input ${inp} with padding ${p}`);
  let o2 = Math.floor(span / s) + 1;
  if (ceil) {
    o2 = Math.ceil(span / s) + 1;
    // The last window must start inside the input or the left padding (PyTorch's rule).
    if ((o2 - 1) * s >= inp + p) o2--;
  }
  return o2;
}

export function geometry(op: string, x: Tensor, k: [number, number], s: [number, number], p: [number, number], d: [number, number], ceil = false): WindowGeometry {
  const [n, c, h, w] = x.shape;
  const oh = outSize(op, h, k[0], s[0], p[0], d[0], ceil);
  const ow = outSize(op, w, k[1], s[1], p[1], d[1], ceil);
  return { n, c, h, w, kh: k[0], kw: k[1], sh: s[0], sw: s[1], ph: p[0], pw: p[1], dh: d[0], dw: d[1], oh, ow };
}

export function finite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(op, `${name} must be a finite number, got ${String(v)}`);
  return v;
}
