// F's options objects: an option name nobody knows (a typo, a snake_case habit from PyTorch) is refused
// rather than silently ignored.
import { describeValue, fail } from './errors.js';
import { Tensor } from './tensor.js';

/** A bad value as the caller wrote it: numbers and short number arrays (sizes, pairs) verbatim, the rest by kind. */
export function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v) && v.length <= 8 && v.every((d) => typeof d === 'number')) return JSON.stringify(v);
  return describeValue(v);
}

export const isOptions = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tensor) && !ArrayBuffer.isView(v);

/** Refuses keys an options object does not know (a typo would otherwise be ignored), suggesting camelCase for snake_case. */
export function checkKeys(op: string, what: string, options: Record<string, unknown>, known: readonly string[], forms: string): void {
  for (const k of Object.keys(options)) {
    if (known.includes(k)) continue;
    const camel = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const hint = camel !== k && known.includes(camel) ? ` (did you mean '${camel}'?)` : '';
    fail(op, `unknown option '${k}' in ${what}${hint}; known options: ${known.join(', ')}; accepted forms: ${forms}`);
  }
}

