// TensorFlow.js's ResNet for the peers: the same ResNet (basic or bottleneck blocks) rebuilt from a state dict with tfjs ops in NHWC,
// TensorFlow's native layout (batch norm unfolded, as in the model). No Node imports: bench/peers/tfjs.ts runs it
// in Node and bench/browser/page.ts in a browser.

/** Opaque tfjs tensor; the slice of tfjs-core's API used here, typed so bench/ type-checks without it. */
export interface TfTensor {
  readonly shape: number[];
  data(): Promise<Float32Array>;
  dispose(): void;
}
type Pad = 'valid' | 'same' | number;
export interface Tf {
  tensor(values: Float32Array, shape: readonly number[]): TfTensor;
  transpose(x: TfTensor, perm: readonly number[]): TfTensor;
  conv2d(x: TfTensor, filter: TfTensor, strides: number, pad: Pad): TfTensor;
  batchNorm(x: TfTensor, mean: TfTensor, variance: TfTensor, offset: TfTensor, scale: TfTensor, eps: number): TfTensor;
  relu(x: TfTensor): TfTensor;
  add(a: TfTensor, b: TfTensor): TfTensor;
  pad(x: TfTensor, paddings: readonly (readonly [number, number])[]): TfTensor;
  maxPool(x: TfTensor, filterSize: number, strides: number, pad: Pad): TfTensor;
  mean(x: TfTensor, axis: readonly number[]): TfTensor;
  matMul(a: TfTensor, b: TfTensor, transposeA: boolean, transposeB: boolean): TfTensor;
  tidy<T extends TfTensor>(fn: () => T): T;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  env(): { set(flag: string, value: boolean): void };
  dispose(t: TfTensor | TfTensor[]): void;
}

export type Weights = Map<string, { shape: readonly number[]; data: Float32Array }>;

interface Bn {
  mean: TfTensor;
  variance: TfTensor;
  offset: TfTensor;
  scale: TfTensor;
}
interface ConvBn {
  w: TfTensor;
  stride: number;
  pad: number;
  bn: Bn;
}
interface Block {
  c1: ConvBn;
  c2: ConvBn;
  /** Null in a basic block (ResNet-18/34): two 3×3 convs, no 1×1 expansion. */
  c3: ConvBn | null;
  down: ConvBn | null;
}

/** A ResNet (torchvision layout, basic or bottleneck blocks, any depth) as tfjs tensors; `forward` takes NHWC input. */
export class TfResNet {
  private readonly all: TfTensor[] = [];
  private readonly stem: ConvBn;
  private readonly stages: Block[][] = [];
  private readonly fcW: TfTensor;
  private readonly fcB: TfTensor;

  constructor(
    private readonly tf: Tf,
    w: Weights,
  ) {
    const get = (k: string): { shape: readonly number[]; data: Float32Array } => {
      const e = w.get(k);
      if (!e) throw new Error(`TfResNet: weight '${k}' missing`);
      return e;
    };
    const t = (k: string): TfTensor => this.keep(tf.tensor(get(k).data, get(k).shape));
    const bn = (p: string): Bn => ({ mean: t(`${p}.running_mean`), variance: t(`${p}.running_var`), offset: t(`${p}.bias`), scale: t(`${p}.weight`) });
    const conv = (p: string, bnp: string, stride: number): ConvBn => {
      const e = get(`${p}.weight`);
      // OIHW → HWIO, tfjs's filter layout.
      const oihw = tf.tensor(e.data, e.shape);
      const hwio = this.keep(tf.transpose(oihw, [2, 3, 1, 0]));
      oihw.dispose();
      return { w: hwio, stride, pad: (e.shape[2] - 1) / 2, bn: bn(bnp) };
    };
    this.stem = conv('conv1', 'bn1', 2);
    for (let s = 1; w.has(`layer${s}.0.conv1.weight`); s++) {
      const blocks: Block[] = [];
      for (let i = 0; w.has(`layer${s}.${i}.conv1.weight`); i++) {
        const p = `layer${s}.${i}`;
        const stride = s > 1 && i === 0 ? 2 : 1;
        // A bottleneck (has conv3) strides on its 3×3 conv2 (ResNet v1.5); a basic block on its first conv.
        const bottleneck = w.has(`${p}.conv3.weight`);
        blocks.push({
          c1: conv(`${p}.conv1`, `${p}.bn1`, bottleneck ? 1 : stride),
          c2: conv(`${p}.conv2`, `${p}.bn2`, bottleneck ? stride : 1),
          c3: bottleneck ? conv(`${p}.conv3`, `${p}.bn3`, 1) : null,
          down: w.has(`${p}.downsample.0.weight`) ? conv(`${p}.downsample.0`, `${p}.downsample.1`, stride) : null,
        });
      }
      this.stages.push(blocks);
    }
    this.fcW = t('fc.weight');
    this.fcB = t('fc.bias');
  }

  private keep(x: TfTensor): TfTensor {
    this.all.push(x);
    return x;
  }

  private convBn(x: TfTensor, c: ConvBn, relu: boolean): TfTensor {
    const tf = this.tf;
    const y = tf.batchNorm(tf.conv2d(x, c.w, c.stride, c.pad), c.bn.mean, c.bn.variance, c.bn.offset, c.bn.scale, 1e-5);
    return relu ? tf.relu(y) : y;
  }

  forward(nhwc: TfTensor): TfTensor {
    const tf = this.tf;
    return tf.tidy(() => {
      let x = this.convBn(nhwc, this.stem, true);
      // PyTorch pads the 3×3/2 max pool by 1 on every side; after the ReLU all values are ≥ 0, so zero
      // padding is exact (tfjs's 'same' would pad only the bottom/right here).
      x = tf.maxPool(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'valid');
      for (const stage of this.stages) {
        for (const b of stage) {
          const id = b.down ? this.convBn(x, b.down, false) : x;
          const h = this.convBn(x, b.c1, true);
          const y = b.c3 ? this.convBn(this.convBn(h, b.c2, true), b.c3, false) : this.convBn(h, b.c2, false);
          x = tf.relu(tf.add(y, id));
        }
      }
      return tf.add(tf.matMul(tf.mean(x, [1, 2]), this.fcW, false, true), this.fcB);
    });
  }

  dispose(): void {
    this.tf.dispose(this.all);
  }
}
