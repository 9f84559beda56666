// optim: SGD, Adam, AdamW, RMSprop, Adagrad (parameter groups, state dicts) and learning-rate schedules, with
// torch.optim's update rules.
export { Optimizer, type OptimizerStateDict, type ParamState, type ParamGroup, type ParamGroupInput, type Params, type Hyper } from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { RMSprop, Adagrad, type RmspropOptions, type AdagradOptions } from './rmsprop.js';
export {
  LRScheduler,
  StepLR,
  MultiStepLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  CosineAnnealingLR,
  OneCycleLR,
  SequentialLR,
  ReduceLROnPlateau,
  type SchedulerStateDict,
  type LinearLROptions,
  type OneCycleLROptions,
  type ReduceLROnPlateauOptions,
} from './scheduler.js';
