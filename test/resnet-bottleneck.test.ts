// A lone Bottleneck block against torchvision's (float64) at several strides and channel counts:
// eval and train outputs, input and parameter gradients, and running statistics, on every test backend.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Bottleneck, makeLayer, noGrad, type Tensor } from '../src/index.js';
import { testBackends, useBackend } from './helpers/backends.js';
import { hashStateDict, hashTensor } from './helpers/hashinit.js';
import { expectSummaryClose, type RefSummary } from './helpers/refcompare.js';

interface Case {
  inplanes: number;
  planes: number;
  stride: number;
  inputShape: number[];
  keys: [string, number[]][];
  evalOut: RefSummary;
  trainOut: RefSummary;
  inputGrad: RefSummary;
  grads: Record<string, RefSummary>;
  stats: Record<string, RefSummary>;
}
const ref = JSON.parse(readFileSync(new URL('./fixtures/resnet/bottleneck.json', import.meta.url), 'utf8')) as {
  seed: number;
  inputStream: number;
  upstreamStream: number;
  cases: Case[];
};

for (const tb of testBackends) {
  describe(`Bottleneck agrees with torchvision [${tb.label}]`, async () => {
    const available = await tb.available();
    for (const c of ref.cases) {
      it.skipIf(!available)(`inplanes ${c.inplanes}, planes ${c.planes}, stride ${c.stride}, input [${c.inputShape}]`, async () => {
        await useBackend(tb);
        // makeLayer decides the shortcut exactly as torchvision's _make_layer does.
        const block = makeLayer(Bottleneck, c.inplanes, c.planes, 1, c.stride).layer.at(0);
        expect(block).toBeInstanceOf(Bottleneck);
        expect([...block.stateDict()].map(([k, t]) => [k, [...t.shape]])).toEqual(c.keys);
        const sd = hashStateDict(ref.seed, c.keys);
        block.loadStateDict(sd);
        for (const t of sd.values()) t.dispose();
        const x = hashTensor(ref.seed, ref.inputStream, c.inputShape);
        const tmp: Tensor[] = [x];
        try {
          block.eval();
          const ye = noGrad(() => block.forward(x));
          tmp.push(ye);
          expectSummaryClose('eval output', await ye.data(), ye.shape, c.evalOut);
          block.train();
          x.requiresGrad_(true);
          const y = block.forward(x);
          const up = hashTensor(ref.seed, ref.upstreamStream, y.shape);
          const loss = y.mul(up).sum();
          tmp.push(y, up, loss);
          expectSummaryClose('train output', await y.data(), y.shape, c.trainOut);
          loss.backward();
          expectSummaryClose('input gradient', await x.grad!.data(), x.shape, c.inputGrad);
          const params = new Map(block.namedParameters());
          expect([...params.keys()]).toEqual(Object.keys(c.grads));
          for (const [name, r] of Object.entries(c.grads)) expectSummaryClose(`grad ${name}`, await params.get(name)!.grad!.data(), params.get(name)!.shape, r);
          const bufs = new Map(block.namedBuffers());
          for (const [name, r] of Object.entries(c.stats)) expectSummaryClose(name, await bufs.get(name)!.data(), bufs.get(name)!.shape, r);
          for (const [name, t] of bufs) if (name.endsWith('num_batches_tracked')) expect(await t.item()).toBe(1);
        } finally {
          for (const t of tmp) t.dispose();
          block.dispose();
        }
      }, 120_000);
    }
  });
}
