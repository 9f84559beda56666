// The engine's memory and ownership semantics (issue #14): tensors stay on their backend, storages are shared by
// views and kept exactly as long as a handle or the graph needs them, plain loops do not grow, and a refused
// allocation leaves the process usable.
import { afterEach, describe, expect, it } from 'vitest';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import {
  F,
  GpugradError,
  memory,
  manualSeed,
  nn,
  noGrad,
  noGradAsync,
  ones,
  optim,
  randn,
  resnet18,
  setBackend,
  tensor,
  tidy,
  unsqueeze,
  wasmAvailable,
  zerosLike,
  type Tensor,
} from '../src/index.js';
import type { WasmBackend } from '../src/backends/wasm.js';
import { errorOf } from './helpers/errors.js';
import { setOpHook } from '../src/engine.js';

const wasm = wasmAvailable();
afterEach(async () => {
  await setBackend('reference');
});

const values = async (t: Tensor): Promise<number[]> => Array.from(await t.data());

describe('ownership: library code works on the backend of its tensors', () => {
  it.skipIf(!wasm)('an optimizer stepped after a backend switch keeps its state on the parameter backend (no heap corruption)', async () => {
    await setBackend('wasm', { threads: 1 });
    const sentinel = ones([64]);
    const p = tensor([1, 2, 3], [3], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    tidy(() => p.mul(p).sum().backward());
    await setBackend('reference');
    opt.step();
    expect(await values(sentinel)).toEqual(new Array(64).fill(1));
    expect(await values(p)).toEqual([1 - 0.2, 2 - 0.4, 3 - 0.6].map(Math.fround));
    expect(opt.stateDict().state.get(0)?.tensors.get('momentumBuffer')?.backend.name).toBe('wasm');
  });

  it.skipIf(!wasm)('zerosLike and backward() use the tensor backend, not the current one', async () => {
    const w = await setBackend('wasm', { threads: 1 });
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = x.mul(3).sum();
    await setBackend('reference');
    expect(zerosLike(x).backend).toBe(w);
    y.backward();
    expect(x.grad?.backend).toBe(w);
    expect(await values(x.grad as Tensor)).toEqual([3, 3]);
  });

  it.skipIf(!wasm)('a kernel refuses a storage of another backend, naming both', async () => {
    const w = (await setBackend('wasm', { threads: 1 })) as WasmBackend;
    await setBackend('reference');
    const r = tensor([1, 2, 3]);
    const e = errorOf(() => w.unary('neg', r.storage, 0));
    expect(e).toBeInstanceOf(GpugradError);
    expect(e.message).toMatch(/wasm:simd/);
    expect(e.message).toMatch(/'reference'/);
    // Two wasm instances have two heaps: a pointer of one is refused by the other.
    const w2 = (await setBackend('wasm', { threads: 1, maxBytes: 32 << 20 })) as WasmBackend;
    const inW2 = tensor([1, 2, 3]);
    expect(errorOf(() => w.unary('neg', inW2.storage, 0)).message).toMatch(/belongs to 'wasm:simd'/);
    expect(w2).not.toBe(w);
  });

  it.skipIf(!wasm)('Module.to moves parameters, buffers and gradients in place; the optimizer state follows', async () => {
    const w = await setBackend('wasm', { threads: 1 });
    await setBackend('reference');
    manualSeed(3);
    const m = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.Flatten(), new nn.Linear(8, 3));
    const params = m.parameters();
    const opt = new optim.Adam(params, { lr: 0.01 });
    const x = randn([2, 1, 4, 4]);
    const step = (input: Tensor): void => {
      opt.zeroGrad();
      F.crossEntropy(m.forward(input), [0, 2]).backward();
      opt.step();
    };
    step(x);
    m.to(w);
    expect(m.parameters()).toEqual(params); // same tensor objects
    expect([...m.stateDict().values()].every((t) => t.backend === w)).toBe(true);
    step(x.toBackend(w));
    const s = opt.stateDict().state.get(0)?.tensors;
    expect([...(s?.values() ?? [])].every((t) => t.backend === w)).toBe(true);
  });
});

describe('autograd keeps what it needs', () => {
  it('a tensor disposed by the user still carries the gradient through (it used to be lost silently)', async () => {
    const p = tensor([1, 2, 3], [3], { requiresGrad: true });
    const h = p.mul(p);
    const l = h.sum();
    h.dispose();
    expect(h.isDisposed).toBe(true);
    l.backward();
    expect(await values(p.grad as Tensor)).toEqual([2, 4, 6]);
  });

  it('intermediates a module call leaves behind are freed on return, except what backward reads', () => {
    manualSeed(1);
    const m = new nn.Sequential(new nn.Conv2d(2, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 5 * 5, 3));
    const x = randn([2, 2, 5, 5]);
    const base = memory();
    const y = noGrad(() => m.forward(x));
    // Without a graph only the output stays.
    expect(memory().tensors).toBe(base.tensors + 1);
    y.dispose();
    expect(memory()).toEqual(base);
    const logits = m.forward(x);
    const loss = F.crossEntropy(logits, [0, 1]);
    loss.backward();
    loss.dispose();
    logits.dispose();
    for (const p of m.parameters()) p.zeroGrad();
    // backward freed the graph: nothing of the step remains.
    expect(memory()).toEqual(base);
  });

  it('an in-place change to a value the graph saved makes backward throw (version check)', () => {
    const w = tensor([1, 2], [2], { requiresGrad: true });
    const x = tensor([3, 4]);
    const y = w.mul(x).sum();
    noGrad(() => x.assign(tensor([5, 6])));
    const e = errorOf(() => y.backward());
    expect(e).toBeInstanceOf(GpugradError);
    expect(e.message).toMatch(/modified in place/);
    expect(e.message).toMatch(/'mul'/);
  });
});

describe('activation checkpointing', () => {
  it('nn.checkpoint gives the same values and gradients, holding only the segment inputs until backward', async () => {
    manualSeed(4);
    // Deep enough that the plain graph's intermediates outnumber what checkpoint itself holds (convs keep no
    // columns, only their inputs, so a single conv-bn-relu-conv holds about as little as the checkpoint does).
    const block = new nn.Sequential(new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.Conv2d(8, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.Conv2d(8, 3, 3, { padding: 1 }));
    block.eval(); // deterministic recompute (batch statistics would be too, but running stats would update twice)
    const x = randn([2, 3, 6, 6], { requiresGrad: true });
    const plain = block.forward(x).pow(2).sum();
    const heldPlain = memory().buffers;
    plain.backward();
    const want = { x: await values(x.grad as Tensor), w: await values(block.parameters()[0].grad as Tensor) };
    x.zeroGrad();
    block.zeroGrad();
    plain.dispose();
    const base = memory().buffers;
    const ck = nn.checkpoint((t) => block.forward(t), x).pow(2).sum();
    const heldCk = memory().buffers;
    expect(heldCk - base).toBeLessThan(heldPlain - base);
    ck.backward();
    const close = (a: number[], b: number[]): void => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 4));
    close(await values(x.grad as Tensor), want.x);
    close(await values(block.parameters()[0].grad as Tensor), want.w);
  });
});

describe('views share storage', () => {
  it('detach, reshape, flatten, squeeze and unsqueeze see a later assign', async () => {
    const c = tensor([1, 2, 3, 4], [1, 4]);
    const views = [c.detach(), c.reshape([2, 2]), c.flatten(), unsqueeze(c.reshape([4]), 0), c.reshape([1, 4, 1]).reshape([4])];
    c.assign(tensor([5, 6, 7, 8], [1, 4]));
    for (const v of views) expect(await values(v)).toEqual([5, 6, 7, 8]);
  });

  it('a detached running statistic follows the batch-norm updates, and a parameter view follows optimizer steps', async () => {
    const bn = new nn.BatchNorm2d(2);
    const seen = (bn.runningMean as Tensor).detach();
    bn.forward(tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 1, 2]));
    expect((await values(seen)).every((v) => v !== 0)).toBe(true);
    expect(await values(seen)).toEqual(await values(bn.runningMean as Tensor));
    const p = tensor([1, 1], [2], { requiresGrad: true });
    const view = p.reshape([2, 1]);
    const opt = new optim.SGD([p], { lr: 0.5 });
    p.mul(p).sum().backward();
    opt.step();
    expect(await values(view)).toEqual([0, 0]);
  });
});

describe('grad modes and async code', () => {
  it('noGrad(async ...) is refused with a pointer to noGradAsync (ops after an await used to record silently)', async () => {
    const e = errorOf(() => noGrad(async () => undefined));
    expect(e).toBeInstanceOf(GpugradError);
    expect(e.message).toMatch(/noGradAsync/);
    const w = tensor([1], [1], { requiresGrad: true });
    const y = await noGradAsync(async () => {
      await new Promise((r) => setTimeout(r, 1));
      return w.mul(2);
    });
    expect(y.requiresGrad).toBe(false);
  });
});

describe('memory without ceremony', () => {
  it('tensors the program drops are reclaimed by the garbage collector', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const settle = async (): Promise<void> => {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    };
    await settle(); // what earlier tests dropped goes first
    const base = memory();
    for (let i = 0; i < 200; i++) randn([64, 64]).add(1); // never disposed, never kept
    expect(memory().buffers).toBeGreaterThan(base.buffers);
    for (let i = 0; i < 5 && memory().buffers > base.buffers; i++) await settle();
    expect(memory().buffers).toBeLessThanOrEqual(base.buffers);
    expect(memory().bytes).toBeLessThanOrEqual(base.bytes);
  });

  it.skipIf(!wasm)('a refused allocation names the bytes, the limit and what to do; the same backend then runs a smaller batch', async () => {
    await setBackend('wasm', { threads: 1, maxBytes: 24 << 20 });
    manualSeed(2);
    const m = new nn.Sequential(new nn.Conv2d(3, 16, 3, { padding: 1 }), new nn.BatchNorm2d(16), new nn.ReLU(), new nn.Flatten(), new nn.Linear(16 * 32 * 32, 10));
    const opt = new optim.SGD(m.parameters(), { lr: 0.01 });
    const step = (n: number): void => {
      opt.zeroGrad();
      const loss = F.crossEntropy(m.forward(randn([n, 3, 32, 32])), Array.from({ length: n }, (_, i) => i % 10));
      loss.backward();
      opt.step();
      loss.dispose();
    };
    const before = memory();
    const e = errorOf(() => tidy(() => step(256)));
    expect(e).toBeInstanceOf(GpugradError);
    expect(e.message).toMatch(/out of memory: [\d.]+ MiB asked/);
    expect(e.message).toMatch(/at most 24\.0 MiB/);
    expect(e.message).toMatch(/smaller batch/);
    expect(e.message).toMatch(/setLeakTracking/);
    opt.zeroGrad(); // gradients that did accumulate before the refusal are the program's to drop, as in PyTorch
    expect(memory()).toEqual(before); // the failed step left nothing else behind
    for (let i = 0; i < 3; i++) tidy(() => step(2));
    opt.zeroGrad();
    expect(memory()).toEqual(before);
  });
});

describe('inference convolutions of large batches', () => {
  it('run a few images at a time (bounded columns) and give what one GEMM over the batch gives', async () => {
    manualSeed(5);
    const x = randn([16, 16, 64, 64]); // columns of the whole batch: 38 MB, over the 32 MB budget
    const w = randn([8, 16, 3, 3]);
    const b = randn([8]);
    const ops: string[] = [];
    setOpHook((_t, op) => ops.push(op));
    const chunked = noGrad(() => F.conv2d(x, w, b, { padding: 1 }));
    setOpHook(null);
    expect(ops.filter((op) => op === 'im2col').length).toBeGreaterThan(1); // the chunked path did run
    const whole = F.conv2d(x, w.detach().requiresGrad_(), b, { padding: 1 }); // recording: one GEMM
    const [got, want] = [await values(chunked), await values(whole)];
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(1e-4);
  });
});

describe.skipIf(!wasm)('plain loops do not grow (no tidy, no dispose)', () => {
  it('ResNet-18 eval at 1×3×224×224, 300 iterations under noGrad only: memory() and RSS stay within 64 MB', async () => {
    await setBackend('wasm', { threads: 1 });
    manualSeed(0);
    const model = resnet18();
    model.eval();
    const x = randn([1, 3, 224, 224]);
    let at20 = { bytes: 0, rss: 0 };
    let worst = { bytes: 0, rss: 0 };
    for (let i = 0; i < 300; i++) {
      const out = noGrad(() => model.forward(x));
      if (i % 50 === 0) await out.data(); // a program looks at results now and then
      const now = { bytes: memory().bytes, rss: process.memoryUsage().rss };
      if (i === 20) at20 = now;
      if (i > 20) worst = { bytes: Math.max(worst.bytes, now.bytes - at20.bytes), rss: Math.max(worst.rss, now.rss - at20.rss) };
    }
    expect(worst.bytes).toBeLessThan(64 * 2 ** 20);
    expect(worst.rss).toBeLessThan(64 * 2 ** 20);
  }, 600_000);
});
