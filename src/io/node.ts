// Node file helpers for weights: load a safetensors or PyTorch (.pth) file into tensors, save safetensors
// atomically (temp file + rename).
// Node-only (exported by node.ts, never by the portable index).
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { fail } from '../errors.js';
import { namingFile } from './naming.js';

export { namingFile } from './naming.js';
import type { Tensor } from '../tensor.js';
import { readSafetensors, writeSafetensorsAsync, type WriteSafetensorsOptions } from './safetensors.js';
import { isTorchFile, readTorchStateDict, type ReadTorchOptions } from './torch.js';

async function readBytes(op: string, path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    return fail(op, `cannot read '${path}': ${(e as Error).message}`);
  }
}

/** Reads a .safetensors file into float32 tensors on the current backend. */
export async function loadSafetensors(path: string): Promise<Map<string, Tensor>> {
  const bytes = await readBytes('loadSafetensors', path);
  if (isTorchFile(bytes)) fail('loadSafetensors', `${path} is a PyTorch checkpoint (torch.save), not a safetensors file: read it with loadTorchStateDict('${path}')`);
  return namingFile('loadSafetensors', path, () => readSafetensors(bytes));
}

/**
 * Reads a state dict written by torch.save (a torchvision `.pth`, or `{ key }` of a checkpoint dict) into float32
 * tensors on the current backend; `model.loadStateDict(await loadTorchStateDict(path))` then loads it.
 */
export async function loadTorchStateDict(path: string, options: ReadTorchOptions = {}): Promise<Map<string, Tensor>> {
  const bytes = await readBytes('loadTorchStateDict', path);
  return namingFile('loadTorchStateDict', path, () => readTorchStateDict(bytes, options));
}

/**
 * Writes tensors (e.g. `model.stateDict()`) to `path`. The bytes go to a temporary file in the same
 * directory which is then renamed over `path`, so a crash never leaves a half-written checkpoint.
 */
export async function saveSafetensors(path: string, map: Map<string, Tensor>, options: WriteSafetensorsOptions = {}): Promise<void> {
  const bytes = await writeSafetensorsAsync(map, options);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    fail('saveSafetensors', `cannot write '${path}': ${(e as Error).message}`);
  }
}
