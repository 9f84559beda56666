// Child process for gpujs.test.ts: one process asks for webgpu and then for headlessgl (or the reverse, argv[2]).
// Prints what each ran as and why; the point is that the second never takes the process down with an X error.
import { GpujsBackend, installWebGPU, gpujsModeAvailable } from '../src/backends/gpujs/index.js';

const relu = async (b: GpujsBackend): Promise<number[]> => Array.from(await b.read(b.unary('relu', b.upload(Float32Array.from([1, -2, 3])), 0)));
const out: Record<string, unknown> = {};
console.warn = (): void => undefined;
for (const step of process.argv[2] === 'gl-first' ? ['headlessgl', 'webgpu'] : ['webgpu', 'headlessgl']) {
  if (step === 'headlessgl') out.headlessglAvailable = gpujsModeAvailable('headlessgl');
  else out.webgpuWhy = await installWebGPU();
  const b = step === 'webgpu' ? await GpujsBackend.create('webgpu') : new GpujsBackend('headlessgl');
  out[step] = { ranAs: b.gpuMode, fallbackReason: b.fallbackReason, relu: await relu(b) };
}
console.log(JSON.stringify(out));
