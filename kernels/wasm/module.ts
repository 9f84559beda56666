// Builds gpugrad's wasm kernel module (GEMM, elementwise, im2col, batch norm, permute, optimizer updates) over one
// imported linear memory, and lists its kernels by name with their signatures (KERNELS), the names callers may use.
import type { ArgsOf, KernelFn } from './abi.js';
import { Func, ModuleBuilder, V128 } from './emit.js';
import { addGemmKernels, GEMM_KERNELS } from './gemm.js';
import { addConvPackKernels, CONVPACK_KERNELS } from './convpack.js';
import { addElementwiseKernels, ELEMENTWISE_KERNELS } from './elementwise.js';
import { addWindowKernels, WINDOW_KERNELS } from './window.js';
import { addOptimKernels, OPTIM_KERNELS } from './optim.js';
import { addBatchNormKernels, BATCHNORM_KERNELS } from './batchnorm.js';
import { addLayoutKernels, LAYOUT_KERNELS } from './layout.js';
import { addWinogradKernels, WINOGRAD_KERNELS } from './winograd.js';
import { addMaxPoolKernels, MAXPOOL_KERNELS } from './maxpool.js';
import { addCol2imKernels, COL2IM_KERNELS } from './col2im.js';

/** Every kernel the module exports, by name, with its signature (kernels/wasm/abi.ts). */
export const KERNELS = { ...GEMM_KERNELS, ...CONVPACK_KERNELS, ...ELEMENTWISE_KERNELS, ...WINDOW_KERNELS, ...OPTIM_KERNELS, ...BATCHNORM_KERNELS, ...LAYOUT_KERNELS, ...WINOGRAD_KERNELS, ...MAXPOOL_KERNELS, ...COL2IM_KERNELS };
export type KernelName = keyof typeof KERNELS;
/** The named arguments of a call of kernel K. */
export type KernelArgs<K extends KernelName> = ArgsOf<(typeof KERNELS)[K]>;
/** A module instance's kernels (gemm_fma and the wino_bandf_* drivers only in a relaxed module: see inModule). */
export type Kernels = { readonly [K in KernelName]: KernelFn };
/** Whether a module built with `relaxed` exports kernel `name`: the fused multiply-add GEMM and its callers need relaxed SIMD. */
export function inModule(name: KernelName, relaxed: boolean): boolean {
  return relaxed || !(name === 'gemm_fma' || name.startsWith('wino_bandf_'));
}

/**
 * The whole 4 GiB wasm32 space (training at 224² needs more than 2 GiB). Pointers above 2 GiB reach the
 * kernels as negative i32 parameters, which wasm addresses as unsigned, so only JS must use `>>>`.
 */
export const MAX_PAGES = 65536;

/** `relaxed`: multiply-add-heavy kernels use relaxed SIMD's fused multiply-add (see relaxedSimdAvailable). */
export function buildKernelModule(shared: boolean, initialPages: number, relaxed = false): Uint8Array<ArrayBuffer> {
  const mb = new ModuleBuilder({ module: 'env', name: 'mem', initialPages, maximumPages: MAX_PAGES, shared });
  addGemmKernels(mb, relaxed);
  addConvPackKernels(mb);
  addElementwiseKernels(mb);
  addWindowKernels(mb);
  addOptimKernels(mb);
  addBatchNormKernels(mb);
  addLayoutKernels(mb);
  addWinogradKernels(mb, relaxed);
  addMaxPoolKernels(mb);
  addCol2imKernels(mb);
  return mb.encode();
}

/**
 * Whether this engine validates relaxed SIMD (f32x4.relaxed_madd): Chromium does by default, Node 20 only
 * with --experimental-wasm-relaxed-simd.
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxedCache === null) {
    try {
      const f = new Func([V128, V128, V128], [V128]).get(0).get(1).get(2).f32x4RelaxedMadd();
      const mb = new ModuleBuilder({ module: 'env', name: 'mem', initialPages: 1, maximumPages: 1, shared: false });
      mb.add('madd', f);
      relaxedCache = typeof WebAssembly === 'object' && WebAssembly.validate(mb.encode());
    } catch {
      relaxedCache = false;
    }
  }
  return relaxedCache;
}
let relaxedCache: boolean | null = null;

/**
 * Turns relaxed SIMD on in Node when the engine has it behind a flag (Node 20: --experimental-wasm-relaxed-simd),
 * through v8.setFlagsFromString before any module needs it; elsewhere only reports. Returns whether relaxed
 * SIMD validates now.
 */
export function enableRelaxedSimd(): boolean {
  if (relaxedSimdAvailable()) return true;
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const v8 = p?.getBuiltinModule?.('node:v8') as { setFlagsFromString?: (flags: string) => void } | undefined;
  if (!v8?.setFlagsFromString) return false;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  relaxedCache = null;
  return relaxedSimdAvailable();
}
