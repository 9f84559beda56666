// The browser benchmark: builds bench/browser/page.ts with esbuild, serves it cross-origin isolated on
// 127.0.0.1 next to the peers' wasm files and the shared ResNet-50 fixture (bench/peers/fixture.ts), and runs it
// in Debian's headless Chromium once per thread count. Prints a table and rewrites its section of
// bench/RESULTS.md (between its own markers; the rest of the file is kept).
//   node --import tsx bench/browser/run.ts [--threads 1,2] [--rounds 10] [--no-write] [--profile] [--only gpugrad]
// --profile prints gpugrad's time per backend method and in the worker pool (bench/backend-profile.ts) and implies
// --no-write (the instrumentation costs a little); --only runs the named systems alone (comma list: gpugrad, tfjs, ort).
// The peers come from bench/node_modules (cd bench && npm install --ignore-scripts).
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { serveStatic } from '../../examples/browser/serve.js';
import { launchChromium, CHROMIUM } from '../../examples/browser/chromium.js';
import { BENCH_DIR, CACHE, prepareFixture } from '../peers/fixture.js';
import type { PageResult } from './page.js';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = join(here, 'dist');
export const BEGIN = '<!-- bench/browser/run.ts: begin (generated; edits between these markers are overwritten) -->';
export const END = '<!-- bench/browser/run.ts: end -->';

/** Bundles the page; the peers' runtime files and the fixture are linked in, not copied (hundreds of MB). */
export async function buildBenchPage(): Promise<void> {
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(DIST, { recursive: true });
  for (const pkg of ['onnxruntime-web', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm'])
    if (!existsSync(join(BENCH_DIR, 'node_modules', pkg))) throw new Error(`${pkg} is not installed: cd bench && npm install --ignore-scripts`);
  await build({
    entryPoints: [join(here, 'page.ts')],
    outfile: join(DIST, 'page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'index.html'), join(DIST, 'index.html'));
  symlinkSync(join(BENCH_DIR, 'node_modules/onnxruntime-web/dist'), join(DIST, 'ort'));
  symlinkSync(join(BENCH_DIR, 'node_modules/@tensorflow/tfjs-backend-wasm/dist'), join(DIST, 'tfjs'));
  symlinkSync(CACHE, join(DIST, 'fixture'));
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const fmt = (ms: number | undefined): string => (ms === undefined ? '–' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

function table(pages: PageResult[]): string[] {
  const out = ['| threads | system | cold ms | median ms (min–max) | error vs PyTorch | gpugrad ÷ this |', '|---:|---|---:|---:|---:|---:|'];
  for (const p of pages) {
    const g = p.results.find((r) => r.system.startsWith('gpugrad') && r.medianMs !== undefined);
    for (const r of p.results) {
      if (r.medianMs === undefined) {
        out.push(`| ${p.threads} | ${r.system} | – | – | ${r.relErr === undefined ? '–' : r.relErr.toExponential(1)} | ${r.error ?? 'no time'} |`);
        continue;
      }
      const range = `${fmt(Math.min(...r.warmMs!))}–${fmt(Math.max(...r.warmMs!))}`;
      const ratio = g && r !== g ? `${(g.medianMs! / r.medianMs).toFixed(2)}` : '–';
      out.push(`| ${p.threads} | ${r.system} | ${fmt(r.coldMs)} | ${fmt(r.medianMs)} (${range}) | ${r.relErr!.toExponential(1)} | ${ratio} |`);
    }
  }
  return out;
}

/** gpugrad's 1 → n thread speed-up of the medians, one line per other thread count (none without a 1-thread page). */
function speedup(pages: PageResult[]): string[] {
  const median = (p: PageResult): number | undefined => p.results.find((r) => r.system.startsWith('gpugrad'))?.medianMs;
  const one = pages.find((p) => p.threads === 1);
  const base = one && median(one);
  if (base === undefined) return [];
  const out = pages
    .filter((p) => p.threads > 1 && median(p) !== undefined)
    .map((p) => `- gpugrad 1 → ${p.threads} threads: ${fmt(base)} → ${fmt(median(p))} ms, ${(base / median(p)!).toFixed(2)}× (medians)`);
  return out.length ? [...out, ''] : [];
}

async function main(): Promise<void> {
  const threads = arg('threads', '1,2').split(',').map(Number);
  const rounds = Number(arg('rounds', '10'));
  const profile = process.argv.includes('--profile');
  const write = !process.argv.includes('--no-write') && !profile && !process.argv.includes('--only');
  const query = `${profile ? '&profile=1' : ''}${process.argv.includes('--only') ? `&only=${arg('only', '')}` : ''}`;
  const log = (s: string): void => console.log(s);
  const fixture = await prepareFixture(224, 1, log);
  if (!fixture.onnxPath) throw new Error(`no ONNX model for onnxruntime-web: ${fixture.exportNote}`);
  await buildBenchPage();
  const server = await serveStatic(DIST);
  const browser = await launchChromium();
  const pages: PageResult[] = [];
  try {
    for (const n of threads) {
      const page = await browser.context.newPage();
      page.on('console', (m) => (m.type() === 'error' ? log(`  page: ${m.text()}`) : undefined));
      log(`threads ${n}: ${server.url}?threads=${n}&rounds=${rounds}${query}`);
      await page.goto(`${server.url}?threads=${n}&rounds=${rounds}${query}`);
      await page.waitForFunction(() => document.body.dataset.done || document.body.dataset.error, null, { timeout: 600_000, polling: 1000 });
      const err = await page.evaluate(() => document.body.dataset.error);
      if (err) throw new Error(`the page failed: ${err}`);
      const result = await page.evaluate(() => (window as unknown as { __bench: PageResult }).__bench);
      for (const r of result.results) for (const l of r.profile ?? []) log(`  ${l}`);
      pages.push(result);
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  const rows = table(pages);
  console.log([...rows, ...speedup(pages)].join('\n'));
  if (!write) return;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  // The page's user agent carries a reduced version (Chrome/156.0.0.0); the binary knows its own.
  let chromium = 'Chromium';
  try {
    chromium = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // keep the generic name
  }
  const section = [
    BEGIN,
    '## In the browser: ResNet-50 eval 224² b1 in headless Chromium',
    '',
    'One page per thread count runs gpugrad (wasm backend), TensorFlow.js (wasm backend) and onnxruntime-web (wasm',
    "execution provider) on the same seeded ResNet-50 weights and input; each system's logits must agree with",
    "PyTorch's (max abs error ≤ 1e-3 × max |logit|) before it is timed. After one cold call each, the warm calls",
    'are interleaved (one call of each system per round), so load from other processes falls on all three alike;',
    "each follows 50 ms of idle time (another system's threads may spin on after its call), and the page is not",
    "redrawn while timing (with a software renderer each repaint costs the GPU process a third of a core).",
    '"gpugrad ÷ this" below 1 means gpugrad was faster. On a shared machine (see the load average) single calls',
    'vary by 2× or more; compare systems within one thread count of one run.',
    '',
    `- Command: \`${['node --import tsx bench/browser/run.ts', ...process.argv.slice(2)].join(' ')}\``,
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${chromium} (${CHROMIUM}), page cross-origin isolated: ${pages.every((p) => p.crossOriginIsolated) ? 'yes' : 'no'}; load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')}`,
    `- ${rounds} warm rounds per thread count`,
    '',
    ...rows,
    '',
    ...speedup(pages),
    END,
  ].join('\n');
  const path = join(BENCH_DIR, 'RESULTS.md');
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const a = old.indexOf(BEGIN);
  const b = old.indexOf(END);
  const next = a >= 0 && b > a ? old.slice(0, a) + section + old.slice(b + END.length) : `${old.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
  log(`wrote ${path}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
