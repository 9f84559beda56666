// The browser test program (bundled by harness.ts from the packed package): runs the op property suites on the
// backend named in the URL, then a ResNet-18 eval + training step, and hands the results to the Node side
// (window.__result on a page, postMessage from a Worker).
import { config, parseLabel } from './config.js';
import '../props-core.test.js';
import '../props-graph.test.js';
import '../props-nn.test.js';
import { runRegistered, type TestResult } from './vitest-shim.js';
import * as G from '../../src/index.js';
import { resnetNumbers, type ResnetNumbers } from './resnet-check.js';
import { host } from '../../src/platform.js';

export interface BrowserRunResult {
  host: string;
  isolated: boolean;
  backend: string;
  fallbackReason: string | null;
  defaultChoice: { name: string; reason: string };
  tests: TestResult[];
  resnet: ResnetNumbers | null;
  /** ResNet-50 eval 224² batch 1: median ms of the timed runs. */
  resnet50Ms: number | null;
  fatal?: string;
}

async function resnet50Median(runs: number): Promise<number> {
  const model = G.nn.skipInit(() => G.resnet50());
  model.eval();
  const x = G.randn([1, 3, 224, 224]);
  const times: number[] = [];
  try {
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      const y = G.noGrad(() => model.forward(x));
      await y.data();
      if (i > 0) times.push(performance.now() - t0); // the first run compiles and grows the heap
      y.dispose();
    }
  } finally {
    model.dispose();
    x.dispose();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function main(): Promise<BrowserRunResult> {
  const g = globalThis as { crossOriginIsolated?: boolean };
  const out: BrowserRunResult = {
    host: host(),
    isolated: g.crossOriginIsolated === true,
    backend: '',
    fallbackReason: null,
    defaultChoice: { name: G.defaultBackendChoice().name, reason: G.defaultBackendChoice().reason },
    tests: [],
    resnet: null,
    resnet50Ms: null,
  };
  try {
    const { name, options } = parseLabel(config.backend);
    await G.setBackend(name, options);
    out.backend = G.getBackend();
    out.fallbackReason = G.backendFallbackReason();
    if (config.suites.includes('props')) out.tests = await runRegistered((n) => n.includes(config.grep));
    if (config.suites.includes('resnet')) out.resnet = await resnetNumbers();
    if (config.suites.includes('resnet50')) out.resnet50Ms = await resnet50Median(3);
  } catch (e) {
    out.fatal = String((e as Error)?.stack ?? e);
  }
  return out;
}

const result = main();
if (host() === 'worker') void result.then((r) => (globalThis as unknown as { postMessage(m: unknown): void }).postMessage(r));
else (globalThis as { __result?: Promise<BrowserRunResult> }).__result = result;
