// nn: the Module base class, the standard layers and the initialisers.
export { Module, Parameter, Buffer, type LoadStateDictOptions, type LoadStateDictResult } from './module.js';
export {
  Conv2d,
  ReLU,
  Identity,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Flatten,
  Linear,
  Sequential,
  skipInit,
  initSkipped,
  type Conv2dOptions,
  type LinearOptions,
} from './layers.js';
export { BatchNorm, BatchNorm1d, BatchNorm2d, convBn, type BatchNorm2dOptions } from './batchnorm.js';
export { setBatchNormFolding, batchNormFolding } from '../functional/deferred.js';
export { invalidateFoldedBatchNorms } from './fold-epoch.js';
export { ModuleList, ModuleDict } from './containers.js';
export {
  Dropout,
  LayerNorm,
  GroupNorm,
  ConvTranspose2d,
  Upsample,
  GELU,
  SiLU,
  Sigmoid,
  Tanh,
  LeakyReLU,
  ReLU6,
  Softmax,
  CrossEntropyLoss,
  NLLLoss,
  MSELoss,
  L1Loss,
  BCEWithLogitsLoss,
  type LayerNormOptions,
  type ConvTranspose2dOptions,
} from './layers-extra.js';
export * as init from './init.js';
export { checkpoint } from './checkpoint.js';
export * as utils from './utils.js';
