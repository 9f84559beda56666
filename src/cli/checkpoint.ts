// Crash-consistent checkpoints for `gpugrad train`. Each finished epoch is written into epochs/<n>/ (weights,
// optimizer state, log) under a temporary name, renamed into place, and then committed by replacing
// checkpoint.json, a manifest naming those files with their sizes and SHA-256: the rename of the manifest is the
// one commit point, so a kill at any moment leaves the previous or the new complete state. The user-facing
// model.safetensors, optimizer.safetensors, log.json and plot.png are refreshed after the commit (hard links to
// the committed files where the file system allows). Whatever an interrupted save left behind (temporary files,
// an epoch directory no manifest names) is removed on the next start.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';

export const MANIFEST = 'checkpoint.json';
export const EPOCHS_DIR = 'epochs';
/** The files one checkpoint covers, by role, and their names inside its epoch directory. */
export const CHECKPOINT_FILES = { model: 'model.safetensors', optimizer: 'optimizer.safetensors', log: 'log.json' } as const;
export type CheckpointRole = keyof typeof CHECKPOINT_FILES;

export interface CheckpointManifest {
  version: 1;
  /** Epochs finished; 0 is the run's start (its options and configuration, no weights). */
  epoch: number;
  /** Paths relative to the run directory, with their sizes and SHA-256, by role. */
  files: Partial<Record<CheckpointRole, { path: string; bytes: number; sha256: string }>>;
}

/** Temporary names this module (and saveSafetensors) writes: `.name.<pid>.tmp`, `name.<pid>.<hex>.tmp`, `.<n>.<pid>.tmp`. */
const TEMP = /(^\..+\.\d+\.tmp$)|(\.\d+\.[0-9a-f]+\.tmp$)/;

/**
 * A test hook: GPUGRAD_TEST_SAVE_DELAY_MS slows every step of the save sequence down so that a kill test can land
 * inside it. Synchronous on purpose: the save runs without yielding, as it would on a fast disk.
 */
const delayMs = Number(process.env.GPUGRAD_TEST_SAVE_DELAY_MS ?? 0);
function pause(): void {
  if (delayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delayMs);
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Writes `bytes` to a new file and flushes it to disk before returning. */
function writeDurable(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems cannot open or sync a directory; the renames are still ordered for a process kill.
  }
}

/** Replaces `path` atomically with `bytes` (temporary file in the same directory, flushed, then renamed). */
export function replaceFile(path: string, bytes: Uint8Array): void {
  const slash = path.lastIndexOf('/');
  const tmp = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${process.pid}.tmp`;
  try {
    writeDurable(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    fail('train', `cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Points `path` at the committed file `target`: a hard link renamed into place, or an atomic copy. */
function publish(path: string, target: string): void {
  const slash = path.lastIndexOf('/');
  const tmp = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${process.pid}.tmp`;
  try {
    rmSync(tmp, { force: true });
    linkSync(target, tmp);
    renameSync(tmp, path);
  } catch {
    rmSync(tmp, { force: true });
    replaceFile(path, readFileSync(target));
  }
}

/** The committed manifest of a run directory, or null when there is none. Malformed manifests are refused. */
export function readManifest(dir: string): CheckpointManifest | null {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) return null;
  let m: CheckpointManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as CheckpointManifest;
  } catch (e) {
    return fail('train', `${path} is unreadable (${(e as Error).message})`);
  }
  const roles = Object.keys(CHECKPOINT_FILES);
  const files = m?.files;
  if (m?.version !== 1 || !Number.isSafeInteger(m.epoch) || m.epoch < 0 || typeof files !== 'object' || files === null || !files.log) fail('train', `${path} is not a gpugrad checkpoint manifest (version 1, epoch, files)`);
  for (const [role, f] of Object.entries(files)) {
    if (!roles.includes(role) || typeof f?.path !== 'string' || f.path.includes('..') || f.path.startsWith('/') || !Number.isSafeInteger(f.bytes) || typeof f.sha256 !== 'string') fail('train', `${path}: entry '${role}' is malformed`);
  }
  if (m.epoch > 0 && (!files.model || !files.optimizer)) fail('train', `${path}: epoch ${m.epoch} names no weights or optimizer state`);
  return m;
}

/** Reads a file the manifest names, checking its size and hash: a committed file is complete or it is refused. */
export function readCommitted(dir: string, m: CheckpointManifest, role: CheckpointRole): Uint8Array {
  const f = m.files[role];
  if (!f) return fail('train', `${join(dir, MANIFEST)} names no ${role} file`);
  const path = join(dir, f.path);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return fail('train', `${path}, named by ${MANIFEST} for epoch ${m.epoch}, cannot be read (${(e as Error).message})`);
  }
  if (bytes.length !== f.bytes || sha256(bytes) !== f.sha256) fail('train', `${path} does not match ${MANIFEST} (${bytes.length} bytes, ${f.bytes} expected, or a different SHA-256): the file was changed after it was committed`);
  return bytes;
}

/**
 * Removes what an interrupted save left in a run directory: temporary files and epoch directories the manifest
 * does not name (a newer one written but not committed, an older one not yet deleted). Returns what it removed.
 */
export function cleanRunDir(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  const m = readManifest(dir);
  const keep = new Set(Object.values(m?.files ?? {}).map((f) => f.path.split('/').slice(0, 2).join('/')));
  for (const name of readdirSync(dir)) {
    if (TEMP.test(name)) {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  const epochs = join(dir, EPOCHS_DIR);
  if (existsSync(epochs) && statSync(epochs).isDirectory()) {
    for (const name of readdirSync(epochs)) {
      const rel = `${EPOCHS_DIR}/${name}`;
      if (!keep.has(rel)) {
        rmSync(join(epochs, name), { recursive: true, force: true });
        removed.push(rel);
      }
    }
  }
  return removed;
}

export interface EpochFiles {
  /** Absent for epoch 0 (the run's start). */
  model?: Uint8Array;
  optimizer?: Uint8Array;
  log: Uint8Array;
  plot?: Uint8Array;
}

/**
 * Commits a finished epoch: its files go into epochs/<epoch>/ (written under a temporary directory name, then
 * renamed), the manifest naming them replaces checkpoint.json (the commit), the user-facing copies are refreshed
 * and the previous epoch's directory is removed. A kill before the manifest's rename leaves the previous
 * checkpoint; after it, the new one; either way the next start removes the leftovers.
 */
export function commitEpoch(dir: string, epoch: number, files: EpochFiles): void {
  const epochs = join(dir, EPOCHS_DIR);
  mkdirSync(epochs, { recursive: true });
  const rel = `${EPOCHS_DIR}/${epoch}`;
  const tmp = join(epochs, `.${epoch}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const manifest: CheckpointManifest = { version: 1, epoch, files: {} };
  for (const role of Object.keys(CHECKPOINT_FILES) as CheckpointRole[]) {
    const bytes = files[role];
    if (!bytes) continue;
    pause();
    writeDurable(join(tmp, CHECKPOINT_FILES[role]), bytes);
    manifest.files[role] = { path: `${rel}/${CHECKPOINT_FILES[role]}`, bytes: bytes.length, sha256: sha256(bytes) };
  }
  fsyncDir(tmp);
  pause();
  // An uncommitted directory of the same epoch (from a run killed after this rename last time) is replaced.
  rmSync(join(dir, rel), { recursive: true, force: true });
  renameSync(tmp, join(dir, rel));
  fsyncDir(epochs);
  pause();
  const previous = readManifest(dir);
  replaceFile(join(dir, MANIFEST), new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`)); // the commit
  fsyncDir(dir);
  for (const role of Object.keys(CHECKPOINT_FILES) as CheckpointRole[]) {
    if (!manifest.files[role]) continue;
    pause();
    publish(join(dir, CHECKPOINT_FILES[role]), join(dir, manifest.files[role]!.path));
  }
  if (files.plot) {
    pause();
    replaceFile(join(dir, 'plot.png'), files.plot);
  }
  pause();
  const prevDir = previous?.files.log?.path.split('/').slice(0, 2).join('/');
  if (prevDir && prevDir !== rel) rmSync(join(dir, prevDir), { recursive: true, force: true });
}
