// F's options objects: an option name nobody knows (a typo, a snake_case habit from PyTorch) is refused
// rather than silently ignored.
import { describeValue as describe, fail } from './errors.js';
import { Tensor } from './tensor.js';

export { describe };

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

