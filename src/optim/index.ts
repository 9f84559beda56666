// optim: SGD, Adam, AdamW and learning-rate schedules, with torch.optim's update rules.
export { Optimizer, type OptimizerStateDict, type ParamState } from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { LRScheduler, StepLR, CosineAnnealingLR } from './scheduler.js';
