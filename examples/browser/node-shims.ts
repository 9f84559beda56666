// TEMPORARY (issue #16): esbuild plugin that stands in for the few node:* modules the library source still
// imports, so the demo and the browser benchmark bundle from src/ before the package gets its browser entry
// point. Each stub exports the names the source imports; calling one throws and says what is missing.
// Delete this file once `import 'gpugrad'` bundles for the browser without help.
import type { Plugin } from 'esbuild';

const STUBS: Record<string, string> = {
  // src/backends/wasm.ts sizes the default thread count by the machine's cores.
  'node:os': `export const availableParallelism = () => (globalThis.navigator?.hardwareConcurrency ?? 1);`,
  // kernels/wasm/pool.ts: wasm threads need Web Workers in a browser; until the pool has them, one thread.
  'node:worker_threads': `export class Worker { constructor() { throw new Error('wasm threads are not available in this browser bundle yet (node:worker_threads); use one thread'); } }`,
};

function missing(mod: string, names: string[]): string {
  return names.map((n) => `export const ${n} = () => { throw new Error('${mod}.${n} is not available in a browser'); };`).join('\n');
}
// File-system helpers reached only from Node-only code paths (CLI, datasets, loading by path).
STUBS['node:fs'] = missing('node:fs', ['readFileSync', 'existsSync', 'mkdirSync', 'writeFileSync']);
STUBS['node:fs/promises'] = missing('node:fs/promises', ['readFile', 'writeFile', 'rename', 'rm']);
STUBS['node:path'] = missing('node:path', ['join', 'dirname', 'resolve']);
STUBS['node:zlib'] = missing('node:zlib', ['gunzipSync']);
STUBS['node:module'] = missing('node:module', ['createRequire']);
STUBS['node:crypto'] = missing('node:crypto', ['randomBytes']);

export const nodeShims: Plugin = {
  name: 'gpugrad-node-shims',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (a) => {
      if (!(a.path in STUBS)) return { errors: [{ text: `no browser stub for ${a.path} (imported by ${a.importer})` }] };
      return { path: a.path, namespace: 'node-shim' };
    });
    build.onLoad({ filter: /.*/, namespace: 'node-shim' }, (a) => ({ contents: STUBS[a.path], loader: 'js' }));
  },
};
