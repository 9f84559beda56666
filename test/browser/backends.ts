// The browser's stand-in for test/helpers/backends.ts (the suite bundle aliases it here): the one backend
// the page was asked to test, with the same float32 tolerance as in Node.
import { setBackend } from '../../src/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { f32 } from '../helpers/tolerance.js';
import { config, parseLabel } from './config.js';

const { name, options } = parseLabel(config.backend);
export const testBackends: TestBackend[] = [
  {
    label: config.backend,
    name,
    options,
    tolerance: name === 'reference' ? () => ({ atol: 1e-6, rtol: 1e-5 }) : f32,
    available: () => true,
    // WGSL lets an implementation assume no NaN is present, and Chromium's (Tint → SwiftShader here) drops the
    // kernels' `v != v` checks: max/maxPool2d then keep a NaN only when it comes first in the window (seen in CI
    // runs as max([x, NaN]) = x). Node's webgpu (Dawn on Mesa) keeps them, and its project runs the NaN test.
    ...(config.backend === 'gpujs:webgpu' ? { nanUnkept: "WGSL may assume no NaN: Chromium's WebGPU drops the kernels' NaN checks" } : {}),
  },
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
