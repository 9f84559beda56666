// F: the neural-network functions, composed from the primitives in ops.ts. Each concern has its own file under
// functional/; this module is the one list of what F exports (internal helpers stay in their files).
export { conv2d, conv2dAffine, unfold, convTranspose2d, linear } from './functional/conv.js';
export type { Conv2dOptions, ConvEpilogue, UnfoldOptions, ConvTranspose2dOptions } from './functional/conv.js';
export { batchNorm2d, layerNorm, groupNorm, normalize } from './functional/norm.js';
export type { BatchNormOptions, NormalizeOptions } from './functional/norm.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, pad, interpolate } from './functional/pool.js';
export type { MaxPool2dOptions, AvgPool2dOptions, PadOptions, InterpolateOptions } from './functional/pool.js';
export { relu, logSoftmax, softmax, sigmoid, tanh, gelu, silu, leakyRelu, hardtanh, relu6, softplus, softplusOf, elu, dropout } from './functional/activations.js';
export type { GeluOptions, SoftplusOptions, DropoutOptions } from './functional/activations.js';
export { mseLoss, l1Loss, smoothL1Loss, binaryCrossEntropy, binaryCrossEntropyWithLogits, nllLoss, crossEntropy } from './functional/losses.js';
export type { Reduction, LossOptions, SmoothL1Options, BceOptions, BceWithLogitsOptions, Labels, NllLossOptions, CrossEntropyOptions } from './functional/losses.js';
export { oneHot } from './ops-extra.js';
