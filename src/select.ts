// Picks the default backend by expected speed, not by what is present: an explicit GPUGRAD_BACKEND (Node), else
// gpu.js on a hardware GPU context (webgpu where the browser offers it, else webgl2), else our wasm SIMD tier on
// the CPU (threaded where memory can be shared), else gpu.js's portable modes — and records why, in words that
// fit the host (a page, a Web Worker, Node).
import type { DefaultChoice } from './backend.js';
import { defaultWasmThreads, wasmAvailable, wasmRelaxedDefault, wasmThreadsAvailable } from './backends/wasm.js';
import { parseBackendLabel } from './backends/registry.js';
import { envVar, host, sharedMemoryWhyNot, type Host } from './platform.js';

/** What the choice depends on; probed from the runtime, or given by tests. */
export interface SelectEnvironment {
  host: Host;
  /** GPUGRAD_BACKEND (Node only). */
  backendVar?: string;
  /** The WebGL2 renderer string (unmasked where the browser allows), null without a WebGL2 context, undefined outside browsers. */
  glRenderer?: string | null;
  /** Whether navigator.gpu exists (a browser offering WebGPU). */
  webgpu?: boolean;
  wasm: boolean;
  /** Why wasm threads cannot share memory here, or null when they can. */
  threadsWhyNot: string | null;
  threads: number;
}

/**
 * Software rasterisers: a WebGL context on one of these runs shaders on the CPU, far slower than the wasm tier
 * (~19× on ResNet-18 with Chromium's SwiftShader).
 */
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render driver|mesa offscreen/i;

/** The WebGL2 renderer string of this browser page or worker, null without WebGL2. */
function probeGlRenderer(h: Host): string | null | undefined {
  if (h !== 'page' && h !== 'worker') return undefined;
  type GL = { getExtension(n: string): unknown; getParameter(p: number): unknown; RENDERER: number };
  const g = globalThis as { document?: { createElement(t: string): { getContext(k: string): unknown } }; OffscreenCanvas?: new (w: number, h: number) => { getContext(k: string): unknown } };
  try {
    const canvas = g.document ? g.document.createElement('canvas') : g.OffscreenCanvas ? new g.OffscreenCanvas(1, 1) : null;
    const gl = canvas?.getContext('webgl2') as GL | null | undefined;
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info') as { UNMASKED_RENDERER_WEBGL: number } | null;
    const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
    (gl.getExtension('WEBGL_lose_context') as { loseContext(): void } | null)?.loseContext(); // browsers cap live contexts
    return renderer;
  } catch {
    return null;
  }
}

/** Probes this runtime. */
export function probeEnvironment(): SelectEnvironment {
  const h = host();
  return {
    host: h,
    backendVar: h === 'node' ? envVar('GPUGRAD_BACKEND') : undefined,
    glRenderer: probeGlRenderer(h),
    webgpu: h !== 'node' && !!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu,
    wasm: wasmAvailable(),
    threadsWhyNot: wasmThreadsAvailable() ? null : sharedMemoryWhyNot(),
    threads: defaultWasmThreads(),
  };
}

function fromVariable(v: string): DefaultChoice {
  // 'wasm:threads2', 'gpujs:webasm', 'gpujs:webasm:threads2' (the label syntax of src/backends/registry.ts).
  // The wasm pool boots in the background of a synchronous first use (WasmBackend.open): no separate sync options.
  const { name, options } = parseBackendLabel(v);
  return { name, options: name === 'wasm' ? { ...options, relaxed: options.relaxed ?? wasmRelaxedDefault() } : options, reason: `GPUGRAD_BACKEND=${v}` };
}

/** Whether the GPU context is hardware, and the words for the reason. */
function gpuVerdict(env: SelectEnvironment): { hardware: boolean; detail: string } {
  const where = env.host === 'worker' ? 'this Web Worker' : 'this page';
  if (env.host === 'node') return { hardware: false, detail: "Node: headless-gl cannot tell a GPU from a software renderer; opt in with GPUGRAD_BACKEND=gpujs:headlessgl" };
  if (env.glRenderer === undefined) return { hardware: false, detail: 'no WebGL in this runtime' };
  if (env.glRenderer === null) return { hardware: false, detail: `no WebGL2 context in ${where}` };
  if (SOFTWARE_RENDERER.test(env.glRenderer)) return { hardware: false, detail: `the WebGL2 renderer of ${where} is a software rasteriser (${env.glRenderer}), slower than WebAssembly` };
  if (!env.glRenderer.trim()) return { hardware: false, detail: `the WebGL2 renderer of ${where} is not reported, so it may be software` };
  return { hardware: true, detail: `hardware WebGL2 renderer (${env.glRenderer})` };
}

export function chooseDefaultBackend(env: SelectEnvironment = probeEnvironment()): DefaultChoice {
  if (env.backendVar) return fromVariable(env.backendVar);
  const gpu = gpuVerdict(env);
  if (gpu.hardware) {
    // gpu.js's webgpu mode starts asynchronously; a synchronous first use takes webgl2 on the same GPU.
    if (env.webgpu) return { name: 'gpujs', options: { mode: 'webgpu' }, syncOptions: { mode: 'webgl2' }, reason: `GPU: ${gpu.detail} and WebGPU available` };
    return { name: 'gpujs', options: { mode: 'webgl2' }, reason: `GPU: ${gpu.detail}` };
  }
  if (env.wasm) {
    const threads = env.threadsWhyNot === null ? env.threads : 1;
    const why = env.threadsWhyNot === null ? '' : ` (one thread: ${env.threadsWhyNot})`;
    const relaxed = wasmRelaxedDefault();
    const simd = relaxed ? 'relaxed SIMD: fused multiply-add in eval GEMMs' : 'plain SIMD128: relaxed SIMD off or not validated here';
    return {
      name: 'wasm',
      // Asks for every core even where memory cannot be shared: the backend then runs one thread and its
      // backendFallbackReason() says why. A synchronous first use starts the pool in the background.
      options: { threads: env.threads, relaxed },
      reason: `no hardware GPU context (${gpu.detail}); WebAssembly SIMD available (${simd}), ${threads} thread${threads > 1 ? 's' : ''}${why}`,
    };
  }
  return { name: 'gpujs', options: {}, reason: `no hardware GPU context (${gpu.detail}) and no WebAssembly SIMD` };
}
