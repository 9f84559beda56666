// gpu.js's modes: which can run here (honestly: the package loads and a context can be made), the fastest one,
// Node's webgpu shim, the one-GL-user-per-process rule between headless-gl and Dawn, and the words of every
// fallback reason. Mode checks work in bundles: kernel classes are compared by identity, never by name.
import { GPU } from 'gpu.js';
import { fail } from '../../errors.js';
import { acquireWebGPUDevice, gpujsExport, webasmThreadsSupported } from './internals.js';

export type GpujsMode = 'cpu' | 'webasm' | 'headlessgl' | 'webgl2' | 'webgl' | 'webgpu';

/**
 * gpu.js's kernel class per mode, to detect a silent degrade to another mode. Kernels are identified by the
 * class object that gpu.js exports under this name, never by `constructor.name`: bundlers rename classes
 * (esbuild gives `WebAssemblyKernel2`, minifiers `e`).
 */
export const kernelClass: Record<GpujsMode, string> = {
  cpu: 'CPUKernel',
  webasm: 'WebAssemblyKernel',
  headlessgl: 'HeadlessGLKernel',
  webgl2: 'WebGL2Kernel',
  webgl: 'WebGLKernel',
  webgpu: 'WebGPUKernel',
};

/** The canonical class name (a kernelClass value) of a compiled kernel's class, by identity. */
export function kernelClassName(ctor: unknown): string {
  for (const name of Object.values(kernelClass)) if (gpujsExport(name) === ctor) return name;
  return `an unexpected kernel class (${(ctor as { name?: string }).name || 'anonymous'})`;
}

export function isGLMode(mode: GpujsMode): boolean {
  return mode === 'headlessgl' || mode === 'webgl2' || mode === 'webgl';
}

/**
 * Which of two GL users holds this Node process's OpenGL, where they cannot share it: headless-gl (a GLX context,
 * made by gpu.js's first support check) and the webgpu shim's Dawn device on its OpenGL ES backend. On Mesa each
 * makes its context current on the main thread, and the second fails: Dawn finds no adapter (eglMakeCurrent gives
 * EGL_BAD_ACCESS), or headless-gl's glXMakeCurrent raises an X error that ends the process. The first one used
 * keeps the process; the other reports itself unavailable and says why.
 */
let glHolder: 'headlessgl' | 'dawn-gles' | null = null;
const HELD_BY_DAWN = "the webgpu mode's Dawn OpenGL ES device already holds this process's GL; one process runs one of the two";
const HELD_BY_GL = "headless-gl already holds this process's GL, and Dawn's OpenGL ES backend cannot make a context current beside it; one process runs one of the two";

/** Why headlessgl cannot run here (for fallback messages). */
function headlessglWhy(): string {
  return glHolder === 'dawn-gles' ? HELD_BY_DAWN : "the optional 'gl' package did not load or no display";
}

/** Why webgpu cannot run here (for fallback messages). */
function webgpuUnavailableWhy(): string {
  if (webgpuWhy) return webgpuWhy;
  return typeof process !== 'undefined' ? "no navigator.gpu in Node until `await installWebGPU()` (setBackend('gpujs', { mode: 'webgpu' }) does it)" : 'no navigator.gpu';
}

/** Whether a mode can run here (honest: the package loads and a context can be made). */
export function gpujsModeAvailable(mode: GpujsMode): boolean {
  // Lets CI prove the fallback when the optional packages are installed anyway.
  if (typeof process !== 'undefined' && process.env.GPUGRAD_GPUJS_NO_OPTIONAL === '1' && (mode === 'headlessgl' || mode === 'webgpu')) return false;
  try {
    switch (mode) {
      case 'cpu':
        return true;
      case 'webasm':
        return GPU.isWebAssemblySupported;
      case 'headlessgl':
        if (glHolder === 'dawn-gles') return false;
        if (!(GPU.isHeadlessGLSupported && GPU.isSinglePrecisionSupported)) return false;
        glHolder ??= 'headlessgl'; // gpu.js's check made a GL context, and it stays
        return true;
      case 'webgl2':
        return GPU.isWebGL2Supported;
      case 'webgl':
        return GPU.isWebGLSupported;
      case 'webgpu':
        return GPU.isWebGPUSupported;
    }
  } catch {
    return false;
  }
}

/**
 * gpu.js's webgpu mode looks only for `navigator.gpu`. Node has none; the optional `webgpu` package (Dawn) gives
 * one. Dawn's default backends come first (Vulkan, Metal, D3D12: a real GPU); on a machine without one it works on
 * its OpenGL ES backend over Mesa, with a surfaceless EGL display and adapters requested at feature level
 * 'compatibility'. Installs that shim once and takes gpu.js's shared device; resolves null when webgpu kernels can
 * run, else the reason they cannot.
 */
let webgpuInstall: Promise<string | null> | null = null;
let webgpuWhy: string | null | undefined; // the settled answer, for synchronous fallback messages
export function installWebGPU(): Promise<string | null> {
  webgpuInstall ??= (async (): Promise<string | null> => {
    const g = globalThis as { navigator?: { gpu?: unknown }; process?: { env: Record<string, string | undefined> } };
    if (g.process?.env.GPUGRAD_GPUJS_NO_OPTIONAL === '1') return 'optional packages disabled (GPUGRAD_GPUJS_NO_OPTIONAL=1)';
    if (!g.navigator?.gpu) {
      if (!g.process) return 'no navigator.gpu in this browser';
      type Gpu = { requestAdapter(o?: object): Promise<unknown> };
      let gpu: Gpu;
      try {
        g.process.env.EGL_PLATFORM ??= 'surfaceless';
        const pkg = 'webgpu'; // not a literal: the optional package may be absent when this is compiled
        const dawn = (await import(/* @vite-ignore */ pkg)) as { create(flags: string[]): Gpu; globals: object };
        Object.assign(globalThis, dawn.globals);
        gpu = dawn.create([]);
        if (!(await gpu.requestAdapter())) {
          if (glHolder === 'headlessgl') return `no GPU adapter, and ${HELD_BY_GL}`;
          gpu = dawn.create(['backend=opengles']);
          const request = gpu.requestAdapter.bind(gpu);
          gpu.requestAdapter = (o: object = {}): Promise<unknown> => request({ featureLevel: 'compatibility', ...o });
          glHolder = 'dawn-gles';
        }
      } catch (e) {
        return `the optional 'webgpu' package did not load (${(e as Error).message.split('\n')[0]}); in Node the webgpu mode needs 'npm install webgpu@0.6.2'`;
      }
      if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
    }
    try {
      // gpu.js shares one device among all its webgpu kernels; take it now so a failure is reported here.
      await acquireWebGPUDevice();
      return null;
    } catch (e) {
      // The whole first line: a sentence split at '.' cut names like 'navigator.gpu' in half.
      return `navigator.gpu failed: ${(e as Error).message.split('\n')[0]}`;
    }
  })().then((why) => (webgpuWhy = why));
  return webgpuInstall;
}

/** Whether gpu.js's webasm mode can split kernels over worker threads here. */
export function gpujsThreadsAvailable(): boolean {
  try {
    return GPU.isWebAssemblySupported && webasmThreadsSupported();
  } catch {
    return false;
  }
}

/** The fastest mode that runs here (measured order: GL beats webasm beats cpu on every machine we ran). */
export function fastestGpujsMode(): GpujsMode {
  for (const m of ['webgl2', 'headlessgl', 'webasm'] as const) if (gpujsModeAvailable(m)) return m;
  return 'cpu';
}

/** The mode and thread count a backend runs with, and why that differs from the request (first reason first). */
export interface ResolvedMode {
  mode: GpujsMode;
  threads: number;
  fallbacks: string[];
}

/** Checks a request (unknown modes and bad thread counts throw) and falls back where it cannot run here. */
export function resolveMode(requested: string | undefined, threadsIn: number): ResolvedMode {
  let mode = (requested ?? fastestGpujsMode()) as GpujsMode;
  let threads = threadsIn;
  if (!(mode in kernelClass)) fail('setBackend', `gpujs mode '${requested}' is not one of ${Object.keys(kernelClass).join(', ')}`);
  if (!Number.isInteger(threads) || threads < 1) fail('setBackend', `gpujs threads must be a positive integer, got ${threads}`);
  if (threads > 1 && mode !== 'webasm') fail('setBackend', `gpujs threads apply to mode 'webasm' only, got mode '${mode}' with threads ${threads}`);
  const fallbacks: string[] = [];
  if (!gpujsModeAvailable(mode)) {
    const to = fastestGpujsMode();
    fallbacks.push(`gpujs mode '${mode}' is not available here (${mode === 'headlessgl' ? headlessglWhy() : mode === 'webgpu' ? webgpuUnavailableWhy() : 'not supported'}); using '${to}'`);
    mode = to;
  }
  if (threads > 1 && (mode !== 'webasm' || !gpujsThreadsAvailable())) {
    fallbacks.push(`gpujs webasm threads are not available here (${mode !== 'webasm' ? `running '${mode}'` : 'no SharedArrayBuffer or worker threads'}); running on the calling thread`);
    threads = 1;
  }
  return { mode, threads, fallbacks };
}
