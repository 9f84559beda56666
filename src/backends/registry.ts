// The backends gpugrad ships, their modes, and the labels that name one with its options ('reference',
// 'wasm:threads2', 'wasm:simd128', 'gpujs:webasm:threads2', 'reference:core-only'): one list that index.ts
// registers, select.ts reads GPUGRAD_BACKEND with, and the coverage script and the tests build their columns from.
import type { BackendFactory, BackendOptions } from '../backend.js';
import { coreOnly } from './core-only.js';
import { GpujsBackend, type GpujsMode } from './gpujs/index.js';
import { ReferenceBackend } from './reference.js';
import { WasmBackend } from './wasm.js';

export interface BackendEntry {
  name: string;
  /** The modes a label may name after the backend (the first is the default). */
  modes: readonly string[];
  create: BackendFactory;
}

/** gpu.js's modes, the portable host ones first. */
export const GPUJS_MODES: readonly GpujsMode[] = ['cpu', 'webasm', 'headlessgl', 'webgl2', 'webgl', 'webgpu'];

export const BACKENDS: readonly BackendEntry[] = [
  // float64 accumulation, the test oracle; 'core-only' exposes only the contract's required core (the proof
  // that a backend needs no more: withDefaults() composes the rest).
  { name: 'reference', modes: ['float64', 'core-only'], create: (o) => (o.mode === 'core-only' ? coreOnly(new ReferenceBackend()) : new ReferenceBackend()) },
  // wasm: usable at once; with more than one thread (the default: the machine's cores) its worker pool boots in
  // the background and ops switch to it when it is up (setBackend's Promise / readyBackend() wait for that).
  {
    name: 'wasm',
    modes: ['relaxed', 'simd128'],
    // Its own options (winograd, prepack, fmaTraining: WasmBackendOptions) pass through setBackend too.
    create: (o) => (o.threads !== undefined && o.threads <= 1 ? WasmBackend.createSync({ ...o, threads: 1 }) : WasmBackend.open(o)),
  },
  // Without a mode: the fastest gpu.js mode available here (headlessgl if `gl` loads and a context can be made).
  // webgpu starts asynchronously (Node's navigator.gpu comes from the optional `webgpu` package).
  { name: 'gpujs', modes: GPUJS_MODES, create: (o) => (o.mode === 'webgpu' ? GpujsBackend.create(o.mode, o.threads) : new GpujsBackend(o.mode, o.threads)) },
];

/**
 * A label's backend name and options: 'name[:mode][:threadsN]'. 'threadsN' (or a bare number) sets threads; for
 * wasm, 'simd128' turns relaxed SIMD off and 'relaxed' on; any other part is the mode.
 */
export function parseBackendLabel(label: string): { name: string; options: BackendOptions } {
  const [name, ...parts] = label.split(':');
  const options: BackendOptions = {};
  for (const p of parts) {
    if (/^(threads)?\d+$/.test(p)) options.threads = Number(p.replace(/^threads/, ''));
    else if (name === 'wasm' && (p === 'simd128' || p === 'relaxed')) options.relaxed = p === 'relaxed';
    else options.mode = p;
  }
  return { name, options };
}
