// Side-by-side ResNet-50 eval (224², batch 1) in ONE process, run by run alternating between systems, so a
// shared, loaded machine slows every system alike and the ratios hold where absolute times do not:
//
//   node --experimental-wasm-relaxed-simd --import tsx bench/ratio.ts [--rounds 15] [--systems LIST] [--model resnet50|resnet18]
//
// Systems (comma list, timed in this order within each round):
//   default          gpugrad's default backend exactly as a script gets it: no setBackend, no readyBackend()
//                    (must come first: it is the first backend the process creates)
//   wasm:LABEL       a gpugrad wasm backend of test/helpers/backends.ts, e.g. wasm:threads2, wasm:simd128:threads2;
//                    LABEL/noprepack: the same without pre-packed weights (a separate backend instance);
//                    LABEL/nowinograd: the same with Winograd off (im2col + GEMM for every 3×3 conv)
//   ort2 / ort1      onnxruntime-web (wasm SIMD) with 2 / 1 threads (one thread count per process; resnet50 only)
// Logits of every system are checked against PyTorch's (the bench fixture) before any time is reported.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { enableRelaxedSimd, getBackend, loadSafetensors, noGrad, registerBackend, resnet18, resnet50, setBackend, tidy, tensor, WasmBackend, type ResNet, type Tensor } from '../src/node.js';
import { testBackends } from '../test/helpers/backends.js';
import { relMaxErr } from './common.js';
import { prepareFixture, seededResNet50 } from './peers/fixture.js';
import { importPeer, type OrtModule } from './peers/ort.js';

if (process.env.GPUGRAD_WASM_RELAXED !== '0') enableRelaxedSimd();

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}
const rounds = Number(arg('rounds', '15'));
const systems = arg('systems', 'default,ort2').split(',');
const modelName = arg('model', 'resnet50');

interface System {
  name: string;
  run: () => Promise<Float32Array>;
  times: number[];
  /** Process CPU ms per run (all threads): on a loaded machine, the better measure for 1-thread systems. */
  cpu: number[];
  coldMs?: number;
}

const fx = modelName === 'resnet50' ? await prepareFixture(224, 1, (s) => console.log(s)) : null;
const inputData = fx ? fx.input : Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.37));
const weights = fx ? fx.weightsPath : null;

// A second registration of the wasm backend, so the same options can be timed with and without pre-packing.
registerBackend('wasm-noprepack', (o) => WasmBackend.open({ threads: o.threads, relaxed: o.relaxed, prepack: false }));
registerBackend('wasm-nowinograd', (o) => WasmBackend.open({ threads: o.threads, relaxed: o.relaxed, winograd: 'off' }));

async function gpugradSystem(spec: string): Promise<System> {
  const [label, variant] = spec.split('/');
  if (label !== 'default') {
    const tb = testBackends.find((t) => t.label === label);
    if (!tb) throw new Error(`unknown gpugrad backend label '${label}'`);
    await setBackend(variant === 'noprepack' ? 'wasm-noprepack' : variant === 'nowinograd' ? 'wasm-nowinograd' : tb.name, tb.options ?? {});
  }
  // 'default': the first tensor below starts the default backend (its worker pool boots in the background).
  let model: ResNet;
  if (weights) {
    model = resnet50();
    const state = await loadSafetensors(weights);
    model.loadStateDict(state);
    for (const t of state.values()) t.dispose();
  } else model = modelName === 'resnet18' ? resnet18() : seededResNet50(0);
  model.eval();
  const x = tensor(inputData, [1, 3, 224, 224]);
  const name = `gpugrad ${label === 'default' ? `default (${getBackend()}, no readyBackend)` : getBackend()}${variant ? ` ${variant}` : ''}`;
  return { name, times: [], cpu: [], run: async () => noGrad(() => tidy(() => (model.forward(x) as Tensor).dataSync())) };
}

async function ortSystem(threads: number): Promise<System> {
  if (!fx?.onnxPath) throw new Error(`onnxruntime-web needs the ResNet-50 ONNX fixture: ${fx?.exportNote ?? 'model is not resnet50'}`);
  const ort = await importPeer<OrtModule>('onnxruntime-web');
  if (typeof ort === 'string') throw new Error(ort);
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(fx.onnxPath)), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', inputData, [1, 3, 224, 224]) };
  return {
    name: `onnxruntime-web wasm ${threads} thread${threads > 1 ? 's' : ''}`,
    times: [],
    cpu: [],
    run: async () => Float32Array.from((await session.run(feeds))[session.outputNames[0]].data as Float32Array),
  };
}

const list: System[] = [];
for (const s of systems) list.push(s.startsWith('ort') ? await ortSystem(Number(s.slice(3))) : await gpugradSystem(s));

console.log(`machine: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}, node ${process.version}, load average at start ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
console.log(`command: node ${process.execArgv.join(' ')} ${process.argv.slice(1).join(' ')}`);
// Cold run (first forward: compilation, worker start-up) and the agreement check.
for (const s of list) {
  const t0 = performance.now();
  const logits = await s.run();
  s.coldMs = performance.now() - t0;
  if (fx?.torchLogits) {
    const e = relMaxErr(logits, fx.torchLogits);
    if (!(e <= 1e-3)) throw new Error(`${s.name}: logits disagree with PyTorch's (relative max error ${e})`);
  }
}
for (let r = 0; r < rounds; r++)
  for (const s of list) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await s.run();
    s.times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    s.cpu.push((c.user + c.system) / 1000);
  }
const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = list.find((s) => s.name.startsWith('onnxruntime-web wasm 2')) ?? list[list.length - 1];
console.log(`load average at end ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}; ${rounds} alternating rounds after one cold run each`);
const first = list[0];
console.log(`| system (${modelName} eval 224² b1) | cold ms | median ms | min ms | × ${base.name} | median CPU ms (all threads) | CPU × ${first.name} |`);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const s of list)
  console.log(`| ${s.name} | ${(s.coldMs ?? 0).toFixed(0)} | ${med(s.times).toFixed(0)} | ${Math.min(...s.times).toFixed(0)} | ${(med(s.times) / med(base.times)).toFixed(2)} | ${med(s.cpu).toFixed(0)} | ${(med(s.cpu) / med(first.cpu)).toFixed(2)} |`);
process.exit(0);
