#!/usr/bin/env node
// The gpugrad command line (placeholder until the training demo lands): a forward/backward smoke run.
import { F, getBackend, manualSeed, randn } from '../index.js';

manualSeed(0);
const x = randn([1, 3, 32, 32]);
const w = randn([8, 3, 3, 3], { requiresGrad: true });
const t0 = performance.now();
const loss = F.crossEntropy(F.adaptiveAvgPool2d(F.conv2d(x, w, null, { padding: 1 }), 1).flatten(1), [3]);
loss.backward();
console.log(`backend ${getBackend()}: loss ${(await loss.item()).toFixed(4)}, |grad| sum ${(await w.grad!.abs().sum().item()).toFixed(4)}, ${(performance.now() - t0).toFixed(1)} ms`);
