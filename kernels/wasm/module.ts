// Builds gpugrad's wasm kernel module (GEMM, elementwise, im2col, optimizer updates) over one imported linear memory.
import { ModuleBuilder } from './emit.js';
import { addGemmKernels } from './gemm.js';
import { addElementwiseKernels } from './elementwise.js';
import { addWindowKernels } from './window.js';
import { addOptimKernels } from './optim.js';

/** wasm32 addresses up to 4 GiB; keep below 2 GiB so pointers stay positive as i32 parameters. */
export const MAX_PAGES = 32768;

export function buildKernelModule(shared: boolean, initialPages: number): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder({ module: 'env', name: 'mem', initialPages, maximumPages: MAX_PAGES, shared });
  addGemmKernels(mb);
  addElementwiseKernels(mb);
  addWindowKernels(mb);
  addOptimKernels(mb);
  return mb.encode();
}
