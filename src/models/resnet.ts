// ResNet (v1.5, torchvision's layout and names): conv helpers, BasicBlock, Bottleneck, makeLayer, ResNet and
// the resnet18…152, ResNeXt and Wide ResNet builders. Read top-down; docs/resnet.md walks through it against the seed blog post.
// The forwards are written as torchvision writes them; in eval mode without gradients the runtime folds each
// bn(conv(x)) (+ identity) (→ relu) into one GEMM with an epilogue (functional/deferred.ts), so no fusion here.
import { fail, fmt } from '../errors.js';
import * as o from '../ops.js';
import type { Generator } from '../random.js';
import { Tensor } from '../tensor.js';
import { constant_, kaimingNormal_ } from '../nn/init.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Identity, Linear, initSkipped, MaxPool2d, ReLU, Sequential, skipInit } from '../nn/layers.js';
import { Module } from '../nn/module.js';

// ---- the two convolutions every block is made of: bias-free, because a BatchNorm follows each one ----

/** 3×3 convolution with padding so that stride 1 keeps the spatial size. */
export function conv3x3(inPlanes: number, outPlanes: number, stride = 1, groups = 1, dilation = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: dilation, groups, dilation, bias: false });
}

/** 1×1 convolution: mixes channels; with stride 2 it is the projection shortcut's subsampling. */
export function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

// ---- blocks ----

/** Settings a block receives from its stage (torchvision's groups/base_width, for ResNeXt-style variants). */
export interface BlockOptions {
  groups?: number;
  baseWidth?: number;
  dilation?: number;
}

/** A residual block class as makeLayer uses it: the constructor plus its channel expansion factor. */
export interface BlockType {
  readonly expansion: number;
  new (inplanes: number, planes: number, stride: number, downsample: Module | null, options?: BlockOptions): Module & { readonly lastBN: BatchNorm2d };
}

/**
 * Two 3×3 convolutions plus the shortcut (ResNet-18/34). Output channels = planes.
 *   out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
 */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Module | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Module | null = null, options: BlockOptions = {}) {
    super();
    if ((options.groups ?? 1) !== 1 || (options.baseWidth ?? 64) !== 64) fail('BasicBlock', 'only supports groups=1 and baseWidth=64');
    if ((options.dilation ?? 1) > 1) fail('BasicBlock', 'dilation > 1 is not supported');
    // Registration order fixes the state-dict order; it matches torchvision's attribute order.
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes, stride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.relu = this.registerModule('relu', new ReLU());
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }

  /** The BN whose weight zeroInitResidual sets to 0, so the block starts as the identity. */
  get lastBN(): BatchNorm2d {
    return this.bn2;
  }

  forward(x: Tensor): Tensor {
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.bn2.forward(this.conv2.forward(out));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    out = out.add(identity);
    return this.relu.forward(out);
  }
}

/**
 * The bottleneck block of ResNet-50/101/152: 1×1 reduce to `width` → 3×3 (carrying the stride: v1.5) →
 * 1×1 expand to planes·4, then BN, add the shortcut, and one ReLU after the add.
 */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly relu: ReLU;
  readonly downsample: Module | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Module | null = null, options: BlockOptions = {}) {
    super();
    const groups = options.groups ?? 1;
    const width = Math.floor(planes * ((options.baseWidth ?? 64) / 64)) * groups;
    this.conv1 = this.registerModule('conv1', conv1x1(inplanes, width));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', conv3x3(width, width, stride, groups, options.dilation ?? 1));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(width));
    this.conv3 = this.registerModule('conv3', conv1x1(width, planes * Bottleneck.expansion));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * Bottleneck.expansion));
    this.relu = this.registerModule('relu', new ReLU());
    this.downsample = downsample ? this.registerModule('downsample', downsample) : null;
  }

  get lastBN(): BatchNorm2d {
    return this.bn3;
  }

  forward(x: Tensor): Tensor {
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.relu.forward(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    out = out.add(identity);
    return this.relu.forward(out);
  }
}

// ---- a stage ----

/**
 * Builds one stage: `blocks` blocks of `planes` (output planes·expansion channels). `inplanes` is the
 * channel count entering the stage — the seed's `midchannel`: the first block takes it, every later block
 * takes planes·expansion. Only the first block strides, and only it gets a projection shortcut
 * (1×1 conv + BN, no ReLU), and only when the stride or the channel count changes.
 */
export function makeLayer(block: BlockType, inplanes: number, planes: number, blocks: number, stride = 1, options: BlockOptions = {}): { layer: Sequential; outChannels: number } {
  if (!Number.isInteger(blocks) || blocks < 1) fail('makeLayer', `blocks must be a positive integer, got ${blocks}`);
  const out = planes * block.expansion;
  const downsample = stride !== 1 || inplanes !== out ? new Sequential(conv1x1(inplanes, out, stride), new BatchNorm2d(out)) : null;
  const list: Module[] = [new block(inplanes, planes, stride, downsample, options)];
  for (let i = 1; i < blocks; i++) list.push(new block(out, planes, 1, null, options));
  return { layer: new Sequential(...list), outChannels: out };
}

// ---- the network ----

export interface ResNetOptions {
  /** Classifier outputs (default 1000). */
  numClasses?: number;
  /** Start each residual branch's last BN at weight 0, so every block begins as the identity (default false). */
  zeroInitResidual?: boolean;
  /** Blocks per stage; overrides the builder's (e.g. [1, 1, 1, 1] for a tiny ResNet). */
  layers?: readonly number[];
  /** Planes per stage (default [64, 128, 256, 512]); the stem has widths[0] channels. */
  widths?: readonly number[];
  /** Input channels (default 3; 1 for MNIST). */
  inChannels?: number;
  /** Stem convolution kernel (default 7) and stride (default 2); 3 and 1 suit 28×28 inputs. */
  stemKernel?: number;
  stemStride?: number;
  /** The 3×3/2 max pool after the stem (default true). */
  maxPool?: boolean;
  /** Bottleneck's grouped 3×3 convolution: groups (default 1) × widthPerGroup (default 64) channels per 64 planes (ResNeXt, Wide ResNet). */
  groups?: number;
  widthPerGroup?: number;
  /** Generator for initialisation (default: the global one, seeded by manualSeed). */
  generator?: Generator;
}

/**
 * stem (conv1 → bn1 → relu → maxpool) → layer1..layer4 → global average pool → flatten → fc.
 * With the defaults the spatial size falls 224 → 112 → 56 → 56 → 28 → 14 → 7 → 1.
 */
export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly maxpool: Module;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;
  readonly numClasses: number;
  readonly inChannels: number;

  constructor(block: BlockType, layers: readonly number[], options: ResNetOptions = {}) {
    super();
    const L = options.layers ?? layers;
    const widths = options.widths ?? [64, 128, 256, 512];
    if (L.length !== 4 || widths.length !== 4) fail('ResNet', `layers and widths must each list 4 stages, got layers ${fmt(L)} and widths ${fmt(widths)}`);
    const numClasses = options.numClasses ?? 1000;
    const inChannels = options.inChannels ?? 3;
    const k = options.stemKernel ?? 7;
    if (!Number.isInteger(k) || k < 1 || k % 2 === 0) fail('ResNet', `stemKernel must be a positive odd integer, got ${k}`);
    this.numClasses = numClasses;
    this.inChannels = inChannels;
    const bo: BlockOptions = { groups: options.groups, baseWidth: options.widthPerGroup };

    // Built under skipInit: every convolution is re-drawn below, so PyTorch's per-layer default draw
    // would be wasted work (torchvision draws both; the distribution that remains is the same).
    const stem = widths[0];
    // A caller's own skipInit (e.g. before loading a checkpoint) skips ResNet's initialisation too.
    const skip = initSkipped();
    const built = skipInit(() => {
      const stages: Sequential[] = [];
      let inplanes = stem;
      for (let s = 0; s < 4; s++) {
        const { layer, outChannels } = makeLayer(block, inplanes, widths[s], L[s], s === 0 ? 1 : 2, bo);
        stages.push(layer);
        inplanes = outChannels;
      }
      return {
        conv1: new Conv2d(inChannels, stem, k, { stride: options.stemStride ?? 2, padding: (k - 1) / 2, bias: false }),
        stages,
        fc: new Linear(inplanes, numClasses, { generator: options.generator }),
      };
    });
    // Registration order is the state-dict order: torchvision's attribute order.
    this.conv1 = this.registerModule('conv1', built.conv1);
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(stem));
    this.relu = this.registerModule('relu', new ReLU());
    this.maxpool = this.registerModule('maxpool', options.maxPool ?? true ? new MaxPool2d(3, { stride: 2, padding: 1 }) : new Identity());
    this.layer1 = this.registerModule('layer1', built.stages[0]);
    this.layer2 = this.registerModule('layer2', built.stages[1]);
    this.layer3 = this.registerModule('layer3', built.stages[2]);
    this.layer4 = this.registerModule('layer4', built.stages[3]);
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', built.fc);

    // torchvision's initialisation: He normal (fan_out) for convolutions; BN weight 1 / bias 0 (which
    // BatchNorm2d already starts with); fc keeps nn.Linear's default.
    if (skip) return;
    for (const m of this.modules()) {
      if (m instanceof Conv2d) kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu', generator: options.generator });
    }
    this.fc.resetParameters();
    if (options.zeroInitResidual) {
      for (const m of this.modules()) if (m instanceof BasicBlock || m instanceof Bottleneck) constant_(m.lastBN.weight as Tensor, 0);
    }
  }

  /** Everything up to the pooled features [N, C]. */
  features(x: Tensor): Tensor {
    if (!(x instanceof Tensor) || x.rank !== 4 || x.shape[1] !== this.inChannels) {
      fail('ResNet', `input must be [N, ${this.inChannels}, H, W], got ${x instanceof Tensor ? fmt(x.shape) : typeof x}`);
    }
    // Each stage's output is released once the next stage has it (torchvision's `x = self.layer1(x)` frees the old
    // x the same way, by reference count); the graph keeps what backward reads.
    const stages = [this.maxpool, this.layer1, this.layer2, this.layer3, this.layer4, this.avgpool];
    let y = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    for (const stage of stages) {
      const next = stage.forward(y);
      if (next !== y) y.dispose(); // (an Identity stage returns its input)
      y = next;
    }
    return o.flatten(y, 1);
  }

  forward(x: Tensor): Tensor {
    return this.fc.forward(this.features(x));
  }
}

// ---- builders (torchvision's depths) ----

export const resnet18 = (options: ResNetOptions = {}): ResNet => new ResNet(BasicBlock, [2, 2, 2, 2], options);
export const resnet34 = (options: ResNetOptions = {}): ResNet => new ResNet(BasicBlock, [3, 4, 6, 3], options);
export const resnet50 = (options: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 4, 6, 3], options);
export const resnet101 = (options: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 4, 23, 3], options);
export const resnet152 = (options: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 8, 36, 3], options);

// ResNeXt (grouped 3×3 convolutions: groups × widthPerGroup channels in each bottleneck) and Wide ResNet (bottlenecks
// twice as wide), as torchvision builds them: the same ResNet with Bottleneck's groups and base width set.
export const resnext50_32x4d = (options: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 4, 6, 3], { groups: 32, widthPerGroup: 4, ...options });
export const resnext101_32x8d = (options: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 4, 23, 3], { groups: 32, widthPerGroup: 8, ...options });
export const resnext101_64x4d = (options: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 4, 23, 3], { groups: 64, widthPerGroup: 4, ...options });
export const wide_resnet50_2 = (options: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 4, 6, 3], { widthPerGroup: 128, ...options });
export const wide_resnet101_2 = (options: ResNetOptions = {}): ResNet => new ResNet(Bottleneck, [3, 4, 23, 3], { widthPerGroup: 128, ...options });

/** torchvision's builders by name (the names `gpugrad summary` takes). */
export const RESNET_BUILDERS: Readonly<Record<string, (options?: ResNetOptions) => ResNet>> = {
  resnet18,
  resnet34,
  resnet50,
  resnet101,
  resnet152,
  resnext50_32x4d,
  resnext101_32x8d,
  resnext101_64x4d,
  wide_resnet50_2,
  wide_resnet101_2,
};
