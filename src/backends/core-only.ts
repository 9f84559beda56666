// coreOnly(): a backend reduced to the required core of the contract (src/backend.ts's CoreBackend), every fast
// path left to withDefaults(). It exists to prove that contract: the backend-parametrised test suites run on
// `reference:core-only` (the reference backend so reduced) exactly as on the full backends, so a new backend
// can start at the core and add fast paths one at a time.
import type { CoreBackend } from '../backend.js';

/** The members of the core, for coreOnly() and documentation of the contract. */
export const CORE_MEMBERS = [
  'upload', 'fill', 'read', 'readSync', 'release', 'copyInto', 'bytes',
  'unary', 'binary', 'reduce', 'permute', 'slice', 'concat', 'gather', 'scatterAdd', 'matmul', 'im2col', 'col2im',
  'destroy', 'whenReady',
] as const satisfies readonly (keyof CoreBackend)[];

/** A new object exposing only `inner`'s core members (bound to it), under mode 'core-only'. */
export function coreOnly(inner: CoreBackend): CoreBackend {
  const out: Record<string, unknown> = {
    name: inner.name,
    mode: 'core-only',
    fallbackReason: inner.fallbackReason,
    deferred: inner.deferred,
    ...(inner.maxBytes === undefined ? {} : { maxBytes: inner.maxBytes }),
  };
  const from = inner as unknown as Record<string, unknown>;
  for (const m of CORE_MEMBERS) {
    const f = from[m];
    if (typeof f === 'function') out[m] = (f as (...a: unknown[]) => unknown).bind(inner);
  }
  return out as unknown as CoreBackend;
}
