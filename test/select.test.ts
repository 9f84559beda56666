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

describe('default backend in browsers (by speed, not presence)', () => {
  const page = { host: 'page' as const, wasm: true, threadsWhyNot: null, threads: 4, webgpu: false };

  it('prefers wasm to a software WebGL2 renderer (SwiftShader, llvmpipe) and says so', () => {
    for (const glRenderer of ['ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)', 'llvmpipe (LLVM 15.0.6, 256 bits)']) {
      const c = chooseDefaultBackend({ ...page, glRenderer, webgpu: true });
      expect(c.name).toBe('wasm');
      expect(c.options.threads).toBe(4);
      expect(c.reason).toMatch(/software rasteriser/);
      expect(c.reason).not.toMatch(/Node|GPUGRAD_BACKEND/);
    }
  });

  it('picks gpu.js on a hardware GPU: webgpu where offered (webgl2 for a synchronous start), else webgl2', () => {
    const glRenderer = 'ANGLE (NVIDIA, NVIDIA GeForce RTX 3080 Direct3D11 vs_5_0 ps_5_0, D3D11)';
    expect(chooseDefaultBackend({ ...page, glRenderer, webgpu: true })).toMatchObject({ name: 'gpujs', options: { mode: 'webgpu' }, syncOptions: { mode: 'webgl2' } });
    expect(chooseDefaultBackend({ ...page, glRenderer })).toMatchObject({ name: 'gpujs', options: { mode: 'webgl2' } });
  });

  it('speaks of the Worker inside a Worker, and of isolation when threads cannot share memory', () => {
    const c = chooseDefaultBackend({ ...page, host: 'worker', glRenderer: null, threadsWhyNot: 'the page is not cross-origin isolated' });
    expect(c.name).toBe('wasm');
    expect(c.reason).toMatch(/no WebGL2 context in this Web Worker/);
    expect(c.reason).toMatch(/1 thread \(one thread: the page is not cross-origin isolated\)/);
    expect(c.reason).not.toMatch(/Node|page\b.*headless/);
  });
});
