// ResNet-50's convolutions derived from its architecture (torchvision v1.5: stride on the 3×3 conv), used
// for the per-shape kernel benchmarks and for the exact FLOP count of a forward pass at any input size.

export interface ConvShape {
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  /** Input height = width. */
  h: number;
  /** Output height = width. */
  oh: number;
}

const out = (h: number, k: number, s: number, p: number): number => Math.floor((h + 2 * p - k) / s) + 1;

function conv(cin: number, cout: number, k: number, stride: number, h: number): ConvShape {
  const pad = (k - 1) / 2;
  return { cin, cout, k, stride, pad, h, oh: out(h, k, stride, pad) };
}

/** Every convolution of a bottleneck ResNet at a size×size input, in order, with repeats. */
export function resnetConvs(size: number, layers: readonly number[] = [3, 4, 6, 3], widths: readonly number[] = [64, 128, 256, 512]): ConvShape[] {
  const list: ConvShape[] = [];
  const stem = conv(3, widths[0], 7, 2, size);
  list.push(stem);
  let h = out(stem.oh, 3, 2, 1); // max pool 3×3/2, pad 1
  let inC = widths[0];
  layers.forEach((blocks, s) => {
    const p = widths[s];
    for (let i = 0; i < blocks; i++) {
      const st = s > 0 && i === 0 ? 2 : 1;
      const c2 = conv(p, p, 3, st, h);
      list.push(conv(inC, p, 1, 1, h), c2, conv(p, 4 * p, 1, 1, c2.oh));
      if (i === 0 && (st !== 1 || inC !== 4 * p)) list.push(conv(inC, 4 * p, 1, st, h));
      h = c2.oh;
      inC = 4 * p;
    }
  });
  return list;
}

export const convKey = (c: ConvShape): string => `${c.cin}→${c.cout} ${c.k}×${c.k}/${c.stride} @${c.h}²`;

/** The distinct shapes with how often each occurs. */
export function distinctConvs(size: number): { shape: ConvShape; count: number }[] {
  const m = new Map<string, { shape: ConvShape; count: number }>();
  for (const c of resnetConvs(size)) {
    const e = m.get(convKey(c));
    if (e) e.count++;
    else m.set(convKey(c), { shape: c, count: 1 });
  }
  return [...m.values()];
}

/** Multiply-adds of one convolution per image. */
export const convMacs = (c: ConvShape): number => c.cout * c.cin * c.k * c.k * c.oh * c.oh;

/** Forward FLOP (2 per multiply-add) of ResNet-50 per image: convolutions plus the classifier. */
export function resnet50Flop(size: number, classes = 1000): number {
  return 2 * (resnetConvs(size).reduce((a, c) => a + convMacs(c), 0) + 2048 * classes);
}
