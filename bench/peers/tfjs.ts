// TensorFlow.js peers (`cpu` and `wasm` backends): the same ResNet (basic or bottleneck blocks) rebuilt from the same state
// dict with tfjs ops in NHWC, TensorFlow's native layout. Batch norm stays unfolded, as in the model.
import { cold, warm, type Timing } from '../common.js';
import { importPeer, type PeerResult } from './ort.js';
import { TfResNet, type Tf, type Weights } from './tfjs-model.js';

export { TfResNet, type Weights } from './tfjs-model.js';

/** Loads tfjs-core with its cpu and wasm backends, or says why it cannot. */
export async function loadTf(): Promise<Tf | string> {
  const core = await importPeer<Tf>('@tensorflow/tfjs-core');
  if (typeof core === 'string') return core;
  for (const b of ['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm']) {
    const m = await importPeer<object>(b);
    if (typeof m === 'string') return m;
  }
  // tfjs-wasm's threaded build cannot start its workers in Node (their URL is a blob): force one thread.
  // (tfjs 4.22 already answers false here under Node, tfjs issue #3830, and setThreadsCount(n) then has no
  // effect: getThreadsCount() reports 1; forcing the flag to true makes the wasm backend fail to start.)
  core.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  return core;
}

/** Eval forward on each tfjs backend; `input` is NCHW as everywhere else and is transposed once, untimed. */
export async function runTfjs(weights: Weights, input: Float32Array, shape: readonly number[], backends: string[], timeMs: number, minIter: number): Promise<PeerResult[]> {
  const tf = await loadTf();
  const name = (b: string): string => `TensorFlow.js ${b}${b === 'wasm' ? ' (1 thread)' : ''}`;
  if (typeof tf === 'string') return backends.map((b) => ({ system: name(b), skipped: tf }));
  const results: PeerResult[] = [];
  for (const b of backends) {
    try {
      if (!(await tf.setBackend(b))) throw new Error(`backend '${b}' did not start`);
      await tf.ready();
      const model = new TfResNet(tf, weights);
      const nchw = tf.tensor(input, shape);
      const x = tf.transpose(nchw, [0, 2, 3, 1]);
      nchw.dispose();
      const once = async (): Promise<Float32Array> => {
        const y = model.forward(x);
        const v = await y.data();
        y.dispose();
        return v;
      };
      const first = await cold(once);
      // tfjs's pure-JS backend can take a minute per 224² forward on a busy machine: then the cold call is all.
      const timing: Timing = first.ms > 20000 ? { coldMs: first.ms, medianMs: first.ms, samples: 0 } : await warm(once, first.ms, timeMs, minIter);
      const logits = first.value;
      x.dispose();
      model.dispose();
      results.push({ system: name(b), logits, timing });
    } catch (e) {
      results.push({ system: name(b), skipped: `failed: ${(e as Error).message.split('\n')[0]}` });
    }
  }
  return results;
}
