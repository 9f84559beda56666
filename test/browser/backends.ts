// The browser's stand-in for test/helpers/backends.ts (the suite bundle aliases it here): the one backend
// the page was asked to test, with the same float32 tolerance as in Node.
import { setBackend } from '../../src/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { f32 } from '../helpers/tolerance.js';
import { config, parseLabel } from './config.js';

const { name, options } = parseLabel(config.backend);
export const testBackends: TestBackend[] = [
  { label: config.backend, name, options, tolerance: name === 'reference' ? () => ({ atol: 1e-6, rtol: 1e-5 }) : f32, available: () => true },
];

export type { TestBackend };

export async function useBackend(tb: TestBackend): Promise<void> {
  await setBackend(tb.name, tb.options ?? {});
}

// Everything the page was asked for runs here: nothing to skip.
export async function readyBackends(all: readonly TestBackend[] = testBackends): Promise<Set<TestBackend>> {
  return new Set(all);
}
export async function availableBackends(all: readonly TestBackend[] = testBackends): Promise<TestBackend[]> {
  return [...all];
}
