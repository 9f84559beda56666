// Compares gpugrad results with the PyTorch summaries in test/fixtures/resnet (full values, or sampled
// positions plus max |value| and sum of squares), at max abs error <= rel · max |reference|.
import { expect } from 'vitest';

export interface RefSummary {
  shape: number[];
  maxAbs: number;
  sumSq: number;
  values: number[];
  positions?: number[];
}

/** Returns the worst error relative to max |ref| so tests can also print it. */
export function expectClose(label: string, got: Float32Array, gotShape: readonly number[], ref: RefSummary, rel = 1e-3): number {
  expect([...gotShape], `${label} shape`).toEqual(ref.shape);
  const scale = Math.max(ref.maxAbs, 1e-30);
  let worst = 0;
  let at = -1;
  ref.values.forEach((want, j) => {
    const i = ref.positions ? ref.positions[j] : j;
    const err = Math.abs(got[i] - want);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  });
  let maxAbs = 0;
  let sumSq = 0;
  for (const v of got) {
    maxAbs = Math.max(maxAbs, Math.abs(v));
    sumSq += v * v;
  }
  const r = worst / scale;
  expect(r, `${label}: worst error ${worst} at ${at} vs max|ref| ${ref.maxAbs}`).toBeLessThanOrEqual(rel);
  expect(Math.abs(maxAbs - ref.maxAbs) / scale, `${label}: max |value| ${maxAbs} vs ${ref.maxAbs}`).toBeLessThanOrEqual(rel);
  const norm = Math.sqrt(ref.sumSq);
  expect(Math.abs(Math.sqrt(sumSq) - norm), `${label}: L2 norm ${Math.sqrt(sumSq)} vs ${norm}`).toBeLessThanOrEqual(rel * Math.max(norm, 1e-30));
  return r;
}
