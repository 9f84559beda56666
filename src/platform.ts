// Where the code runs (Node, a browser page's main thread, a Web Worker) and the few host facilities that differ
// between them, found at run time. No `node:*` module is imported here: Node's built-ins are reached through
// process.getBuiltinModule (Node ≥ 20.16), which bundlers do not follow, so a browser bundle of the package
// index contains no Node code.

export type Host = 'node' | 'page' | 'worker' | 'other';

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?: (name: string) => unknown;
  env?: Record<string, string | undefined>;
}

const g = globalThis as {
  process?: NodeProcess;
  document?: unknown;
  navigator?: { hardwareConcurrency?: number; userAgent?: string };
  WorkerGlobalScope?: unknown;
  crossOriginIsolated?: boolean;
};

/** The kind of host: Node (also under Deno/Bun's Node layer), a page, a Web Worker, or something else. */
export function host(): Host {
  if (g.process?.versions?.node) return 'node';
  if (typeof g.WorkerGlobalScope === 'function') return 'worker';
  if (g.document) return 'page';
  return 'other';
}

/** A Node built-in module (e.g. 'node:worker_threads'), or null outside Node. */
export function nodeBuiltin<T>(name: string): T | null {
  const get = g.process?.getBuiltinModule;
  return typeof get === 'function' ? ((get.call(g.process, name) as T | undefined) ?? null) : null;
}

/** An environment variable in Node; undefined in browsers (where `process` is absent or a bundler's stub). */
export function envVar(name: string): string | undefined {
  return g.process?.env?.[name];
}

/** Logical CPU cores: os.availableParallelism in Node, navigator.hardwareConcurrency in browsers. */
export function hardwareThreads(): number {
  const os = nodeBuiltin<{ availableParallelism?: () => number; cpus(): unknown[] }>('node:os');
  if (os) return os.availableParallelism?.() ?? os.cpus().length;
  return g.navigator?.hardwareConcurrency ?? 1;
}

/**
 * Whether memory can be shared with other threads here. Browsers expose SharedArrayBuffer only to
 * cross-origin-isolated documents (served with COOP `same-origin` and COEP `require-corp`/`credentialless`).
 */
export function sharedMemoryWhyNot(): string | null {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    if (g.crossOriginIsolated === false) return 'the page is not cross-origin isolated (serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so SharedArrayBuffer is unavailable';
    return 'SharedArrayBuffer is unavailable in this runtime';
  }
  if (g.crossOriginIsolated === false) return 'the page is not cross-origin isolated, so memory cannot be shared with Web Workers';
  return null;
}

let blockCache: boolean | null = null;
/** Whether this thread may block in Atomics.wait (not on a browser page's main thread). */
export function canBlock(): boolean {
  if (blockCache === null) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockCache = true;
    } catch {
      blockCache = false;
    }
  }
  return blockCache;
}
