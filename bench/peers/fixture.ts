// The shared model and inputs every system is timed on: gpugrad's seeded ResNet-50 (or ResNet-18) saved as safetensors,
// exported through torchvision to ONNX by scripts/export_onnx.py, with PyTorch's logits as the reference.
// Everything lands in bench/.cache/ (gitignored) and is regenerated when missing.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manualSeed, randn, resnet18, resnet50, saveSafetensors, setBackend, noGrad, tidy, Tensor, type ResNet } from '../../src/node.js';
import { BatchNorm2d } from '../../src/nn/index.js';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT = dirname(BENCH_DIR);
export const CACHE = join(BENCH_DIR, '.cache');
export const PYTHON = '/usr/bin/python3';

/** The torchvision models the fixture can build, export and check. */
export type FixtureModel = 'resnet50' | 'resnet18';

export interface Fixture {
  model: FixtureModel;
  weightsPath: string;
  /** Eval input [batch, 3, size, size], NCHW float32, and its raw file for the Python side. */
  input: Float32Array;
  inputPath: string;
  shape: [number, number, number, number];
  /** Present when PyTorch could export: the ONNX model and PyTorch's logits on `input`. */
  onnxPath: string | null;
  torchLogits: Float32Array | null;
  /** Why there is no ONNX model (no torch, export failed). */
  exportNote: string | null;
}

/** Deterministic input in [-2, 2]-ish from a seed, independent of the backend in use. */
export function seededInput(n: number, seed: number): Float32Array {
  manualSeed(seed);
  const t = randn([n]);
  const v = t.dataSync();
  t.dispose();
  return v;
}

/**
 * Builds gpugrad's ResNet-50 (or ResNet-18) from a seed and gives its batch-norm layers non-trivial running
 * statistics and affine parameters, so that a peer which mishandles BN (or its layout) cannot agree by accident.
 */
export function seededResNet(name: FixtureModel, seed: number): ResNet {
  manualSeed(seed);
  const model = name === 'resnet18' ? resnet18() : resnet50();
  noGrad(() => tidy(() => {
    for (const m of model.modules()) {
      if (!(m instanceof BatchNorm2d)) continue;
      const c = (m.runningMean as Tensor).size;
      const u = (lo: number, hi: number): Tensor => randn([c]).abs().mul((hi - lo) / 2).add(lo);
      (m.runningMean as Tensor).assign(randn([c]).mul(0.1));
      (m.runningVar as Tensor).assign(u(0.5, 1.5));
      (m.weight as Tensor).assign(u(0.5, 1.0));
      (m.bias as Tensor).assign(randn([c]).mul(0.1));
    }
  }));
  return model.eval();
}

export const seededResNet50 = (seed: number): ResNet => seededResNet('resnet50', seed);

async function readF32(path: string): Promise<Float32Array> {
  const b = await readFile(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export async function writeF32(path: string, v: Float32Array): Promise<void> {
  await writeFile(path, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
}

/** Whether prepareFixture would have to compute the weights or the input (and so create a gpugrad backend). */
export function fixtureNeedsBackend(size: number, batch: number, seed = 0, model: FixtureModel = 'resnet50'): boolean {
  return !existsSync(join(CACHE, `${model}-seed${seed}.safetensors`)) || !existsSync(join(CACHE, `input-s${size}-b${batch}-seed${seed}.f32`));
}

/**
 * Prepares (or reuses) the weights, the eval input and the ONNX export for a batch×3×size×size input.
 * ResNet-50 keeps its original cache names; ResNet-18's weights and export carry the model's name.
 */
export async function prepareFixture(size: number, batch: number, log: (s: string) => void, seed = 0, model: FixtureModel = 'resnet50'): Promise<Fixture> {
  mkdirSync(CACHE, { recursive: true });
  const weightsPath = join(CACHE, `${model}-seed${seed}.safetensors`);
  if (!existsSync(weightsPath)) {
    log(`  writing ${weightsPath}`);
    await setBackend('reference');
    const net = seededResNet(model, seed);
    await saveSafetensors(weightsPath, net.stateDict());
    net.dispose();
  }
  const shape: [number, number, number, number] = [batch, 3, size, size];
  const tag = `s${size}-b${batch}-seed${seed}`;
  const inputPath = join(CACHE, `input-${tag}.f32`);
  let input: Float32Array;
  if (existsSync(inputPath)) input = await readF32(inputPath);
  else {
    await setBackend('reference');
    input = seededInput(batch * 3 * size * size, seed + 1);
    await writeF32(inputPath, input);
  }
  const dir = join(CACHE, model === 'resnet50' ? `onnx-${tag}` : `onnx-${model}-${tag}`);
  const onnxPath = join(dir, `${model}.onnx`);
  const logitsPath = join(dir, 'logits-torch.f32');
  // Re-export when the weights (or the input) are newer than the export: a stale ONNX model would only show
  // up as a disagreement.
  const stale = (): boolean => Math.max(statSync(weightsPath).mtimeMs, statSync(inputPath).mtimeMs) > Math.min(statSync(onnxPath).mtimeMs, statSync(logitsPath).mtimeMs);
  if (!existsSync(onnxPath) || !existsSync(logitsPath) || stale()) {
    if (!existsSync(PYTHON)) return { model, weightsPath, input, inputPath, shape, onnxPath: null, torchLogits: null, exportNote: `${PYTHON} not found` };
    mkdirSync(dir, { recursive: true });
    log(`  exporting ${model} to ONNX through torchvision (${tag})`);
    const r = spawnSync(PYTHON, [join(ROOT, 'scripts/export_onnx.py'), weightsPath, inputPath, shape.join(','), dir, model], { encoding: 'utf8' });
    if (r.status !== 0) {
      const why = (r.stderr || r.error?.message || '').trim().split('\n').slice(-1)[0];
      return { model, weightsPath, input, inputPath, shape, onnxPath: null, torchLogits: null, exportNote: `export_onnx.py failed: ${why}` };
    }
  }
  return { model, weightsPath, input, inputPath, shape, onnxPath, torchLogits: await readF32(logitsPath), exportNote: null };
}
