// Parameter initialisers with torch.nn.init's formulas, drawing from gpugrad's seeded generator.
import { fail, fmt } from '../errors.js';
import { globalGenerator, type Generator } from '../random.js';
import { fromStorage, Tensor } from '../tensor.js';
import { noGrad } from '../engine.js';

export type Nonlinearity = 'linear' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid';
export type FanMode = 'fan_in' | 'fan_out';

/** fan_in and fan_out as torch computes them: dims 1 and 0 times the receptive field (dims 2...). */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) fail('init', `fan in/out need a tensor with at least 2 dimensions, got ${fmt(shape)}`);
  const field = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * field, fanOut: shape[0] * field };
}

/** torch.nn.init.calculate_gain. */
export function gain(nonlinearity: Nonlinearity, a = 0.01): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'relu':
      return Math.SQRT2;
    case 'tanh':
      return 5 / 3;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + a * a));
  }
}

// Values are generated on the host and written with assign(), so the tensor keeps its identity.
function fillWith(t: Tensor, f: (i: number) => number): Tensor {
  const d = new Float32Array(t.size);
  for (let i = 0; i < d.length; i++) d[i] = f(i);
  noGrad(() => {
    const src = fromStorage(t.backend, t.backend.upload(d), t.shape); // on t's backend, not the current one
    t.assign(src);
    src.dispose();
  });
  return t;
}

export function constant_(t: Tensor, value: number): Tensor {
  return fillWith(t, () => value);
}
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

export function uniform_(t: Tensor, low = 0, high = 1, gen: Generator = globalGenerator): Tensor {
  return fillWith(t, () => low + (high - low) * gen.uniform());
}

export function normal_(t: Tensor, mean = 0, std = 1, gen: Generator = globalGenerator): Tensor {
  return fillWith(t, () => mean + std * gen.normal());
}

export interface KaimingOptions {
  /** Negative slope for leaky_relu (torch's `a`). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t.shape);
  const fan = (o.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  return gain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
}

/** He normal: N(0, gain/√fan). torchvision's ResNet uses mode 'fan_out', nonlinearity 'relu'. */
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, o), o.generator);
}

/** He uniform: U(-b, b) with b = √3·gain/√fan. nn.Linear and nn.Conv2d default to a = √5. */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd(t, o);
  return uniform_(t, -b, b, o.generator);
}
