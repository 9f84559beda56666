// data: datasets (the mnist package's digits, IDX files), hold-out splits and a seeded batch loader.
export { type ImageDataset, subset, splitHoldout } from './dataset.js';
export { readIdx, loadIdxPair, loadIdxDir, type IdxArray } from './idx.js';
export { loadMnistPackage } from './mnist.js';
export { DataLoader, type LoaderOptions, type Batch } from './loader.js';
