// onnxruntime peers: onnxruntime-node (native CPU, 1 and 2 intra-op threads) in this process, and
// onnxruntime-web (wasm SIMD, 1 and 2 threads) in a child process each, because its thread count is fixed
// once the wasm module starts. Both are optional dependencies of bench/ only.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cold, warm, type Timing } from '../common.js';
import { BENCH_DIR, ROOT } from './fixture.js';

/** The slice of onnxruntime's API the benchmark uses (typed here so bench/ type-checks without the peers). */
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
export interface OrtModule {
  InferenceSession: { create(model: string | Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { wasm: { numThreads?: number; simd?: boolean } };
}

export interface PeerResult {
  system: string;
  logits?: Float32Array;
  timing?: Timing;
  /** Set when the peer did not run: why. */
  skipped?: string;
}

/** Imports an optional peer package, or returns the reason it is unavailable. */
export async function importPeer<T>(name: string): Promise<T | string> {
  try {
    const spec: string = name; // a variable keeps TypeScript from resolving optional packages
    return (await import(spec)) as T;
  } catch (e) {
    return `${name} not installed (cd bench && npm install --ignore-scripts): ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Runs an ONNX session on the input and times it; logits come from the first (cold) run. */
export async function timeSession(ort: OrtModule, session: OrtSession, input: Float32Array, shape: readonly number[], timeMs: number, minIter: number): Promise<{ logits: Float32Array; timing: Timing }> {
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, shape) };
  const first = await cold(() => session.run(feeds));
  const logits = Float32Array.from(first.value[session.outputNames[0]].data as Float32Array);
  const timing = await warm(() => session.run(feeds), first.ms, timeMs, minIter);
  return { logits, timing };
}

export async function runOrtNode(onnxPath: string, input: Float32Array, shape: readonly number[], threads: number[], timeMs: number, minIter: number): Promise<PeerResult[]> {
  const ort = await importPeer<OrtModule>('onnxruntime-node');
  if (typeof ort === 'string') return threads.map((t) => ({ system: `onnxruntime-node ${t} thread${t > 1 ? 's' : ''}`, skipped: ort }));
  const results: PeerResult[] = [];
  for (const t of threads) {
    const system = `onnxruntime-node ${t} thread${t > 1 ? 's' : ''}`;
    try {
      const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: t, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
      results.push({ system, ...(await timeSession(ort, session, input, shape, timeMs, minIter)) });
      await session.release?.();
    } catch (e) {
      results.push({ system, skipped: `failed: ${(e as Error).message.split('\n')[0]}` });
    }
  }
  return results;
}

/** What the onnxruntime-web child prints as its last stdout line. */
interface ChildReport {
  logitsPath?: string;
  timing?: Timing;
  error?: string;
}

export async function runOrtWeb(onnxPath: string, inputPath: string, shape: readonly number[], threads: number[], timeMs: number, minIter: number): Promise<PeerResult[]> {
  const results: PeerResult[] = [];
  for (const t of threads) {
    const system = `onnxruntime-web wasm ${t} thread${t > 1 ? 's' : ''}`;
    const outPath = join(BENCH_DIR, '.cache', `logits-ortweb-${t}.f32`);
    const args = ['--import', 'tsx', join(BENCH_DIR, 'peers/ort-web-child.ts'), onnxPath, inputPath, shape.join(','), String(t), String(timeMs), String(minIter), outPath];
    const report = await new Promise<ChildReport>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(last) as ChildReport);
        } catch {
          resolve({ error: `child exited ${code}: ${(stderr.trim().split('\n').pop() ?? '').slice(0, 200)}` });
        }
      });
    });
    if (report.error || !report.logitsPath || !report.timing) {
      results.push({ system, skipped: report.error ?? 'no result' });
      continue;
    }
    const b = await readFile(report.logitsPath);
    results.push({ system, logits: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), timing: report.timing });
  }
  return results;
}
