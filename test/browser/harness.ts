// Node side of the browser tests: packs gpugrad as a user would (`npm pack`), installs the tarball into a
// scratch project, bundles test programs against it with esbuild, serves them on 127.0.0.1 (one path prefix
// with COOP/COEP headers, one without) and drives Debian's Chromium headless through playwright-core.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// One list of Chromium flags for the tests, the demo and the browser benchmark.
export { CHROMIUM, CHROMIUM_FLAGS } from '../../examples/browser/chromium.js';
import { CHROMIUM, CHROMIUM_FLAGS } from '../../examples/browser/chromium.js';

/** The packed package installed in a scratch project: `app` is that project's root. */
export interface PackedApp {
  dir: string;
  app: string;
  cleanup(): void;
}

/** `npm pack` (which builds dist through `prepare`), then unpacks into app/node_modules/gpugrad; runtime deps link to ours. */
export function packIntoApp(): PackedApp {
  const dir = mkdtempSync(join(tmpdir(), 'gpugrad-browser-'));
  execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error('npm pack produced no tarball');
  const app = join(dir, 'app');
  const modules = join(app, 'node_modules');
  mkdirSync(modules, { recursive: true });
  execFileSync('tar', ['xzf', join(dir, tgz), '-C', dir]);
  execFileSync('mv', [join(dir, 'package'), join(modules, 'gpugrad')]);
  const pkg = JSON.parse(readFileSync(join(modules, 'gpugrad', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  // What `npm i` would fetch: the same packages, linked from this checkout (the test must not need a network).
  for (const dep of Object.keys(pkg.dependencies)) symlinkSync(join(REPO, 'node_modules', dep), join(modules, dep), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { gpugrad: `file:../${tgz}` } }));
  return { dir, app, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Bundles a test program from this repository against the packed package: imports of src/index.js become
 * 'gpugrad' (resolved in the scratch project, browser conditions), 'vitest' and the suites' test/helpers/backends.js
 * become their browser stand-ins.
 */
export async function bundleTestProgram(packed: PackedApp, entry: string, outfile: string, define: Record<string, string> = {}): Promise<esbuild.BuildResult> {
  const shim = join(REPO, 'test/browser/vitest-shim.ts');
  const browserBackends = join(REPO, 'test/browser/backends.ts');
  const plugin: esbuild.Plugin = {
    name: 'packed-gpugrad',
    setup(build) {
      build.onResolve({ filter: /\/src\/index\.js$/ }, () => build.resolve('gpugrad', { resolveDir: packed.app, kind: 'import-statement' }));
      build.onResolve({ filter: /^vitest$/ }, () => ({ path: shim }));
      // The suites register their tests when imported; this repository's package.json marks its files free of
      // side effects (true of the package, not of test files).
      build.onResolve({ filter: /\.test\.js$/ }, (a) => ({ path: resolve(a.resolveDir, a.path.replace(/\.js$/, '.ts')), sideEffects: true }));
      // The suites' backend list (test/helpers/backends.ts, imported from test/ and test/helpers/) becomes the page's.
      build.onResolve({ filter: /\/backends\.js$/ }, (a) => (resolve(a.resolveDir, a.path) === join(REPO, 'test/helpers/backends.js') ? { path: browserBackends } : undefined));
    },
  };
  return esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: process.env.GPUGRAD_BROWSER_MINIFY !== '0', // as a production build would (gpu.js class names get renamed); 0 to debug
    logLevel: 'silent',
    plugins: [plugin],
    define,
  });
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.wasm': 'application/wasm' };

/** Serves `root` on 127.0.0.1: /iso/… with COOP/COEP (cross-origin isolated), /plain/… without. */
export async function serve(root: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/favicon.ico') {
      res.writeHead(204).end(); // keeps a 404 out of the page logs that failures print
      return;
    }
    const m = /^\/(iso|plain)\/([\w./-]+)$/.exec(path);
    const file = m && !m[2].includes('..') ? join(root, m[2]) : '';
    if (!m || !file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' };
    if (m[1] === 'iso') Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    res.writeHead(200, headers).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, server };
}

/** The page that runs suite.js on itself, and the one that runs it in a module Worker. */
export const PAGE_HTML = '<!doctype html><meta charset="utf-8"><script type="module" src="suite.js"></script>';
export const WORKER_HTML = `<!doctype html><meta charset="utf-8"><script>
window.__result = new Promise((ok) => { const w = new Worker('suite.js' + location.search, { type: 'module' }); w.onmessage = (e) => ok(e.data); w.onerror = (e) => ok({ fatal: 'worker error: ' + e.message }); });
</script>`;

/** Chromium with a fresh profile directory (playwright passes it as --user-data-dir). */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'gpugrad-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens `url` in a new tab and returns what the program put in window.__result. */
export async function runPage<T>(context: BrowserContext, url: string, timeoutMs: number): Promise<T> {
  const page = await context.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  try {
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, null, { timeout: timeoutMs });
    const r = await page.evaluate(() => (window as unknown as { __result: Promise<unknown> }).__result);
    return { ...(r as object), logs } as T;
  } finally {
    await page.close();
  }
}
