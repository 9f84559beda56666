// Builds gpugrad's wasm kernel module (GEMM, elementwise, im2col, batch norm, permute, optimizer updates) over one imported linear memory.
import { ModuleBuilder } from './emit.js';
import { addGemmKernels } from './gemm.js';
import { addElementwiseKernels } from './elementwise.js';
import { addWindowKernels } from './window.js';
import { addOptimKernels } from './optim.js';
import { addBatchNormKernels } from './batchnorm.js';
import { addLayoutKernels } from './layout.js';

/**
 * The whole 4 GiB wasm32 space (training at 224² needs more than 2 GiB). Pointers above 2 GiB reach the
 * kernels as negative i32 parameters, which wasm addresses as unsigned, so only JS must use `>>>`.
 */
export const MAX_PAGES = 65536;

export function buildKernelModule(shared: boolean, initialPages: number): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder({ module: 'env', name: 'mem', initialPages, maximumPages: MAX_PAGES, shared });
  addGemmKernels(mb);
  addElementwiseKernels(mb);
  addWindowKernels(mb);
  addOptimKernels(mb);
  addBatchNormKernels(mb);
  addLayoutKernels(mb);
  return mb.encode();
}
