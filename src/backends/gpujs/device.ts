// The gpu.js adapter's device: one gpu.js instance in one mode, its kernel cache, and the storages it hands out
// (host arrays on cpu/webasm, textures on GL). Runs one kernel spec into a new storage, guarding gpu.js's silent
// failures on the way in: flat indices at or above 2^24, empty inputs, kernel-map outputs off GL. The ops
// (ops.ts, gemm.ts, host.ts) are written against this class; the Backend class (backend.ts) schedules them.
import { GPU, type Texture } from 'gpu.js';
import type { Backend, Storage } from '../../backend.js';
import { fail } from '../../errors.js';
import { K, KernelCache, type Arg } from './compile.js';
import { textureSize } from './internals.js';
import { isGLMode, type GpujsMode } from './modes.js';
import type { Step } from './schedule.js';
import type { KernelSpec } from '../../../kernels/gpujs/common.js';

/**
 * Flat indices are f32 inside gpu.js kernels on webasm/GL/webgpu: at 2^24 they stop being exact and reads
 * land on neighbours. No kernel here sees a tensor of this many elements; larger work is tiled.
 */
export const FLAT_INDEX_LIMIT = 2 ** 24;

const EMPTY_STANDIN = new Float32Array(1);

/**
 * A gpu.js buffer: host array (cpu/webasm, and tensors too large for any kernel) or a device texture. On the
 * asynchronous modes a storage is handed out before its kernel has run (both null until then); `error` holds
 * what made that kernel fail, reported by every later use.
 */
export class GpujsStorage implements Storage {
  error: unknown = null;
  freed = false;
  constructor(
    readonly owner: Backend,
    readonly size: number,
    public host: Float32Array | null,
    public tex: Texture | null,
  ) {}
}

export class Device {
  readonly gl: boolean;
  readonly gpu: GPU;
  readonly kernels: KernelCache;
  /** Storages alive (textures or host arrays), to prove release() frees them. */
  live = 0;
  /** Raises the index limit's stand-in for tests (never above the real limit). */
  indexLimit = FLAT_INDEX_LIMIT;
  /** Why this backend does not run (or did not start) as asked: the first reason; null when it does. */
  fallbackReason: string | null = null;
  private warned = false;

  /** `owner` is the backend the storages name in errors. */
  constructor(
    readonly owner: Backend,
    readonly mode: GpujsMode,
    threads: number,
  ) {
    this.gl = isGLMode(mode);
    this.gpu = new GPU({ mode });
    this.kernels = new KernelCache(this.gpu, mode, threads, (why) => this.degraded(why));
  }

  /** Records a reason to fall back (the first one stays) and says it once per backend. */
  degraded(why: string): void {
    this.fallbackReason ??= why;
    this.warn(why);
  }

  warn(msg: string): void {
    if (this.warned) return;
    this.warned = true;
    console.warn(`gpugrad: ${msg}`);
  }

  // ---- storages ----

  make(size: number, host: Float32Array | null, tex: Texture | null): GpujsStorage {
    this.live++;
    return new GpujsStorage(this.owner, size, host, tex);
  }

  free(g: GpujsStorage): void {
    if (g.freed) return;
    g.freed = true;
    if (g.tex) g.tex.delete();
    g.tex = null;
    g.host = null;
    this.live--;
  }

  /** `dst` takes over `src`'s buffer (an optimizer's new values, or a deferred operation's result). */
  swap(dst: Storage, src: GpujsStorage): void {
    const d = dst as GpujsStorage;
    if (d.size !== src.size) fail('gpujs', `internal: a result of ${src.size} elements for a storage of ${d.size}`);
    if (d.tex) d.tex.delete();
    d.tex = src.tex;
    d.host = src.host;
    this.live--; // `src` was only a carrier; its buffer now belongs to `dst`
  }

  /** The storage, checked: not released, and its kernel did not fail (that error is reported again here). */
  checked(s: Storage): GpujsStorage {
    const g = s as GpujsStorage;
    if (g.error !== null) throw g.error;
    if (g.freed) fail('gpujs', 'storage used after release');
    return g;
  }

  /** A storage as a kernel argument. */
  arg(s: Storage): Arg {
    const g = this.checked(s);
    if (g.tex) return g.tex;
    if (g.host) return g.host;
    return fail('gpujs', 'internal: storage read before its kernel ran');
  }

  /** A storage's values on the host (GL: read back). */
  hostOf(s: Storage): Float32Array {
    const g = this.checked(s);
    if (g.host) return g.host;
    if (g.tex) return (g.tex.toArray() as Float32Array).subarray(0, g.size);
    return fail('gpujs', 'internal: storage read before its kernel ran');
  }

  bytes(s: Storage): number {
    const g = s as GpujsStorage;
    if (g.tex) {
      // Single-precision gpu.js textures hold one float per RGBA texel.
      const [w, h] = textureSize(g.tex);
      return w * h * 16;
    }
    return g.size * 4;
  }

  /** Whether any of these sizes reaches the flat-index limit (then the work is tiled or runs on the host). */
  isBig(...sizes: number[]): boolean {
    return sizes.some((n) => n >= this.indexLimit);
  }

  // ---- kernels into storages ----

  /** Runs a kernel and wraps its result. Inputs/outputs must be below the flat-index limit. */
  *run(spec: KernelSpec, argsIn: readonly Arg[]): Step<GpujsStorage> {
    if (spec.output >= this.indexLimit) fail(`gpujs ${spec.op}`, `internal: kernel output of ${spec.output} elements reaches the flat-index limit`);
    if (spec.output === 0) return this.make(0, new Float32Array(0), null);
    // gpu.js rejects empty arrays; a kernel with an empty input never reads it (its loops run zero times).
    const args = argsIn.map((a) => (a instanceof Float32Array && a.length === 0 ? EMPTY_STANDIN : a));
    const out = yield* this.kernels.run<Float32Array | Texture>(spec, args);
    if (out instanceof Float32Array) return this.make(spec.output, out.length === spec.output ? out : out.slice(0, spec.output), null);
    if (Array.isArray(out)) return this.make(spec.output, Float32Array.from(out as number[]), null);
    return this.make(spec.output, null, out as Texture);
  }

  /** GL: runs a kernel map; its outputs in order (the returned value, then each sub-kernel's in spec order). */
  *runMap(spec: KernelSpec, args: readonly Arg[]): Step<GpujsStorage[]> {
    if (!this.gl || !spec.subKernels) fail(`gpujs ${spec.op}`, 'internal: kernel maps run on the GL modes only');
    if (spec.output >= this.indexLimit) fail(`gpujs ${spec.op}`, `internal: kernel output of ${spec.output} elements reaches the flat-index limit`);
    const out = yield* this.kernels.run<Record<string, Texture>>(spec, args);
    return ['result', ...Object.keys(spec.subKernels)].map((nm) => this.make(spec.output, null, out[nm]));
  }

  /** Wraps a host array (a host result or a tiled assembly) as a storage: on GL uploaded through a copy kernel. */
  *fromHost(a: Float32Array): Step<GpujsStorage> {
    if (this.gl && a.length < this.indexLimit && a.length > 0) return yield* this.run(K.copy(a.length), [a]);
    return this.make(a.length, a, null);
  }

  /** `size` copies of `value` (host-side modes and non-finite values: a host array). */
  *fill(size: number, value: number): Step<GpujsStorage> {
    if (!this.gl || !Number.isFinite(value) || this.isBig(size)) return yield* this.fromHost(new Float32Array(size).fill(value));
    return yield* this.run(K.fill(value, size), []);
  }

  destroy(): void {
    this.kernels.destroy();
    this.gpu.destroy();
  }
}
