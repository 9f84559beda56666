// The default backend: wasm on a CPU-only Node machine, an explicit GPUGRAD_BACKEND wins, and the reason is kept.
import { describe, expect, it } from 'vitest';
import { chooseDefaultBackend } from '../src/select.js';

function withEnv<T>(value: string | undefined, fn: () => T): T {
  const old = process.env.GPUGRAD_BACKEND;
  if (value === undefined) delete process.env.GPUGRAD_BACKEND;
  else process.env.GPUGRAD_BACKEND = value;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env.GPUGRAD_BACKEND;
    else process.env.GPUGRAD_BACKEND = old;
  }
}

describe('default backend', () => {
  it('is the wasm tier on CPU-only Node, with the same thread count whether awaited or started synchronously', () => {
    const c = withEnv(undefined, chooseDefaultBackend);
    expect(c.name).toBe('wasm');
    expect(c.options.threads).toBeGreaterThanOrEqual(1);
    // No separate synchronous options: a synchronous first use gets the pool too (it boots in the background).
    expect(c.syncOptions ?? c.options).toEqual(c.options);
    expect(c.reason).toMatch(/no hardware GPU context/);
  });

  it('follows GPUGRAD_BACKEND, with a gpu.js mode or a wasm thread count', () => {
    expect(withEnv('gpujs:headlessgl', chooseDefaultBackend)).toMatchObject({ name: 'gpujs', options: { mode: 'headlessgl' } });
    expect(withEnv('wasm:2', chooseDefaultBackend)).toMatchObject({ name: 'wasm', options: { threads: 2 } });
    expect(withEnv('reference', chooseDefaultBackend)).toMatchObject({ name: 'reference', reason: 'GPUGRAD_BACKEND=reference' });
  });
});
