// Argument checks shared by the layers' constructors: JavaScript callers have no compiler to catch a missing or
// mistyped argument, so each is checked and refused with the layer's name, the value and its usage.
import { describeValue, fail } from '../errors.js';
import type { Generator } from '../random.js';

export type Pair = number | readonly [number, number];

export function pairOf(v: Pair): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

// ---- constructor argument checks (JavaScript callers have no compiler to catch a missing or mistyped one) ----

export function positiveInt(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(op, `${name} must be a positive integer, got ${describeValue(v)}${v === undefined ? ` (${USAGE[op] ?? op})` : ''}`);
}

/** How each layer is called, quoted when a required argument is missing. */
export const USAGE: Record<string, string> = {
  Conv2d: 'new Conv2d(inChannels, outChannels, kernelSize, options?)',
  Linear: 'new Linear(inFeatures, outFeatures, options?)',
  BatchNorm2d: 'new BatchNorm2d(numFeatures, options?)',
  MaxPool2d: 'new MaxPool2d(kernelSize, options?)',
  AvgPool2d: 'new AvgPool2d(kernelSize, options?)',
  AdaptiveAvgPool2d: 'new AdaptiveAvgPool2d(outputSize)',
};

/** An integer >= min, or a pair of them (kernel sizes, strides, padding). */
export function checkPair(op: string, name: string, v: unknown, min: number): void {
  const ok = (d: unknown): boolean => typeof d === 'number' && Number.isInteger(d) && d >= min;
  if (ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok))) return;
  fail(op, `${name} must be an integer >= ${min} or a pair [h, w] of them, got ${Array.isArray(v) ? JSON.stringify(v) : describeValue(v)}${v === undefined ? ` (${USAGE[op] ?? op})` : ''}`);
}

/** The options object: an object (or undefined), with only the keys the layer knows, each of the right type. */
export function checkOptions(op: string, options: unknown, known: Record<string, (v: unknown) => string | null>): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) fail(op, `options must be an object like { ${Object.keys(known)[0]}: … }, got ${describeValue(options)}`);
  for (const [k, v] of Object.entries(options)) {
    const check = known[k];
    if (!check) fail(op, `unknown option '${k}' (known: ${Object.keys(known).join(', ')})`);
    if (v === undefined) continue;
    const why = check(v);
    if (why) fail(op, `options.${k} must be ${why}, got ${describeValue(v)}`);
  }
}

export const isBool = (v: unknown): string | null => (typeof v === 'boolean' ? null : 'a boolean');
export const pairAtLeast =
  (min: number) =>
  (v: unknown): string | null => {
    const ok = (d: unknown): boolean => typeof d === 'number' && Number.isInteger(d) && d >= min;
    return ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok)) ? null : `an integer >= ${min} or a pair [h, w] of them`;
  };
export const isPositiveInt = (v: unknown): string | null => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? null : 'a positive integer');
export const isGenerator = (v: unknown): string | null => (typeof v === 'object' && v !== null && typeof (v as Generator).uniform === 'function' ? null : 'a Generator');

/** What convRepr reads of a convolution module. */
interface ConvLike {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: readonly number[];
  readonly groups: number;
  readonly bias: unknown;
}

/** Conv2d's and ConvTranspose2d's extraRepr: channels and kernel, then each setting that differs from its default. */
export function convRepr(m: ConvLike, settings: [string, readonly number[], number][]): string {
  const parts = [`${m.inChannels}, ${m.outChannels}, kernel=${m.kernelSize.join('×')}`];
  for (const [name, v, dflt] of settings) if (v.some((d) => d !== dflt)) parts.push(`${name}=${v.join(',')}`);
  if (m.groups !== 1) parts.push(`groups=${m.groups}`);
  if (!m.bias) parts.push('bias=false');
  return parts.join(', ');
}
