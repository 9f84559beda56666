// torchvision's ResNeXt and Wide ResNet builders: exact parameter counts and state-dict keys/shapes for all five,
// and ResNeXt-50 32x4d (64×64) / Wide ResNet-50-2 (48×48) eval logits, train-mode logits, loss, input and parameter
// gradients against PyTorch (float64), batch 2, on hash-initialised weights (scripts/fixtures_resnet_family.py), on
// every test backend; `gpugrad summary` and predict's architecture inference know them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nn, resnext101_32x8d, resnext101_64x4d, resnext50_32x4d, wide_resnet101_2, wide_resnet50_2, type ResNet } from '../src/index.js';
import { buildNet, countNetParameters, inferNetConfig, NET_LIMITS } from '../src/cli/model.js';
import { summaryCommand } from '../src/cli/summary.js';
import { testBackends, useBackend } from './helpers/backends.js';
import { checkResNetFixture, type ResNetRef } from './helpers/refcompare.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/resnet/family.json', import.meta.url), 'utf8')) as {
  parameterCounts: Record<string, number>;
  keys: Record<string, [string, number[]][]>;
  cases: Record<string, ResNetRef>;
};

const builders: Record<string, () => ResNet> = { resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, wide_resnet101_2 };

describe('ResNeXt and Wide ResNet builders match torchvision', () => {
  it("torchvision's parameter counts are the issue's", () => {
    expect(fx.parameterCounts).toEqual({ resnext50_32x4d: 25_028_904, resnext101_32x8d: 88_791_336, resnext101_64x4d: 83_455_272, wide_resnet50_2: 68_883_240, wide_resnet101_2: 126_886_696 });
  });
  for (const name of Object.keys(builders)) {
    it(`${name}: stateDict keys, order and shapes equal torchvision's; parameter count`, () => {
      const m = nn.skipInit(() => builders[name]());
      try {
        expect([...m.stateDict()].map(([k, t]) => [k, [...t.shape]])).toEqual(fx.keys[name]);
        expect(m.numParameters()).toBe(fx.parameterCounts[name]);
      } finally {
        m.dispose();
      }
    }, 120_000);
  }
});

describe('the CLI knows them', () => {
  it('predict infers groups and width per group from the keys and rebuilds the same state dict', () => {
    const shapes = (name: string): Map<string, number[]> => new Map(fx.keys[name]);
    expect(inferNetConfig(shapes('resnext50_32x4d'), 'x')).toMatchObject({ block: 'bottleneck', layers: [3, 4, 6, 3], widths: [64, 128, 256, 512], groups: 32, widthPerGroup: 4 });
    expect(inferNetConfig(shapes('resnext101_64x4d'), 'x')).toMatchObject({ layers: [3, 4, 23, 3], groups: 64, widthPerGroup: 4 });
    expect(inferNetConfig(shapes('wide_resnet50_2'), 'x')).toMatchObject({ widths: [64, 128, 256, 512], groups: 1, widthPerGroup: 128 });
    const keys = JSON.parse(readFileSync(new URL('./fixtures/resnet/keys.json', import.meta.url), 'utf8')) as { keys: Record<string, [string, number[]][]> };
    const plain = inferNetConfig(new Map(keys.keys.resnet50), 'x');
    expect(plain.groups).toBeUndefined();
    expect(plain.widths).toEqual([64, 128, 256, 512]);
    // The size check predict runs before building counts parameters and BN buffers exactly, grouped convs included.
    for (const name of Object.keys(builders)) {
      const stateSize = fx.keys[name].filter(([k]) => !k.endsWith('num_batches_tracked')).reduce((n, [, sh]) => n + sh.reduce((a, b) => a * b, 1), 0);
      expect(countNetParameters(inferNetConfig(shapes(name), 'x'))).toBe(stateSize);
      expect(stateSize).toBeLessThanOrEqual(NET_LIMITS.parameters);
    }
    const m = nn.skipInit(() => buildNet(inferNetConfig(shapes('resnext50_32x4d'), 'x')));
    expect([...m.stateDict()].map(([k, t]) => [k, [...t.shape]])).toEqual(fx.keys.resnext50_32x4d);
    m.dispose();
  }, 120_000);

  it('gpugrad summary resnext50_32x4d prints the parameter count and MACs', async () => {
    const lines: string[] = [];
    expect(await summaryCommand(new Map(), ['resnext50_32x4d'], (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toMatch(/Total params: 25,028,904/);
    expect(lines.join('\n')).toMatch(/Total MACs: 4,230,479,872/);
  }, 120_000);
});

for (const [name, ref] of Object.entries(fx.cases)) {
  for (const tb of testBackends) {
    describe(`${name} agrees with PyTorch (float64) at ${ref.inputShape.slice(2).join('×')}, batch ${ref.inputShape[0]} [${tb.label}]`, async () => {
      const test = (await tb.available()) ? it : it.skip;
      // Train-mode gradients below the classifier are ill-conditioned in float32 for these nets: a ReLU input
      // within float32 rounding of zero (somewhere among millions) flips under another summation order and moves
      // the input and conv/BN gradients by up to ~1%. Measured: torch's own float32 differs from float64 by
      // 2.5–3.3e-2 at 3 of the 8 Wide ResNet seeds tried, and gpugrad's wasm/gpujs backends by 4e-5…1.5e-2
      // across seeds 3, 5, 6, 7 (ResNeXt-50: ~1.5e-5 on wasm, 9e-3 on gpujs:webasm at seed 5). So float32 backends
      // check those gradients at 2e-2; logits, loss and the classifier's gradients, and everything on the float64
      // reference backend, at 1e-3.
      const gradRel = tb.label === 'reference' ? 1e-3 : 2e-2;
      test('eval logits; train logits, loss, input and parameter gradients', async () => {
        await useBackend(tb);
        const model = nn.skipInit(() => builders[name]());
        try {
          await checkResNetFixture(model, ref, (k) => (k.startsWith('fc.') ? 1e-3 : gradRel));
        } finally {
          model.dispose();
        }
      }, 600_000);
    });
  }
}
