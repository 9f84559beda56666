// Every place the gpu.js adapter reaches past gpu.js 2.24's typed API, as typed accessors, each with why it is
// needed. gpu.js's .d.ts omits fields we must read or set (a kernel's inner object, its worker pool, a webasm
// kernel's wasm memories, a texture's dims, the GL context), so the casts that reach them live here and nowhere
// else in src/: a gpu.js upgrade is checked against this one file.
import { GPU, Input, WebAssemblyKernel, type IKernelRunShortcut, type Texture } from 'gpu.js';
import * as gpujsModule from 'gpu.js';

/** gpu.js's settings object for createKernel (and createKernelMap, whose typings take a narrower one). */
export type KernelSettings = NonNullable<Parameters<GPU['createKernel']>[1]>;

/** gpu.js's worker pool behind a threaded webasm kernel (asyncMode with poolSize > 1). */
export interface WorkerPool {
  dispatchCount: number;
  liveWorkerCount: number;
}

/**
 * The kernel object behind a compiled kernel's run shortcut (`shortcut.kernel`): its class tells which mode it
 * actually runs in, and gpu.js records there why it fell back; the other fields belong to the webasm kernel.
 */
export interface InnerKernel {
  constructor: unknown;
  fallbackReason?: string | null;
  /** Threaded webasm: the kernel's worker pool (one per kernel unless we share it). */
  _pool?: WorkerPool | null;
  /** webasm: one wasm module, instance and memory per argument-size entry, kept between calls. */
  _moduleCache?: Map<string, unknown>;
  _active?: unknown;
  _releaseEntry?(entry: unknown): void;
  /** webasm: splits the flat result buffer into per-thread subarrays for Array(4) outputs. */
  _shapeOutput?: (data: Float32Array) => unknown;
}

/**
 * Compiles a kernel, or a kernel map where there are sub-kernels (extra render targets). createKernelMap's
 * typings want function objects and a narrower settings type, and name its return type differently, although
 * it takes sources and returns the same callable shortcut.
 */
export function compileKernel(gpu: GPU, source: string, settings: KernelSettings, subKernels?: Record<string, string>): IKernelRunShortcut {
  if (!subKernels) return gpu.createKernel(source, settings);
  return gpu.createKernelMap(subKernels as never, source as never, settings as never) as unknown as IKernelRunShortcut;
}

/** Calls a compiled kernel. The shortcut is callable at run time; its typings only describe its methods. */
export function invokeKernel<R>(k: IKernelRunShortcut, args: readonly unknown[]): R | Promise<R> {
  return (k as unknown as (...a: unknown[]) => R | Promise<R>)(...args);
}

/** The kernel object behind a shortcut (absent from gpu.js's typings); undefined before gpu.js built it. */
export function innerKernel(k: IKernelRunShortcut): InnerKernel | undefined {
  return (k as unknown as { kernel?: InnerKernel }).kernel;
}

/** A class gpu.js exports by name (its kernel classes, found by identity since bundlers rename classes). */
export function gpujsExport(name: string): unknown {
  return (gpujsModule as unknown as Record<string, unknown>)[name];
}

/** Whether webasm can run threaded: gpu.js answers on WebAssemblyKernel, a static its typings omit. */
export function webasmThreadsSupported(): boolean {
  return (WebAssemblyKernel as unknown as { isThreadsSupported: boolean }).isThreadsSupported === true;
}

/**
 * gpu.js shares one device among all its webgpu kernels, acquired through WebGPUContext (exported, untyped); taking
 * it up front makes a failure surface where we can report it.
 */
export function acquireWebGPUDevice(): Promise<unknown> {
  return (gpujsModule as unknown as { WebGPUContext: { acquire(): Promise<unknown> } }).WebGPUContext.acquire();
}

/** A texture's output dims (part of the kernel's compiled argument sizes; untyped on Texture). */
export function textureOutput(t: Texture): number[] {
  return (t as unknown as { output: number[] }).output;
}

/** A texture's allocated texel width and height (untyped on Texture), for its byte count. */
export function textureSize(t: Texture): [number, number] {
  return (t as unknown as { size: [number, number] }).size;
}

/** A host array as a 2-D kernel input. Input's typings take number[]; gpu.js reads any array-like, typed ones too. */
export function hostInput(data: Float32Array, dims: [number, number]): Input {
  return new Input(data as unknown as number[], dims);
}

/** The GL context gpu.js made for its kernels (absent from GPU's typings); undefined until a kernel ran. */
export function glContext(gpu: GPU): (WebGLRenderingContext & { MAX_DRAW_BUFFERS?: number }) | undefined {
  return (gpu as unknown as { context?: WebGLRenderingContext & { MAX_DRAW_BUFFERS?: number } }).context;
}

/**
 * gpu.js's webasm mode gives every compiled kernel its own WebAssembly.Memory. Gives the kernel's memories back;
 * gpu.js rebuilds its module from the compiled kernel on the next call (a few ms).
 */
export function releaseWasmMemories(inner: InnerKernel): void {
  const cache = inner._moduleCache;
  if (!cache || typeof inner._releaseEntry !== 'function') return;
  for (const entry of cache.values()) inner._releaseEntry(entry);
  inner._moduleCache = new Map();
  inner._active = null;
}

/** Whether a webasm kernel holds a wasm memory now. */
export function holdsWasmMemory(inner: InnerKernel | undefined): boolean {
  return (inner?._moduleCache?.size ?? 0) > 0;
}

/**
 * A webasm Array(4) kernel returns its flat result buffer as is, instead of one subarray per thread (200k objects
 * at 64×12544, 25% of a GEMM's time): gpu.js's output shaping is replaced on the kernel object. Other classes
 * (a kernel that fell back) and kernels already overridden are left alone.
 */
export function returnFlatOutput(k: IKernelRunShortcut): void {
  const inner = innerKernel(k);
  if (!inner || inner.constructor !== (WebAssemblyKernel as unknown) || typeof inner._shapeOutput !== 'function') return;
  if (Object.prototype.hasOwnProperty.call(inner, '_shapeOutput')) return;
  inner._shapeOutput = (data: Float32Array): Float32Array => data;
}
