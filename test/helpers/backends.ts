// The backends the shared op suites run on, each with its tolerance; backends add themselves here.
import { enableRelaxedSimd, GPUJS_MODES, gpujsModeAvailable, parseBackendLabel, gpujsThreadsAvailable, installWebGPU, setBackend, wasmAvailable, wasmThreadsAvailable, type BackendOptions, type GpujsMode } from '../../src/index.js';
import { it } from 'vitest';
import { f32 } from './tolerance.js';

// The wasm labels run the fused multiply-add kernels where relaxed SIMD exists (Node 20: turned on here through
// V8's flag), unless GPUGRAD_WASM_RELAXED=0; 'wasm:simd128' always runs the plain SIMD128 kernels, so one run
// covers both variants.
const relaxed = process.env.GPUGRAD_WASM_RELAXED !== '0' && enableRelaxedSimd();

export interface TestBackend {
  /** Label printed in test names, e.g. 'reference' or 'gpujs:webasm'. */
  label: string;
  name: string;
  options?: BackendOptions;
  /**
   * Allowed error for a result that sums `k` products: |got - want| <= atol + rtol·|want|.
   * float32 backends grow with the reduction length; the float64-accumulating reference stays tight.
   */
  tolerance(k: number): { atol: number; rtol: number };
  /** Whether the backend can run here (optional packages, a display, threads). */
  available(): boolean | Promise<boolean>;
  /**
   * Why NaN inputs cannot be promised to propagate here, where the platform does not keep them (set only by the
   * browser's stand-in for gpu.js's WebGPU mode: see test/browser/backends.ts); the NaN property test is then
   * reported as skipped with this reason.
   */
  nanUnkept?: string;
}


/** A test backend named by its label (src/backends/registry.ts's syntax); wasm labels default to one thread. */
function entry(label: string, tolerance: TestBackend['tolerance'], available: TestBackend['available']): TestBackend {
  const { name, options } = parseBackendLabel(label);
  return { label, name, options: name === 'wasm' ? { threads: 1, relaxed, ...options } : options, tolerance, available };
}
const exact = (): { atol: number; rtol: number } => ({ atol: 1e-6, rtol: 1e-5 });

export const testBackends: TestBackend[] = [
  entry('reference', exact, () => true),
  // The reference backend reduced to the contract's required core, every fast path composed by withDefaults():
  // only when named in GPUGRAD_TEST_BACKENDS (its own vitest project, vitest.config.ts, runs the suites on it).
  // float32 bounds: a composition stores float32 intermediates (batch norm's statistics and coefficients) where
  // the reference's own kernels keep float64 (the same compositions run on gpu.js).
  entry('reference:core-only', f32, () => named('reference:core-only')),
  // Further entries (gpujs modes, wasm) are appended by their backends' work; keep `f32` for float32 ones.
  // wasm SIMD kernels, on the calling thread and with a 2-thread worker pool (GEMMs split across threads).
  entry('wasm', f32, () => wasmAvailable()),
  entry('wasm:threads2', f32, () => wasmAvailable() && wasmThreadsAvailable()),
  entry('wasm:simd128', f32, () => wasmAvailable()),
  // Only when named in GPUGRAD_TEST_BACKENDS (the benchmark's plain-SIMD row): threads add nothing FMA-specific to check.
  entry('wasm:simd128:threads2', f32, () => named('wasm:simd128:threads2') && wasmAvailable() && wasmThreadsAvailable()),
  // gpu.js modes: GPUGRAD_GPUJS_MODES (comma list, e.g. 'cpu,webasm') restricts which ones the suites run.
  // webgpu: Node's navigator.gpu comes from the optional `webgpu` package, installed on first ask.
  ...GPUJS_MODES.filter((m) => m !== 'webgl2' && m !== 'webgl').map((mode: GpujsMode) =>
    entry(`gpujs:${mode}`, f32, async () => gpujsWanted(mode) && (mode === 'webgpu' ? (await installWebGPU()) === null : gpujsModeAvailable(mode))),
  ),
  // gpu.js's webasm mode on 2 worker threads: its kernels run asynchronously, so ops are queued (no readSync).
  entry('gpujs:webasm:threads2', f32, () => gpujsWanted('webasm:threads2') && gpujsThreadsAvailable()),
];

// GPUGRAD_TEST_BACKENDS (comma list of labels; '-label' leaves one out) narrows the list further, e.g. for the
// vitest project that runs the shared suites on webgpu in a process of its own (vitest.config.ts).
const chosen = process.env.GPUGRAD_TEST_BACKENDS?.split(',').filter(Boolean) ?? [];
const include = chosen.filter((l) => !l.startsWith('-'));
const exclude = chosen.filter((l) => l.startsWith('-')).map((l) => l.slice(1));
for (const tb of testBackends) {
  if ((include.length > 0 && !include.includes(tb.label)) || exclude.includes(tb.label)) tb.available = () => false;
}

function named(label: string): boolean {
  return include.includes(label);
}

function gpujsWanted(mode: string): boolean {
  const only = process.env.GPUGRAD_GPUJS_MODES;
  return !only || only.split(',').includes(mode);
}

/**
 * The one skip policy of the backend-parametrised suites: a backend that cannot run here (an optional package,
 * a display, threads, or left out by GPUGRAD_TEST_BACKENDS) is reported as a skipped test that names it, never
 * dropped without a word and never counted as passed. Resolved once per file with a top-level await.
 * readyBackends: for files that mark each test, `it.skipIf(!ready.has(tb))`.
 */
export async function readyBackends(all: readonly TestBackend[] = testBackends): Promise<Set<TestBackend>> {
  const ok = await Promise.all(all.map(async (b) => [b, await b.available()] as const));
  return new Set(ok.filter(([, a]) => a).map(([b]) => b));
}

/** availableBackends: for files that loop over the backends that run; each one left out gets its skipped test. */
export async function availableBackends(all: readonly TestBackend[] = testBackends): Promise<TestBackend[]> {
  const ready = await readyBackends(all);
  for (const b of all) if (!ready.has(b)) it.skip(`${b.label}: not available here`, () => undefined);
  return all.filter((b) => ready.has(b));
}

/** Selects a test backend (awaiting asynchronous starts). */
export async function useBackend(tb: TestBackend): Promise<void> {
  await setBackend(tb.name, tb.options ?? {});
}
