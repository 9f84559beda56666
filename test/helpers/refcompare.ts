// Compares gpugrad results with the PyTorch summaries in test/fixtures/resnet (full values, or sampled
// positions plus max |value| and sum of squares), at max abs error <= rel · max |reference|; and the one walk
// every ResNet fixture takes (eval logits, then a training forward and backward).
import { expect } from 'vitest';
import { F, nn, noGrad, type Tensor } from '../../src/index.js';
import { hashStateDict, hashTensor } from './hashinit.js';

export interface RefSummary {
  shape: number[];
  maxAbs: number;
  sumSq: number;
  values: number[];
  positions?: number[];
}

/** Returns the worst error relative to max |ref| so tests can also print it. */
export function expectSummaryClose(label: string, got: Float32Array, gotShape: readonly number[], ref: RefSummary, rel = 1e-3): number {
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

/** A ResNet fixture written by scripts/gen_resnet_fixtures.py: hashed weights and input, PyTorch's results. */
export interface ResNetRef {
  seed: number;
  inputStream: number;
  inputShape: number[];
  labels: number[];
  evalLogits: RefSummary;
  trainLogits: RefSummary;
  loss: number;
  inputGrad: RefSummary;
  grads: Record<string, RefSummary>;
}

/**
 * Loads the fixture's hashed weights into `model`, then checks eval logits, and in train mode the logits, the
 * cross-entropy loss, the input gradient and every parameter gradient the fixture lists (at `gradRel(name)`,
 * 'input' for the input). The model is left in train mode after its backward, for further checks; the input
 * is disposed.
 */
export async function checkResNetFixture(model: nn.Module, ref: ResNetRef, gradRel: (name: string) => number = () => 1e-3): Promise<void> {
  const sd = hashStateDict(ref.seed, [...model.stateDict()].map(([k, t]) => [k, t.shape] as const));
  model.loadStateDict(sd);
  for (const t of sd.values()) t.dispose();
  const x = hashTensor(ref.seed, ref.inputStream, ref.inputShape);
  const read = async (t: Tensor): Promise<Float32Array> => t.data();
  try {
    model.eval();
    const evalLogits = noGrad(() => model.forward(x) as Tensor);
    expectSummaryClose('eval logits', await read(evalLogits), evalLogits.shape, ref.evalLogits);
    evalLogits.dispose();
    model.train();
    x.requiresGrad_(true);
    const logits = model.forward(x) as Tensor;
    const loss = F.crossEntropy(logits, ref.labels);
    expectSummaryClose('train logits', await read(logits), logits.shape, ref.trainLogits);
    expect(Math.abs((await loss.item()) - ref.loss)).toBeLessThanOrEqual(1e-3 * Math.abs(ref.loss));
    loss.backward();
    expectSummaryClose('input gradient', await read(x.grad!), x.shape, ref.inputGrad, gradRel('input'));
    const params = new Map(model.namedParameters());
    for (const [k, r] of Object.entries(ref.grads)) expectSummaryClose(`grad ${k}`, await read(params.get(k)!.grad!), params.get(k)!.shape, r, gradRel(k));
  } finally {
    x.dispose();
  }
}
