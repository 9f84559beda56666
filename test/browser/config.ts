// The browser run's settings, read from the page's (or the Worker's) URL query, e.g.
// ?backend=wasm:threads2&suites=props,resnet — imported first by the suite bundle so the property files,
// which pick their backends when they load, see them.

import { parseBackendLabel, type BackendOptions } from '../../src/index.js';

export interface BrowserRunConfig {
  /** A test-backend label: 'wasm', 'wasm:threads2', 'gpujs:webgl2', 'gpujs:webgpu', 'gpujs:cpu', 'gpujs:webasm'. */
  backend: string;
  suites: string[];
  /** Only tests whose name contains this. */
  grep: string;
}

const q = new URLSearchParams((globalThis as { location?: { search: string } }).location?.search ?? '');
export const config: BrowserRunConfig = {
  backend: q.get('backend') ?? 'wasm',
  suites: (q.get('suites') ?? 'props,resnet').split(',').filter(Boolean),
  grep: q.get('grep') ?? '',
};

/** Backend name and options of a label (src/backends/registry.ts's syntax); wasm defaults to one thread here. */
export function parseLabel(label: string): { name: string; options: BackendOptions } {
  const { name, options } = parseBackendLabel(label);
  return { name, options: name === 'wasm' ? { threads: 1, ...options } : options };
}
