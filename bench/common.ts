// Shared benchmark plumbing: cold/warm timing on tinybench, the machine description, result rows, options.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Bench } from 'tinybench';

export interface Timing {
  /** First call, compilation and worker start-up included (ms). */
  coldMs: number;
  /** Median of the warm calls (ms); the cold time when `samples` is 0 (too slow for a warm call). */
  medianMs: number;
  samples: number;
}

export interface Row {
  part: 'kernels' | 'e2e' | 'peers' | 'gemm';
  /** What was measured, e.g. 'conv 3×3 64→64 @56² fwd' or 'eval forward 224² b1'. */
  work: string;
  /** The system: 'gpugrad reference', 'gpugrad gpujs:webasm', 'onnxruntime-node 2 threads', ... */
  system: string;
  timing?: Timing;
  /** Floating-point operations per call, for GFLOP/s; 0 where not meaningful. */
  flop: number;
  /** Max abs logits error / max |reference|, where checked. */
  relErr?: number;
  /** Why there is no time (skipped peer, disagreement, error). */
  note?: string;
}

export interface BenchOptions {
  parts: Set<string>;
  /** gpugrad backends as 'name' or 'name:mode' (e.g. 'gpujs:webasm'). */
  backends: string[];
  quick: boolean;
  /** Warm-time budget per measured item (ms); tinybench runs at least `minIter` calls besides. */
  timeMs: number;
  minIter: number;
  log: (line: string) => void;
}

/**
 * Times `fn`: the first call alone (cold), then tinybench's median over at least `minIter` calls and
 * `timeMs` of wall time. `fn` must finish its work before resolving (await data), or times would lie.
 */
export async function measure(fn: () => unknown, timeMs: number, minIter: number): Promise<Timing> {
  const t0 = performance.now();
  await fn();
  return warm(fn, performance.now() - t0, timeMs, minIter);
}

/** The warm part of `measure`, for callers that timed the first call themselves (to keep its result). */
export async function warm(fn: () => unknown, coldMs: number, timeMs: number, minIter: number): Promise<Timing> {
  const bench = new Bench({ time: timeMs, iterations: minIter, warmup: false, throws: true });
  bench.add('x', async () => {
    await fn();
  });
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed') throw new Error(`benchmark ended in state ${r.state}`);
  return { coldMs, medianMs: r.latency.p50, samples: r.latency.samplesCount };
}

/** Times the first call of `fn` and returns its result with the time. */
export async function cold<T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

export const gflops = (flop: number, ms: number): number => (ms > 0 ? flop / ms / 1e6 : 0);

export function machine(): { cpu: string; cores: number; memGiB: number; node: string; os: string } {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    // /proc names the model where os.cpus() may say only the vendor on virtual machines.
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m && m[1].length > cpu.length) cpu = m[1].trim();
  } catch {
    /* not Linux */
  }
  return {
    cpu,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** Max |a - b| / max |ref| — the agreement measure the end-to-end checks use. */
export function relMaxErr(got: Float32Array, ref: Float32Array): number {
  if (got.length !== ref.length) return Infinity;
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= err)) err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale > 0 ? err / scale : err;
}

/** The acceptance bound: max abs error ≤ 1e-3 × max |reference|. */
export const AGREE = 1e-3;

export function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}
