// The wasm backend's options and what this runtime offers it: whether wasm SIMD runs at all, whether workers
// can share the heap, the default thread count and whether relaxed SIMD's fused multiply-add is on by default.
import { buildKernelModule, enableRelaxedSimd, relaxedSimdAvailable } from '../../kernels/wasm/module.js';
import { hardwareThreads, sharedMemoryWhyNot } from '../platform.js';

export interface WasmBackendOptions {
  /** Threads including the calling one; 1 runs everything on the calling thread. */
  threads?: number;
  /** Cap on the heap in bytes (default and maximum: 4 GiB, all wasm32 can address); e.g. for a page that must stay small. */
  maxBytes?: number;
  /**
   * Fused multiply-add GEMMs (relaxed SIMD): the eval path's, and training's as fmaTraining says;
   * default: wasmRelaxedDefault().
   */
  relaxed?: boolean;
  /**
   * With `relaxed`, which of training's GEMMs are fused: true (the default) every one; 'gradients' only those
   * backward()'s gradient rules issue (the forward keeps the plain kernel, GPUGRAD_WASM_RELAXED=gradients);
   * false none. Results differ by rounding only; a ReLU input within float32 rounding of zero may then take the
   * other side, as between any two float32 implementations (test/resnet.test.ts's fixture is chosen so that
   * none is: scripts/fixtures_resnet.py --check-seeds).
   */
  fmaTraining?: boolean | 'gradients';
  /**
   * Keep eval-mode conv weights packed for the GEMM between calls (default true; GPUGRAD_WASM_PREPACK=0 turns
   * it off): saves a pass over every weight per forward, at the cost of a packed copy of them (~the model's size).
   */
  prepack?: boolean;
  /**
   * Winograd F(2×2,3×3) for 3×3 stride-1 convolutions: 'auto' (default) for eval convs and training's input
   * gradients where measured faster than the GEMM path (winogradWins, winogradGradWins in
   * src/backends/wasm-winograd.ts); 'on' wherever eligible, training's forward included; 'off' never.
   * Default: GPUGRAD_WASM_WINOGRAD (on|off|auto), else 'auto'.
   */
  winograd?: 'auto' | 'on' | 'off';
}

/** The Winograd mode unless told otherwise: GPUGRAD_WASM_WINOGRAD=on|off|auto, else 'auto'. */
export function wasmWinogradDefault(): 'auto' | 'on' | 'off' {
  const env = typeof process !== 'undefined' ? process.env.GPUGRAD_WASM_WINOGRAD : undefined;
  return env === 'on' || env === 'off' ? env : 'auto';
}

/**
 * Whether wasm backends use relaxed SIMD's fused multiply-add unless told otherwise: GPUGRAD_WASM_RELAXED=0
 * turns it off, =1 (or =all) turns it on (flipping Node's V8 flag if needed, see enableRelaxedSimd), =gradients
 * too but leaves training's forward GEMMs plain (WasmBackendOptions.fmaTraining); unset, it is on
 * where the engine already validates it (Chromium; Node started with --experimental-wasm-relaxed-simd).
 */
export function wasmRelaxedDefault(): boolean {
  const env = typeof process !== 'undefined' ? process.env.GPUGRAD_WASM_RELAXED : undefined;
  if (env === '0') return false;
  if (env === '1' || env === 'all' || env === 'gradients') return enableRelaxedSimd();
  return relaxedSimdAvailable();
}
export { enableRelaxedSimd, relaxedSimdAvailable };

/** Whether this runtime can run the wasm backend (WebAssembly with SIMD). */
export function wasmAvailable(): boolean {
  if (availableCache === null) {
    try {
      availableCache = typeof WebAssembly === 'object' && WebAssembly.validate(buildKernelModule(false, 1));
    } catch {
      availableCache = false;
    }
  }
  return availableCache;
}
let availableCache: boolean | null = null;

/** Whether worker threads can share the heap (SharedArrayBuffer present; in browsers, a cross-origin-isolated page). */
export function wasmThreadsAvailable(): boolean {
  return sharedMemoryWhyNot() === null;
}

/** The default thread count: the machine's cores, capped. */
export function defaultWasmThreads(): number {
  return Math.max(1, Math.min(8, hardwareThreads()));
}
