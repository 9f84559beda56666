// One onnxruntime-web measurement in its own process (the wasm thread count is fixed per process):
// args ONNX INPUT.f32 N,C,H,W THREADS TIME_MS MIN_ITER OUT.f32; prints a JSON report as its last line.
import { readFile, writeFile } from 'node:fs/promises';
import { importPeer, timeSession, type OrtModule } from './ort.js';

async function main(): Promise<void> {
  const [onnxPath, inputPath, shapeArg, threads, timeMs, minIter, outPath] = process.argv.slice(2);
  const ort = await importPeer<OrtModule>('onnxruntime-web');
  if (typeof ort === 'string') throw new Error(ort);
  ort.env.wasm.numThreads = Number(threads);
  ort.env.wasm.simd = true;
  // Passed as bytes: onnxruntime-web's Node build fetches paths as URLs.
  const model = new Uint8Array(await readFile(onnxPath));
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const b = await readFile(inputPath);
  const input = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const { logits, timing } = await timeSession(ort, session, input, shapeArg.split(',').map(Number), Number(timeMs), Number(minIter));
  await writeFile(outPath, new Uint8Array(logits.buffer));
  console.log(JSON.stringify({ logitsPath: outPath, timing }));
  await session.release?.();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.log(JSON.stringify({ error: (e as Error).message.split('\n')[0] }));
    process.exit(0);
  },
);
