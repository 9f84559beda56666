// Anomaly mode names the first op that produced NaN/Inf; the leak tracker says where live tensors were made.
import { describe, expect, it } from 'vitest';
import { AnomalyError, detectAnomaly, F, liveTensors, nn, noGrad, setBackend, setLeakTracking, tensor, tidy, type Tensor } from '../src/index.js';

describe('anomaly mode', () => {
  it('names the forward op that produced a NaN', () => {
    const x = tensor([1, -1, 2]);
    expect(() => detectAnomaly(() => x.mul(2).log())).toThrow(AnomalyError);
    expect(() => detectAnomaly(() => x.mul(2).log())).toThrow(/^log: produced NaN at flat index 1/);
    // Outside the scope the same computation is allowed (NaN is a value, not an error).
    expect(Number.isNaN(x.log().dataSync()[1])).toBe(true);
  });

  it('names the op whose backward produced an Inf', () => {
    const x = tensor([0, 4], [2], { requiresGrad: true });
    let err: unknown;
    try {
      detectAnomaly(() => x.sqrt().sum().backward());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AnomalyError);
    expect((err as AnomalyError).phase).toBe('backward');
    expect((err as AnomalyError).message).toMatch(/^sqrt: gradient for input 0 \[2\] holds Infinity/);
  });
});

/** The AnomalyError `fn` throws under detectAnomaly (fails the test on anything else). */
function anomalyOf(fn: () => unknown, options?: Parameters<typeof detectAnomaly>[1]): AnomalyError {
  try {
    detectAnomaly(fn, options);
  } catch (e) {
    expect(e).toBeInstanceOf(AnomalyError);
    return e as AnomalyError;
  }
  throw new Error('expected an AnomalyError');
}

const nanWeight = (): Tensor => tensor(Array.from({ length: 4 * 2 * 9 }, (_, i) => (i === 5 ? NaN : 0.1)), [4, 2, 3, 3]);

// On the oracle (conv → bn → relu composed from primitives) and on wasm (one fused GEMM with its epilogue).
describe.each([
  ['reference', {}],
  ['wasm', { threads: 1 }],
] as const)('anomaly mode names the public op and checks inputs and parameters (%s)', (name, opts) => {
  it('a NaN conv weight is reported as conv2d\'s weight argument, with its shape, before anything runs', async () => {
    await setBackend(name, opts);
    const x = tensor(Array.from({ length: 2 * 25 }, (_, i) => i / 50), [1, 2, 5, 5]);
    const e = anomalyOf(() => F.conv2d(x, nanWeight(), null, { padding: 1 }));
    expect(e.op).toBe('conv2d');
    expect(e.phase).toBe('input');
    expect(e.message).toMatch(/^conv2d: argument 'weight' \[4,2,3,3\] holds NaN at flat index 5 before the op ran/);
  });

  it('names the parameter by its path when given the model, and checks all of them when the scope starts', async () => {
    await setBackend(name, opts);
    const conv = new nn.Conv2d(2, 4, 3, { padding: 1, bias: false });
    const model = new nn.Sequential(conv, new nn.BatchNorm2d(4), new nn.ReLU());
    model.eval();
    noGrad(() => conv.weight.assign(nanWeight()));
    const x = tensor(Array.from({ length: 2 * 25 }, (_, i) => i / 50), [1, 2, 5, 5]);
    // Without a model the check happens where the weight is used: the fused conv (wasm) or conv2d (reference).
    const used = anomalyOf(() => noGrad(() => model.forward(x)));
    expect(used.phase).toBe('input');
    // Eval mode folds conv → batch norm into F.conv2dAffine, the public op that receives the weight.
    expect(used.message).toMatch(/^conv2dAffine: argument 'weight' \[4,2,3,3\] holds NaN at flat index 5 before the op ran/);
    const e = anomalyOf(() => noGrad(() => model.forward(x)), { model });
    expect(e.message).toBe("detectAnomaly: parameter or buffer '0.weight' [4,2,3,3] holds NaN at flat index 5");
  });

  it('a NaN made inside the fused conv → scale → ReLU is caught (a ReLU no longer swallows it) under the public op', async () => {
    await setBackend(name, opts);
    // Finite inputs whose product overflows to Infinity; scale 0 makes it NaN, which ReLU used to turn into 0.
    const x = tensor(new Array(2 * 25).fill(1e30), [1, 2, 5, 5]);
    const w = tensor(new Array(4 * 2 * 9).fill(1e30), [4, 2, 3, 3]);
    const ep = { scale: tensor([0, 0, 0, 0]), shift: tensor([0, 0, 0, 0]), relu: true };
    const e = anomalyOf(() => noGrad(() => F.conv2dAffine(x, w, ep, { padding: 1 })));
    expect(e.op).toBe('conv2dAffine');
    expect(e.phase).toBe('forward');
    expect(e.primitive).toMatch(/^(matmul|matmulEpilogue|convEpilogue)$/);
    expect(e.message).toMatch(/^conv2dAffine: its (matmul|matmulEpilogue|convEpilogue) step produced (NaN|Infinity) at flat index 0/);
  });
});

describe('anomaly mode in backward', () => {
  it('names the public op whose gradient rule produced the Inf', async () => {
    await setBackend('reference');
    const x = tensor([1e20, 1e20], [1, 2]);
    const w = tensor([1e-20, 1e-20], [1, 2], { requiresGrad: true });
    const e = anomalyOf(() => F.linear(x, w).backward(tensor([1e30], [1, 1])));
    expect(e.phase).toBe('backward');
    expect(e.op).toBe('linear');
    expect(e.message).toMatch(/^linear: gradient for input 1 of its matmul step \[1,2\] holds Infinity/);
  });
});

describe('leak tracker', () => {
  it('lists tensors left alive, with the place they were created', () => {
    setLeakTracking(true);
    try {
      const leaked = tidy(() => {
        tensor([1, 2]).mul(3); // freed by tidy
        return tensor([5]);
      });
      const live = liveTensors();
      expect(live.map((t) => t.id)).toEqual([leaked.id]);
      expect(live[0].createdAt).toMatch(/debug\.test\.ts/);
      leaked.dispose();
      expect(liveTensors()).toEqual([]);
    } finally {
      setLeakTracking(false);
    }
  });
});
