// Test runner settings: long timeouts for the ResNet checks, one fork per file so suites run in parallel.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
    // Tests that do not choose a backend run on the oracle; suites that test others select them.
    env: { GPUGRAD_BACKEND: process.env.GPUGRAD_BACKEND ?? 'reference' },
  },
});
