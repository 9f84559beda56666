// ResNet against torchvision: parameter counts, state-dict keys and shapes, and ResNet-50 outputs,
// gradients and BN statistics at 64×64 (batch 2) on hash-initialised weights (fixtures from
// scripts/fixtures_resnet.py), on every test backend.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nn, resnet18, resnet34, resnet50, resnet101, resnet152, type ResNet } from '../src/index.js';
import { testBackends, useBackend } from './helpers/backends.js';
import { checkResNetFixture, expectSummaryClose, type ResNetRef, type RefSummary } from './helpers/refcompare.js';

const dir = new URL('./fixtures/resnet/', import.meta.url);
const keys = JSON.parse(readFileSync(new URL('keys.json', dir), 'utf8')) as { parameterCounts: Record<string, number>; keys: Record<string, [string, number[]][]> };
const ref = JSON.parse(readFileSync(new URL('resnet50_64.json', dir), 'utf8')) as ResNetRef & { stats: Record<string, RefSummary> };

const builders: Record<string, () => ResNet> = { resnet18, resnet34, resnet50, resnet101, resnet152 };

describe('resnet builders match torchvision', () => {
  it('has the exact parameter counts (numbers from the issue and from torchvision)', () => {
    const want: Record<string, number> = { resnet18: 11_689_512, resnet34: 21_797_672, resnet50: 25_557_032, resnet101: 44_549_160, resnet152: 60_192_808 };
    expect(keys.parameterCounts).toEqual(want);
  });

  for (const name of Object.keys(builders)) {
    it(`${name}: stateDict keys, order and shapes equal torchvision's; parameter count`, () => {
      // skipInit: only names and shapes matter here, and drawing 60M weights would dominate the test.
      const m = nn.skipInit(() => builders[name]());
      try {
        const got = [...m.stateDict()].map(([k, t]) => [k, [...t.shape]]);
        expect(got).toEqual(keys.keys[name]);
        expect(m.numParameters()).toBe(keys.parameterCounts[name]);
        expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
        expect(m.buffers().every((b) => !b.requiresGrad)).toBe(true);
      } finally {
        m.dispose();
      }
    }, 120_000);
  }
});

for (const tb of testBackends) {
  describe(`ResNet-50 agrees with PyTorch (float64) at 64×64, batch 2 [${tb.label}]`, async () => {
    const available = await tb.available();
    // The fixture's seed is one where no ReLU or max-pool decision lies within float32 rounding of a tie
    // (scripts/fixtures_resnet.py --check-seeds: 20 float32 variants of torch's step, one-ulp weight and input
    // changes among them, stay within 3.1e-5 of float64). At the seed used before, two ReLU inputs sat ~1e-5
    // from zero, and a change of rounding alone (fused multiply-add, Winograd) moved the input gradient 1e-2.
    // So a failure here at ~1e-2 in the gradients only is worth checking for such a tie first.
    const test = available ? it : it.skip;
    test('eval logits; train logits, loss, input and parameter gradients, BN running stats', async () => {
      await useBackend(tb);
      const model = nn.skipInit(() => resnet50());
      try {
        await checkResNetFixture(model, ref);
        const bufs = new Map(model.namedBuffers());
        for (const [name, r] of Object.entries(ref.stats)) {
          const b = bufs.get(name)!;
          expectSummaryClose(name, await b.data(), b.shape, r);
        }
        // Not a parameter and not part of the graph: the step must leave the buffers without gradients.
        expect(model.buffers().every((b) => !b.requiresGrad)).toBe(true);
      } finally {
        model.dispose();
      }
    }, 600_000);
  });
}
