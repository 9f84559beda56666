// Picks the default backend: an explicit GPUGRAD_BACKEND, else gpu.js on a hardware GPU context, else our
// wasm SIMD tier on the CPU, else gpu.js's portable modes — and records why.
import type { DefaultChoice } from './backend.js';
import { defaultWasmThreads, wasmAvailable, wasmRelaxedDefault, wasmThreadsAvailable } from './backends/wasm.js';

/**
 * A GPU context worth defaulting to. In a browser a WebGL2 context is a GPU. In Node, headless-gl reports
 * only "ANGLE" as its renderer, so a real GPU cannot be told from Mesa's software rasteriser (what Xvfb
 * gives); there the GPU path is opt-in.
 */
function detectHardwareGpu(): { mode: string | null; detail: string } {
  const g = globalThis as { document?: { createElement(tag: string): { getContext(kind: string): unknown } } };
  if (g.document) {
    try {
      if (g.document.createElement('canvas').getContext('webgl2')) return { mode: 'webgl2', detail: 'browser WebGL2' };
    } catch {
      // fall through: no usable context
    }
    return { mode: null, detail: 'browser without WebGL2' };
  }
  return { mode: null, detail: "Node: headless-gl cannot tell a GPU from a software renderer; opt in with GPUGRAD_BACKEND=gpujs:headlessgl" };
}

export function chooseDefaultBackend(): DefaultChoice {
  const env = typeof process !== 'undefined' ? process.env.GPUGRAD_BACKEND : undefined;
  if (env) {
    const [name, mode, extra] = env.split(':');
    const threadsOf = (t: string | undefined): number | undefined => (t ? Number(t.replace(/^threads/, '')) : undefined);
    // 'wasm:threads2', 'gpujs:webasm', 'gpujs:webasm:threads2'
    const options = name === 'wasm' ? { threads: threadsOf(mode), relaxed: wasmRelaxedDefault() } : mode ? { mode, ...(extra ? { threads: threadsOf(extra) } : {}) } : {};
    return { name, options, reason: `GPUGRAD_BACKEND=${env}` };
  }
  const gpu = detectHardwareGpu();
  if (gpu.mode) return { name: 'gpujs', options: { mode: gpu.mode }, reason: `GPU context available (${gpu.detail})` };
  if (wasmAvailable()) {
    const threads = wasmThreadsAvailable() ? defaultWasmThreads() : 1;
    const relaxed = wasmRelaxedDefault();
    // The same options for a synchronous first use: the pool boots in the background (WasmBackend.open).
    return {
      name: 'wasm',
      options: { threads, relaxed },
      reason: `no hardware GPU context (${gpu.detail}); WebAssembly SIMD available (${relaxed ? 'relaxed SIMD: fused multiply-add in eval GEMMs' : 'plain SIMD128: relaxed SIMD off or not validated here'}), ${threads} thread${threads > 1 ? 's' : ''}`,
    };
  }
  return { name: 'gpujs', options: {}, reason: `no hardware GPU context (${gpu.detail}) and no WebAssembly SIMD` };
}
