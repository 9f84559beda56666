// The browser's stand-in for test/backends.ts (the suite bundle aliases './backends.js' here): the one backend
// the page was asked to test, with the same float32 tolerance as in Node.
import { setBackend } from '../../src/index.js';
import type { TestBackend } from '../backends.js';
import { f32 } from '../tolerance.js';
import { config, parseLabel } from './config.js';

const { name, options } = parseLabel(config.backend);
export const testBackends: TestBackend[] = [
  { label: config.backend, name, options, tolerance: name === 'reference' ? () => ({ atol: 1e-6, rtol: 1e-5 }) : f32, available: () => true },
];

export type { TestBackend };

export async function useBackend(tb: TestBackend): Promise<void> {
  await setBackend(tb.name, tb.options ?? {});
}
