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
  /** Training losses of the ResNet-50 soak ('soak' suite). */
  soak: number[] | null;
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

/** A ResNet-50 forward at 224² and `steps` SGD steps at 64² batch 2: many distinct kernels in one page. */
async function resnet50Soak(steps: number): Promise<number[]> {
  const model = G.resnet50({ numClasses: 10 });
  const losses: number[] = [];
  try {
    model.eval();
    const x224 = G.randn([1, 3, 224, 224]);
    const y = G.noGrad(() => model.forward(x224));
    await y.data();
    y.dispose();
    x224.dispose();
    model.train();
    const opt = new G.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const x = G.randn([2, 3, 64, 64]);
    for (let i = 0; i < steps; i++) {
      const loss = G.F.crossEntropy(model.forward(x), [1, 2]);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      losses.push(await loss.item());
      loss.dispose();
    }
    x.dispose();
  } finally {
    model.dispose();
  }
  return losses;
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
    soak: null,
  };
  try {
    const { name, options } = parseLabel(config.backend);
    await G.setBackend(name, options);
    out.backend = G.getBackend();
    out.fallbackReason = G.backendFallbackReason();
    if (config.suites.includes('props')) out.tests = await runRegistered((n) => n.includes(config.grep));
    if (config.suites.includes('resnet')) out.resnet = await resnetNumbers();
    if (config.suites.includes('resnet50')) out.resnet50Ms = await resnet50Median(3);
    if (config.suites.includes('soak')) out.soak = await resnet50Soak(10);
  } catch (e) {
    out.fatal = String((e as Error)?.stack ?? e);
  }
  return out;
}

const result = main();
if (host() === 'worker') void result.then((r) => (globalThis as unknown as { postMessage(m: unknown): void }).postMessage(r));
else (globalThis as { __result?: Promise<BrowserRunResult> }).__result = result;
