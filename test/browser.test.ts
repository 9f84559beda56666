// gpugrad in a real browser, as a user gets it: the packed package (`npm pack`) bundled by esbuild and by vite
// for the browser with no error and no Node built-in, then the op property suites and a ResNet-18 eval + SGD
// step in headless Chromium on every browser backend (wasm 1 thread on a plain page, wasm 2 threads on an
// isolated page's main thread and in a Worker, gpujs webgl2/webgpu/cpu), compared with Node's float64 reference.
// GPUGRAD_BROWSER_RUNS (comma list of run names below, or 'none') narrows the runs; GPUGRAD_BROWSER_SOAK=1 adds
// the gpujs webasm ResNet-50 soak. Without Chromium the file is skipped unless GPUGRAD_REQUIRE_CHROMIUM=1 (CI),
// where that is a failure.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as esbuild from 'esbuild';
import { build as viteBuild } from 'vite';
import { setBackend } from '../src/index.js';
import { bundleTestProgram, CHROMIUM, launchChromium, packIntoApp, PAGE_HTML, REPO, runPage, serve, WORKER_HTML, type PackedApp } from './browser/harness.js';
import { resnetNumbers, type ResnetNumbers } from './browser/resnet-check.js';
import type { BrowserRunResult } from './browser/suite.js';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.GPUGRAD_REQUIRE_CHROMIUM === '1') throw new Error(`GPUGRAD_REQUIRE_CHROMIUM=1 but there is no Chromium at ${CHROMIUM} (apt-get install chromium)`);

/** Property runs per property in the browser (Node runs 25–60): the browser suites check wiring and bundling, Node the breadth. */
const BROWSER_PROP_RUNS = 3;

interface Run {
  name: string;
  path: string;
  backend: string;
  /** What getBackend() must report (the wasm kernels are the relaxed-SIMD ones where the browser validates them). */
  expect: string | RegExp;
  host: 'page' | 'worker';
  isolated: boolean;
}
const runs: Run[] = [
  { name: 'wasm-1', path: 'plain/page.html', backend: 'wasm', expect: /^wasm:(relaxed-)?simd$/, host: 'page', isolated: false },
  { name: 'wasm-2-page', path: 'iso/page.html', backend: 'wasm:threads2', expect: /^wasm:(relaxed-)?simd-threads2$/, host: 'page', isolated: true },
  { name: 'wasm-2-worker', path: 'iso/worker.html', backend: 'wasm:threads2', expect: /^wasm:(relaxed-)?simd-threads2$/, host: 'worker', isolated: true },
  { name: 'gpujs-cpu', path: 'plain/page.html', backend: 'gpujs:cpu', expect: 'gpujs:cpu', host: 'page', isolated: false },
  { name: 'gpujs-webgl2', path: 'plain/page.html', backend: 'gpujs:webgl2', expect: 'gpujs:webgl2', host: 'page', isolated: false },
  { name: 'gpujs-webgpu', path: 'plain/page.html', backend: 'gpujs:webgpu', expect: 'gpujs:webgpu', host: 'page', isolated: false },
];
const only = process.env.GPUGRAD_BROWSER_RUNS?.split(',').filter(Boolean);
const selected = runs.filter((r) => !only || only.includes(r.name));

const NODE_BUILTIN = /node:|built-?in|"(fs|os|path|crypto|worker_threads|module|zlib|child_process)"/i;

/**
 * A user's program: the whole namespace, then gpu.js kernels (a GEMM included) on the two synchronous CPU modes;
 * after minification the backend must still know which gpu.js kernel classes ran (no false fallback).
 */
const CONSUMER = `import * as gg from 'gpugrad';
const out = {};
for (const mode of ['cpu', 'webasm']) {
  await gg.setBackend('gpujs', { mode });
  const y = gg.relu(gg.matmul(gg.randn([64, 64]), gg.randn([64, 64])));
  out[mode] = { backend: gg.getBackend(), fallbackReason: gg.backendFallbackReason(), sum: (await y.sum().data())[0] };
}
window.__result = out;
`;

/** Worst |got - want| relative to max |want|. */
function relErr(got: readonly number[], want: readonly number[]): number {
  const scale = Math.max(...want.map(Math.abs), 1e-30);
  return Math.max(...want.map((w, i) => Math.abs(got[i] - w))) / scale;
}

describe.skipIf(!haveChromium)('gpugrad in headless Chromium, from the packed package', () => {
  let packed: PackedApp;
  let www: string;
  let url: string;
  let close: () => Promise<void> = async () => undefined;
  let context: Awaited<ReturnType<typeof launchChromium>>['context'];
  let reference: ResnetNumbers;

  beforeAll(async () => {
    packed = packIntoApp();
    www = join(packed.dir, 'www');
    mkdirSync(www);
    const r = await bundleTestProgram(packed, join(REPO, 'test/browser/suite.ts'), join(www, 'suite.js'), {
      'process.env.GPUGRAD_PROP_RUNS': JSON.stringify(String(BROWSER_PROP_RUNS)),
      'process.env.GPUGRAD_PROP_SEED': 'undefined',
    });
    expect(r.errors).toEqual([]);
    writeFileSync(join(www, 'page.html'), PAGE_HTML);
    writeFileSync(join(www, 'worker.html'), WORKER_HTML);
    const s = await serve(www);
    url = s.url;
    const b = await launchChromium();
    context = b.context;
    close = async () => {
      await b.close();
      s.server.close();
    };
    // Node's float64 oracle backend gives the numbers every browser backend must reproduce.
    await setBackend('reference');
    reference = await resnetNumbers();
  }, 300_000);

  afterAll(async () => {
    await close();
    packed?.cleanup();
  });

  it('bundles `import * as gg from "gpugrad"` with esbuild --platform=browser: no error, no warning about Node built-ins', async () => {
    const entry = join(packed.app, 'entry.js');
    writeFileSync(entry, CONSUMER);
    const r = await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', outfile: join(packed.dir, 'esbuild-out.js'), logLevel: 'silent', absWorkingDir: packed.app });
    expect(r.errors).toEqual([]);
    expect(r.warnings.filter((w) => NODE_BUILTIN.test(w.text)).map((w) => w.text)).toEqual([]);
    const out = readFileSync(join(packed.dir, 'esbuild-out.js'), 'utf8');
    // Node built-ins may appear only as strings handed to process.getBuiltinModule, never as imports.
    expect(out).not.toMatch(/\bfrom\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/);
    // The index's backend registrations survive tree shaking (package.json sideEffects).
    expect(out).toMatch(/["']wasm["']/);
  });

  it('bundles it with vite build: no error, no warning about Node built-ins', async () => {
    const warnings: string[] = [];
    writeFileSync(join(packed.app, 'index.html'), '<!doctype html><script type="module" src="./entry.js"></script>');
    await viteBuild({
      root: packed.app,
      configFile: false,
      logLevel: 'silent',
      base: './',
      build: { outDir: join(packed.dir, 'vite-out'), target: 'es2022', emptyOutDir: true, rolldownOptions: { onwarn: (w: { message: string }) => void warnings.push(w.message) } },
      customLogger: { info: () => undefined, warn: (m: string) => void warnings.push(m), warnOnce: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(`error: ${m}`), clearScreen: () => undefined, hasErrorLogged: () => false, hasWarned: false },
    } as Parameters<typeof viteBuild>[0]);
    expect(warnings.filter((w) => NODE_BUILTIN.test(w) || w.startsWith('error'))).toEqual([]);
    // The minified build runs, and gpu.js kernels are recognised despite renamed classes.
    const s = await serve(join(packed.dir, 'vite-out'));
    try {
      const r = await runPage<Record<string, { backend: string; fallbackReason: string | null; sum: number }>>(context, `${s.url}/plain/index.html`, 60_000);
      for (const mode of ['cpu', 'webasm']) {
        expect(r[mode]?.backend, JSON.stringify(r)).toBe(`gpujs:${mode}`);
        expect(r[mode].fallbackReason).toBeNull();
        expect(Number.isFinite(r[mode].sum)).toBe(true);
      }
    } finally {
      s.server.close();
    }
  }, 120_000);

  for (const run of selected) {
    it(`${run.name}: op property suites and ResNet-18 eval + training step match Node's reference`, async () => {
      const r = await runPage<BrowserRunResult & { logs: string[] }>(context, `${url}/${run.path}?backend=${run.backend}`, 280_000);
      expect(r.fatal, `${r.fatal}\n${r.logs?.join('\n')}`).toBeUndefined();
      expect(r.host).toBe(run.host);
      expect(r.isolated).toBe(run.isolated);
      if (typeof run.expect === 'string') expect(r.backend).toBe(run.expect);
      else expect(r.backend).toMatch(run.expect);
      expect(r.fallbackReason).toBeNull();
      // The default's reason speaks of where it runs (SwiftShader here: wasm), never of Node.
      expect(r.defaultChoice.name).toBe('wasm');
      expect(r.defaultChoice.reason).toMatch(run.host === 'worker' ? /this Web Worker/ : /this page/);
      expect(r.defaultChoice.reason).not.toMatch(/Node/);
      const failed = r.tests.filter((t) => t.status === 'failed');
      expect(failed.map((t) => `${t.name}: ${t.error}`)).toEqual([]);
      // The one skip allowed: the NaN property test on WebGPU, whose shaders may drop NaN (test/browser/backends.ts).
      const skipped = r.tests.filter((t) => t.status === 'skipped').map((t) => t.name);
      expect(skipped, 'skipped in the page').toEqual(run.backend === 'gpujs:webgpu' ? [expect.stringMatching(/NaN inputs propagate.*skipped: WGSL may assume no NaN/)] : []);
      expect(r.tests.length).toBeGreaterThanOrEqual(18);
      const n = r.resnet!;
      expect(relErr(n.evalLogits, reference.evalLogits), 'eval logits').toBeLessThanOrEqual(1e-3);
      expect(Math.abs(n.loss - reference.loss), 'training loss').toBeLessThanOrEqual(1e-3 * Math.abs(reference.loss));
      expect(relErr(n.stepLogits, reference.stepLogits), 'logits after one SGD step').toBeLessThanOrEqual(1e-3);
    }, 300_000);
  }

  // ~3 minutes on a loaded 2-core machine, so opt-in (GPUGRAD_BROWSER_SOAK=1): gpu.js's webasm mode makes one wasm
  // memory per kernel, which Chromium refused after a few dozen before the backend parked cold kernels.
  it.runIf(process.env.GPUGRAD_BROWSER_SOAK === '1')('gpujs-webasm: a ResNet-50 forward and 10 SGD steps in one page', async () => {
    const r = await runPage<BrowserRunResult & { logs: string[] }>(context, `${url}/plain/page.html?backend=gpujs:webasm&suites=soak`, 580_000);
    expect(r.fatal, r.fatal).toBeUndefined();
    expect(r.backend).toBe('gpujs:webasm');
    expect(r.soak).toHaveLength(10);
    expect(r.soak!.every(Number.isFinite)).toBe(true);
  }, 600_000);

  it('a plain (not isolated) page runs wasm on one thread and says why', async () => {
    const r = await runPage<BrowserRunResult>(context, `${url}/plain/page.html?backend=wasm:threads2&suites=`, 60_000);
    expect(r.backend).toMatch(/^wasm:(relaxed-)?simd$/);
    expect(r.fallbackReason).toMatch(/not cross-origin isolated.*Cross-Origin-Opener-Policy/);
    // On SwiftShader the default is wasm, explained in the page's terms.
    expect(r.defaultChoice.name).toBe('wasm');
    expect(r.defaultChoice.reason).toMatch(/software rasteriser/);
    expect(r.defaultChoice.reason).not.toMatch(/Node/);
  });
});
