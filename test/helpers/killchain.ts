// The kill test of `gpugrad train`'s checkpoints, shared by test/kill-resume.test.ts (short) and `npm run soak`
// (long): a chain of processes, each a `--resume` of the one before, each SIGKILLed at a random moment (during
// start-up, training, evaluation or inside the save sequence, which GPUGRAD_TEST_SAVE_DELAY_MS slows down). Every
// resume must start from the last committed epoch, leave no leftovers of the killed save, and the run finished at
// the end must reproduce an uninterrupted run's losses exactly. The victims run src/cli/main.ts bundled once by
// esbuild (the transform tsx would repeat per file at every start), which halves their start-up on a slow machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface KillChainOptions {
  dir: string;
  kills: number;
  /** Seed of the kill moments. */
  seed: number;
  /** Milliseconds each save step sleeps in the victims (the test hook). */
  saveDelayMs?: number;
  /** Kill moments are drawn up to this many ms after the victim says it is training (default 500). */
  windowMs?: number;
  /** Share of kills drawn from the spawn instead (start-up: data loading, leftover cleanup). */
  earlyShare?: number;
  /** Share of kills drawn from the moment a save starts (its first temporary file appears). */
  saveShare?: number;
  log?: (line: string) => void;
}

export interface KillChainResult {
  kills: number;
  /** Kills that landed while a save was in progress (temporary files or an uncommitted epoch were present). */
  killsInSave: number;
  resumes: number;
  refused: string[];
  stray: string[];
  epochs: number;
  lossesMatch: boolean;
  seconds: number;
}

/** mulberry32: a small seeded generator for the kill moments. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A tiny IDX dataset (48 random 28×28 digits, 10 classes), so the victims skip loading the mnist package. */
function writeDataset(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const n = 48;
  const r = rng(7);
  const be = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const pixels = Uint8Array.from({ length: n * 784 }, () => Math.floor(r() * 256));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), Uint8Array.from([0, 0, 8, 3, ...be(n), ...be(28), ...be(28), ...pixels]));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), Uint8Array.from([0, 0, 8, 1, ...be(n), ...Array.from({ length: n }, (_, i) => i % 10)]));
}

const TEMP = /(^\..+\.\d+\.tmp$)|(\.\d+\.[0-9a-f]+\.tmp$)/;

/** Leftovers of an interrupted save: temporary files, and epoch directories the manifest does not name. */
function leftovers(run: string, exceptPid?: number): string[] {
  if (!existsSync(run)) return [];
  const own = (name: string): boolean => exceptPid !== undefined && name.includes(`.${exceptPid}.`);
  const out = readdirSync(run).filter((n) => TEMP.test(n) && !own(n));
  const epochs = join(run, 'epochs');
  if (existsSync(epochs)) {
    const named = committed(run)?.dir;
    for (const n of readdirSync(epochs)) if (`epochs/${n}` !== named && !own(n)) out.push(`epochs/${n}`);
  }
  return out;
}

function committed(run: string): { epoch: number; dir: string } | null {
  try {
    const m = JSON.parse(readFileSync(join(run, 'checkpoint.json'), 'utf8')) as { epoch: number; files: { log: { path: string } } };
    return { epoch: m.epoch, dir: m.files.log.path.split('/').slice(0, 2).join('/') };
  } catch {
    return null;
  }
}

const losses = (run: string): number[] => (JSON.parse(readFileSync(join(run, 'log.json'), 'utf8')) as { steps: { loss: number }[] }).steps.map((s) => s.loss);

interface Victim {
  child: ChildProcess;
  /** Resolves with the start line (or null when the process ended first). */
  started: Promise<string | null>;
  exited: Promise<{ code: number | null; signal: string | null; stderr: string }>;
}

/** Bundles the CLI once per process (node_modules/.cache, so its packages resolve as from the source tree). */
let bundled: Promise<string> | null = null;
export function bundleCli(): Promise<string> {
  bundled ??= (async () => {
    const out = join(root, 'node_modules', '.cache', 'gpugrad-killtest', `main-${process.pid}.mjs`);
    // ignoreAnnotations: package.json's sideEffects: false would drop the index import that registers the backends.
    await build({ entryPoints: [join(root, 'src/cli/main.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', ignoreAnnotations: true, outfile: out, logLevel: 'warning' });
    return out;
  })();
  return bundled;
}

function launch(cli: string, args: string[], env: NodeJS.ProcessEnv): Victim {
  const child = spawn(process.execPath, [cli, 'train', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onStart: (line: string | null) => void = () => {};
  const started = new Promise<string | null>((res) => (onStart = res));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const line = out.split('\n').find((l) => l.startsWith('model: '));
    if (line) onStart(line);
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>((res) =>
    child.on('exit', (code, signal) => {
      onStart(null);
      res({ code, signal, stderr: err + out.slice(-2000) });
    }),
  );
  return { child, started, exited };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when a save starts in `run` (a temporary file or directory appears), or after `timeoutMs`. */
function saveStarts(run: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const watchers = [run, join(run, 'epochs')].filter(existsSync).map((d) => watch(d, (_e, name) => name && TEMP.test(String(name)) && done()));
    const timer = setTimeout(done, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      resolve();
    }
  });
}

export async function killChain(o: KillChainOptions): Promise<KillChainResult> {
  const t0 = performance.now();
  const cli = await bundleCli();
  const say = o.log ?? (() => {});
  const data = join(o.dir, 'data');
  writeDataset(data);
  const run = join(o.dir, 'run');
  const base = ['--data', data, '--holdout', '16', '--batch-size', '16', '--width', '1', '--schedule', 'none', '--backend', 'reference', '--no-progress'];
  const saveDelay = o.saveDelayMs ?? 20;
  const env = { ...process.env, GPUGRAD_TEST_SAVE_DELAY_MS: String(saveDelay) };
  const random = rng(o.seed);
  const res: KillChainResult = { kills: 0, killsInSave: 0, resumes: 0, refused: [], stray: [], epochs: 0, lossesMatch: false, seconds: 0 };
  let last = -1;
  while (res.kills < o.kills) {
    const before = committed(run);
    const fresh = before === null && !existsSync(join(run, 'log.json'));
    const v = launch(cli, fresh ? [...base, '--epochs', '100000', '--out', run] : ['--resume', run, '--epochs', '100000', '--backend', 'reference', '--no-progress'], env);
    const draw = random();
    const early = draw < (o.earlyShare ?? 0.15);
    const inSaveWanted = !early && draw > 1 - (o.saveShare ?? 0.5);
    if (early) {
      await sleep(random() * 900);
    } else {
      const line = await v.started;
      if (line === null) {
        const e = await v.exited;
        res.refused.push(`exit ${e.code}: ${e.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        say(`refused: ${res.refused.at(-1)}`);
        if (res.refused.length > 3) break;
        continue;
      }
      if (!fresh) {
        res.resumes++;
        const want = before?.epoch ?? 0;
        const said = /resuming after epoch (\d+)/.exec(line)?.[1];
        if (Number(said ?? 0) !== want) res.refused.push(`resumed after epoch ${said ?? 0}, but epoch ${want} was committed`);
      }
      // Right after start-up, before the first epoch ends: whatever the killed save left must be gone.
      const s = leftovers(run, v.child.pid);
      if (s.length) res.stray.push(...s);
      if (inSaveWanted) {
        // Somewhere in the save sequence: it takes about a dozen of the hook's pauses.
        await saveStarts(run, 5000);
        await sleep(random() * 12 * saveDelay);
      } else {
        await sleep(random() * (o.windowMs ?? 500));
      }
    }
    const inSave = leftovers(run).length > 0;
    v.child.kill('SIGKILL');
    const e = await v.exited;
    if (e.signal !== 'SIGKILL') {
      res.refused.push(`ended on its own (exit ${e.code}) before the kill: ${e.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      say(`unexpected exit: ${res.refused.at(-1)}`);
      continue;
    }
    res.kills++;
    if (inSave || leftovers(run).length > 0) res.killsInSave++;
    const now = committed(run)?.epoch ?? -1;
    if (now < last) res.refused.push(`the committed epoch went back from ${last} to ${now}`);
    last = now;
    if (res.kills % 10 === 0) say(`${res.kills} kills (${res.killsInSave} inside a save), committed epoch ${now}`);
  }
  // Finish the run two epochs past the last commit, and an uninterrupted run of as many epochs: same losses.
  const epochs = Math.max(0, committed(run)?.epoch ?? 0) + 2;
  const straight = join(o.dir, 'straight');
  const fin = launch(cli, ['--resume', run, '--epochs', String(epochs), '--backend', 'reference', '--no-progress'], env);
  const ref = launch(cli, [...base, '--epochs', String(epochs), '--out', straight], env);
  const [a, b] = await Promise.all([fin.exited, ref.exited]);
  if (a.code !== 0) res.refused.push(`the final resume failed (exit ${a.code}): ${a.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  if (b.code !== 0) res.refused.push(`the uninterrupted run failed (exit ${b.code})`);
  res.stray.push(...leftovers(run));
  res.epochs = epochs;
  res.lossesMatch = a.code === 0 && b.code === 0 && JSON.stringify(losses(run)) === JSON.stringify(losses(straight));
  res.seconds = (performance.now() - t0) / 1000;
  return res;
}
