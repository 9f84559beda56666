// One ResNet-18 evaluation and one SGD training step from seeded weights, returning the numbers that the Node
// reference run and every browser backend must agree on (test/browser.test.ts compares them).
import { F, manualSeed, noGrad, optim, randn, resnet18, type Tensor } from '../../src/index.js';

export interface ResnetNumbers {
  evalLogits: number[];
  loss: number;
  /** Eval logits after the step (moved weights and running statistics). */
  stepLogits: number[];
  ms: { eval: number; step: number };
}

/** 64×64 inputs, batch 2: the last stage's batch norm still sees 8 values per channel. */
export async function resnetNumbers(): Promise<ResnetNumbers> {
  manualSeed(1234);
  const model = resnet18({ numClasses: 10 });
  const x = randn([2, 3, 64, 64]);
  const read = async (t: Tensor): Promise<number[]> => Array.from(await t.data());
  try {
    model.eval();
    let t0 = performance.now();
    const e = noGrad(() => model.forward(x));
    const evalLogits = await read(e);
    const evalMs = performance.now() - t0;
    e.dispose();

    model.train();
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    t0 = performance.now();
    const loss = F.crossEntropy(model.forward(x), [3, 7]);
    loss.backward();
    opt.step();
    const lossValue = await loss.item();
    const stepMs = performance.now() - t0;
    loss.dispose();
    opt.zeroGrad();

    model.eval();
    const s = noGrad(() => model.forward(x));
    const stepLogits = await read(s);
    s.dispose();
    return { evalLogits, loss: lossValue, stepLogits, ms: { eval: evalMs, step: stepMs } };
  } finally {
    model.dispose();
    x.dispose();
  }
}
