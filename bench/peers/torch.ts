// PyTorch CPU peer: runs bench/peers/torch_bench.py under Debian's /usr/bin/python3 (torch 1.13, 2 threads)
// on the same weights and inputs, and reads back its times, logits and first-step losses.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Timing } from '../common.js';
import { BENCH_DIR, CACHE, PYTHON } from './fixture.js';
import type { PeerResult } from './ort.js';

export interface TrainJob {
  key: string;
  inputPath: string;
  shape: readonly number[];
  labels: readonly number[];
  lr: number;
  momentum: number;
}

export interface TorchReport {
  eval?: PeerResult;
  train: { key: string; firstLoss: number; timing: Timing }[];
  skipped?: string;
}

interface RawReport {
  version: string;
  threads: number;
  eval?: Timing;
  train: ({ key: string; firstLoss: number } & Timing)[];
}

export async function runTorch(weightsPath: string, evalJob: { inputPath: string; shape: readonly number[] } | null, train: TrainJob[], timeMs: number, minIter: number): Promise<TorchReport> {
  if (!existsSync(PYTHON)) return { train: [], skipped: `${PYTHON} not found` };
  const logitsOut = join(CACHE, 'logits-torch-eval.f32');
  const job = {
    weights: weightsPath,
    threads: 2,
    timeMs,
    minIter,
    eval: evalJob ? { input: evalJob.inputPath, shape: evalJob.shape, out: logitsOut } : null,
    train: train.map((t) => ({ key: t.key, input: t.inputPath, shape: t.shape, labels: t.labels, lr: t.lr, momentum: t.momentum })),
  };
  const jobPath = join(CACHE, 'torch-job.json');
  await writeFile(jobPath, JSON.stringify(job));
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(PYTHON, [join(BENCH_DIR, 'peers/torch_bench.py'), jobPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => resolve({ code: -1, stdout: out, stderr: e.message }));
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  if (code !== 0) return { train: [], skipped: `torch_bench.py exited ${code}: ${stderr.trim().split('\n').pop() ?? ''}` };
  const raw = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as RawReport;
  const system = `PyTorch ${raw.version} CPU (${raw.threads} threads)`;
  const report: TorchReport = {
    train: raw.train.map((t) => ({ key: t.key, firstLoss: t.firstLoss, timing: { coldMs: t.coldMs, medianMs: t.medianMs, samples: t.samples } })),
  };
  if (raw.eval) {
    const b = await readFile(logitsOut);
    report.eval = { system, timing: raw.eval, logits: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) };
  }
  return report;
}
