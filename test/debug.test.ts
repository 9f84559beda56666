// Anomaly mode names the first op that produced NaN/Inf; the leak tracker says where live tensors were made.
import { describe, expect, it } from 'vitest';
import { AnomalyError, detectAnomaly, liveTensors, setLeakTracking, tensor, tidy } from '../src/index.js';

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
