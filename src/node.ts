// gpugrad for Node: the whole portable API (index.ts) plus what needs the file system or Node's libraries:
// weights by path, image files, the MNIST package and IDX datasets. Reached as `gpugrad/node`, and as `gpugrad`
// itself when the resolver uses the `node` export condition (Node, tsx, vitest, bundlers targeting Node).
export * from './index.js';
export { loadSafetensors, saveSafetensors, loadTorchStateDict } from './io/node.js';
export { readImage, decodeImage, encodePng } from './io/image.js';
export { readIdx, loadIdxPair, loadIdxDir, loadMnistPackage, type IdxArray } from './data/index.js';
