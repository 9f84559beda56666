// The browser benchmark page: ResNet-50 eval (224², batch 1) on gpugrad's wasm backend, TensorFlow.js's wasm
// backend and onnxruntime-web's wasm execution provider, all at the thread count in ?threads=N, on the same
// weights (bench/.cache, written by bench/peers/fixture.ts) and input. Each system's logits are checked against
// PyTorch's before it is timed; the warm calls are interleaved round by round, so that load from other processes
// on a shared machine falls on every system alike. Results land in window.__bench for bench/browser/run.ts.
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { currentBackend, getBackend, nn, noGrad, readSafetensors, resnet50, setBackend, tensor, tidy } from '../../src/index.js';
import { profileBackend, profileLines, type BackendProfiler } from '../backend-profile.js';
import { TfResNet, type Weights } from '../peers/tfjs-model.js';
import type { OrtModule } from '../peers/ort.js';

export interface SystemResult {
  system: string;
  coldMs?: number;
  /** Warm calls, in round order. */
  warmMs?: number[];
  medianMs?: number;
  /** Max abs logits error / max |PyTorch logits|. */
  relErr?: number;
  error?: string;
  /** With ?profile=1, gpugrad's time per backend method and in the worker pool, per warm call (bench/backend-profile.ts). */
  profile?: string[];
}
export interface PageResult {
  threads: number;
  crossOriginIsolated: boolean;
  userAgent: string;
  hardwareConcurrency: number;
  results: SystemResult[];
}

const params = new URLSearchParams(location.search);
const THREADS = Number(params.get('threads') ?? 1);
const ROUNDS = Number(params.get('rounds') ?? 10);
/** ?profile=1: time gpugrad's backend methods and pool (adds a little overhead to gpugrad's own times). */
const PROFILE = params.get('profile') === '1';
let profiler: BackendProfiler | null = null;
const FIXTURE = 'fixture/';
const TAG = 's224-b1-seed0';
const SHAPE = [1, 3, 224, 224] as const;
/** The suite's agreement rule (bench/common.ts AGREE): max abs error ≤ 1e-3 × max |reference|. */
const AGREE = 1e-3;
/** Idle time before each timed call (see the rounds loop). */
const SETTLE_MS = 50;

const logEl = document.getElementById('log')!;
const log = (s: string): void => {
  logEl.textContent += `\n${s}`;
};

async function bytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} (run bench/browser/run.ts, which prepares the fixture)`);
  return new Uint8Array(await r.arrayBuffer());
}
const f32 = (b: Uint8Array): Float32Array => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);

function relErr(a: Float32Array, ref: Float32Array): number {
  let err = 0;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(a[i] - ref[i]));
    max = Math.max(max, Math.abs(ref[i]));
  }
  return a.length === ref.length ? err / max : Infinity;
}

interface Runner {
  system: string;
  /** One eval forward, resolved once the logits are on the CPU. */
  run(): Promise<Float32Array>;
}

async function gpugradRunner(weights: Uint8Array, input: Float32Array): Promise<Runner> {
  await setBackend('wasm', { threads: THREADS });
  if (PROFILE) profiler = profileBackend(currentBackend());
  const model = nn.skipInit(() => resnet50());
  const state = readSafetensors(weights);
  tidy(() => void model.loadStateDict(state));
  for (const t of state.values()) t.dispose();
  model.eval();
  const x = tensor(input, SHAPE);
  return {
    system: `gpugrad ${getBackend()}`,
    run: async () => {
      const y = noGrad(() => tidy(() => model.forward(x)));
      const v = await y.data();
      y.dispose();
      return v;
    },
  };
}

async function tfjsRunner(w: Weights, input: Float32Array): Promise<Runner> {
  setWasmPaths('tfjs/');
  // One thread: the plain SIMD build; more: the threaded build, which needs a cross-origin isolated page.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', THREADS > 1);
  if (THREADS > 1) setThreadsCount(THREADS);
  if (!(await tf.setBackend('wasm'))) throw new Error("TensorFlow.js backend 'wasm' did not start");
  await tf.ready();
  const model = new TfResNet(tf as never, w);
  const nchw = tf.tensor(input, [...SHAPE]);
  const x = tf.transpose(nchw, [0, 2, 3, 1]);
  nchw.dispose();
  return {
    system: `TensorFlow.js wasm`,
    run: async () => {
      const y = model.forward(x as never);
      const v = await y.data();
      y.dispose();
      return v;
    },
  };
}

async function ortRunner(onnx: Uint8Array, input: Float32Array): Promise<Runner> {
  // Loaded from the served package (not bundled): its workers start from the module's own URL.
  const url = new URL('ort/ort.wasm.min.mjs', location.href).href;
  const ort = (await import(/* @vite-ignore */ url)) as OrtModule & { env: { wasm: { wasmPaths?: string } } };
  ort.env.wasm.numThreads = THREADS;
  ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, SHAPE) };
  return {
    system: `onnxruntime-web wasm`,
    run: async () => Float32Array.from((await session.run(feeds))[session.outputNames[0]].data as Float32Array),
  };
}

async function main(): Promise<PageResult> {
  log(`threads ${THREADS}, cross-origin isolated ${self.crossOriginIsolated}, ${navigator.hardwareConcurrency} logical cores`);
  const [weights, onnx, inputBytes, torchBytes] = await Promise.all([
    bytes(`${FIXTURE}resnet50-seed0.safetensors`),
    bytes(`${FIXTURE}onnx-${TAG}/resnet50.onnx`),
    bytes(`${FIXTURE}input-${TAG}.f32`),
    bytes(`${FIXTURE}onnx-${TAG}/logits-torch.f32`),
  ]);
  const input = f32(inputBytes);
  const torch = f32(torchBytes);
  // TfResNet takes the state dict as plain arrays: read them once, on gpugrad's reference backend.
  await setBackend('reference');
  const plain: Weights = new Map();
  for (const [k, t] of readSafetensors(weights)) {
    plain.set(k, { shape: t.shape, data: await t.data() });
    t.dispose();
  }
  const results: SystemResult[] = [];
  const live: { runner: Runner; result: SystemResult }[] = [];
  const starts: [string, () => Promise<Runner>][] = [
    ['gpugrad wasm', () => gpugradRunner(weights, input)],
    ['TensorFlow.js wasm', () => tfjsRunner(plain, input)],
    ['onnxruntime-web wasm', () => ortRunner(onnx, input)],
  ];
  const only = params.get('only')?.split(',');
  for (const [name, start] of starts) {
    if (only && !only.some((o) => name.toLowerCase().includes(o.toLowerCase()) || (o === 'tfjs' && name.startsWith('TensorFlow')) || (o === 'ort' && name.startsWith('onnx')))) continue;
    const result: SystemResult = { system: name };
    results.push(result);
    try {
      const runner = await start();
      result.system = runner.system;
      const t0 = performance.now();
      const logits = await runner.run();
      result.coldMs = performance.now() - t0;
      result.relErr = relErr(logits, torch);
      if (!(result.relErr <= AGREE)) throw new Error(`logits disagree with PyTorch's (max error ${result.relErr.toExponential(2)} of max |logit|)`);
      result.warmMs = [];
      live.push({ runner, result });
      if (runner.system.startsWith('gpugrad')) profiler?.reset();
      log(`${runner.system}: cold ${result.coldMs.toFixed(0)} ms, error vs PyTorch ${result.relErr.toExponential(1)}`);
    } catch (e) {
      result.error = (e as Error).message.split('\n')[0];
      log(`${name}: ${result.error}`);
    }
  }
  // Side by side: one warm call of each system per round.
  for (let r = 0; r < ROUNDS; r++) {
    for (const { runner, result } of live) {
      // A short idle gap first, so that each system starts as it would alone: the previous system's worker threads
      // (onnxruntime-web's spin for a while after a run) and its garbage are not charged to the next one.
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const t0 = performance.now();
      await runner.run();
      result.warmMs!.push(performance.now() - t0);
    }
    // Not into the page: each DOM change is a repaint, and with a software renderer (SwiftShader here) the GPU
    // process then takes a third of a core, at raised priority, from the threads being timed.
    console.log(`round ${r + 1}/${ROUNDS}: ${live.map(({ result }) => result.warmMs![r].toFixed(0)).join(' / ')} ms`);
  }
  for (const { result } of live) {
    const s = [...result.warmMs!].sort((a, b) => a - b);
    result.medianMs = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    if (profiler && result.system.startsWith('gpugrad')) {
      result.profile = profileLines(result.warmMs!.reduce((a, b) => a + b, 0) / ROUNDS, profiler.report(ROUNDS));
      for (const l of result.profile) log(l);
    }
  }
  return { threads: THREADS, crossOriginIsolated: self.crossOriginIsolated, userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency, results };
}

main().then(
  (r) => {
    (window as unknown as { __bench: PageResult }).__bench = r;
    document.body.dataset.done = 'true';
  },
  (e: unknown) => {
    log(`failed: ${(e as Error).message}`);
    document.body.dataset.error = (e as Error).message;
  },
);
