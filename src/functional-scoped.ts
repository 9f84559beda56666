// The F namespace users import: functional.ts with each composite function run in its own tidy scope, so a call
// made outside any module or tidy() (a loss in a training loop, say) frees its intermediates on return instead of
// leaving them for the garbage collector. Whatever a graph still needs for backward stays (see lifetime.ts).
import { scoped } from './engine.js';
import * as impl from './functional.js';

export * from './functional.js';
export const conv2d = scoped(impl.conv2d);
export const conv2dAffine = scoped(impl.conv2dAffine);
export const unfold = scoped(impl.unfold);
export const batchNorm2d = scoped(impl.batchNorm2d);
export const adaptiveAvgPool2d = scoped(impl.adaptiveAvgPool2d);
export const linear = scoped(impl.linear);
export const logSoftmax = scoped(impl.logSoftmax);
export const softmax = scoped(impl.softmax);
export const crossEntropy = scoped(impl.crossEntropy);
export const mseLoss = scoped(impl.mseLoss);
// Issue #18's composites (functional-extra.ts).
export const gelu = scoped(impl.gelu);
export const silu = scoped(impl.silu);
export const leakyRelu = scoped(impl.leakyRelu);
export const hardtanh = scoped(impl.hardtanh);
export const relu6 = scoped(impl.relu6);
export const softplus = scoped(impl.softplus);
export const elu = scoped(impl.elu);
export const dropout = scoped(impl.dropout);
export const pad = scoped(impl.pad);
export const interpolate = scoped(impl.interpolate);
export const convTranspose2d = scoped(impl.convTranspose2d);
export const layerNorm = scoped(impl.layerNorm);
export const groupNorm = scoped(impl.groupNorm);
export const normalize = scoped(impl.normalize);
export const l1Loss = scoped(impl.l1Loss);
export const smoothL1Loss = scoped(impl.smoothL1Loss);
export const binaryCrossEntropy = scoped(impl.binaryCrossEntropy);
export const binaryCrossEntropyWithLogits = scoped(impl.binaryCrossEntropyWithLogits);
export const nllLoss = scoped(impl.nllLoss);
