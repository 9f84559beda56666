// Test runner settings: long timeouts for the ResNet checks, one fork per file so suites run in parallel.
// Two projects: 'main' runs everything; 'webgpu' re-runs the shared op suites on gpu.js's webgpu mode in processes
// of their own, because on a machine without a GPU, Dawn's OpenGL ES backend and headless-gl cannot share one
// process's GL (the first used keeps it), and 'main' uses headless-gl.
import { defineConfig } from 'vitest/config';

const modes = process.env.GPUGRAD_GPUJS_MODES?.split(',');
const env = { GPUGRAD_BACKEND: process.env.GPUGRAD_BACKEND ?? 'reference' };
// The property suites, the fuzz, the PyTorch fixtures and the mode's own checks.
const webgpuFiles = ['props-core', 'props-graph', 'props-nn', 'props-api', 'fuzz', 'pytorch-ops', 'pytorch-ops-api', 'api-ops', 'inplace', 'gpujs', 'nan'].map((f) => `test/${f}.test.ts`);

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      // Tests that do not choose a backend run on the oracle; suites that test others select them.
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], env: { ...env, GPUGRAD_TEST_BACKENDS: '-gpujs:webgpu' } } },
      ...(!modes || modes.includes('webgpu')
        ? [{ extends: true, test: { name: 'webgpu', include: webgpuFiles, env: { ...env, GPUGRAD_GPUJS_MODES: 'webgpu', GPUGRAD_TEST_BACKENDS: 'gpujs:webgpu' } } }]
        : []),
    ],
  },
});
