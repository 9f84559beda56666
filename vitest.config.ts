// Test runner settings: long timeouts for the ResNet checks, one fork per file so suites run in parallel.
// Three projects: 'main' runs everything; 'webgpu' re-runs the shared op suites on gpu.js's webgpu mode in
// processes of their own, because on a machine without a GPU, Dawn's OpenGL ES backend and headless-gl cannot
// share one process's GL (the first used keeps it), and 'main' uses headless-gl; 'core-only' re-runs the
// backend-parametrised suites on the reference backend reduced to the contract's required core (every fast path
// composed by withDefaults(), src/backends/defaults.ts), the proof that a new backend can start at the core.
import { defineConfig } from 'vitest/config';

const modes = process.env.GPUGRAD_GPUJS_MODES?.split(',');
const env = { GPUGRAD_BACKEND: process.env.GPUGRAD_BACKEND ?? 'reference' };
// The property suites, the fuzz, the PyTorch fixtures and the mode's own checks.
const webgpuFiles = ['props-core', 'props-graph', 'props-nn', 'props-api', 'fuzz', 'pytorch-ops', 'pytorch-ops-api', 'api-ops', 'inplace', 'gpujs', 'nan'].map((f) => `test/${f}.test.ts`);
// Every suite that runs over test/helpers/backends.ts's list; tests that pick no backend run on core-only there too.
const coreOnlyFiles = [
  'api-ops', 'concurrency', 'deferred', 'errors', 'fusion', 'fuzz', 'hygiene', 'inplace', 'nan', 'nn-modules-f', 'nn-modules', 'optim-sched', 'optim',
  'props-api', 'props-core', 'props-graph', 'props-nn', 'pytorch-ops-api', 'pytorch-ops', 'resnet-bottleneck', 'resnet-family', 'resnet', 'soak',
].map((f) => `test/${f}.test.ts`);
// GPUGRAD_TEST_BACKENDS narrows 'main' (e.g. 'reference,wasm'); webgpu always stays out of it.
const mainBackends = [process.env.GPUGRAD_TEST_BACKENDS, '-gpujs:webgpu'].filter(Boolean).join(',');

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      // Tests that do not choose a backend run on the oracle; suites that test others select them.
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], env: { ...env, GPUGRAD_TEST_BACKENDS: mainBackends } } },
      { extends: true, test: { name: 'core-only', include: coreOnlyFiles, env: { GPUGRAD_BACKEND: 'reference:core-only', GPUGRAD_TEST_BACKENDS: 'reference:core-only' } } },
      ...(!modes || modes.includes('webgpu')
        ? [{ extends: true, test: { name: 'webgpu', include: webgpuFiles, env: { ...env, GPUGRAD_GPUJS_MODES: 'webgpu', GPUGRAD_TEST_BACKENDS: 'gpujs:webgpu' } } }]
        : []),
    ],
  },
});
