// The worker pool: each worker instantiates the same kernel module over the same shared memory and waits on
// a control block; the main thread posts one call (export + per-thread arguments), runs its own share,
// then blocks on Atomics.wait until the workers are done, so ops stay synchronous at the API.
import { Worker } from 'node:worker_threads';

// Control block layout (Int32 slots), then Float64 argument slots per thread.
const GEN = 0;
const PENDING = 1;
const QUIT = 2;
const FN = 3;
const ACTIVE = 4;
const ERROR = 5;
const ARGS_AT = 8; // in float64 slots (64 bytes)
const MAX_ARGS = 24;
/** Polls before a thread sleeps (~50–200 µs): long enough to bridge the gap between consecutive ops. */
const SPIN = 1 << 16;

// Worker source, evaluated as CommonJS so it runs the same from dist (plain node) and under vitest/tsx,
// where a .ts worker file would not load. It only needs the module, the memory and the control block.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctrl, tid, names } = workerData;
const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
const fns = names.map((n) => inst.exports[n]);
const i32 = new Int32Array(ctrl);
const f64 = new Float64Array(ctrl);
parentPort.postMessage('ready');
let seen = Atomics.load(i32, ${GEN});
for (;;) {
  // Spin briefly before sleeping: a forward pass posts calls back to back, and waking a sleeping thread
  // (futex) costs tens to hundreds of microseconds, more than many of the calls themselves.
  let g = Atomics.load(i32, ${GEN});
  for (let s = 0; g === seen && s < ${SPIN}; s++) g = Atomics.load(i32, ${GEN});
  if (g === seen) {
    Atomics.wait(i32, ${GEN}, seen);
    continue;
  }
  seen = g;
  if (Atomics.load(i32, ${QUIT})) break;
  if (tid >= i32[${ACTIVE}]) continue;
  try {
    const at = ${ARGS_AT} + tid * ${MAX_ARGS};
    const fn = fns[i32[${FN}]];
    const args = [];
    for (let i = 0; i < fn.length; i++) args.push(f64[at + i]);
    fn(...args);
  } catch (e) {
    Atomics.store(i32, ${ERROR}, 1);
  }
  if (Atomics.sub(i32, ${PENDING}, 1) === 1) Atomics.notify(i32, ${PENDING});
}
`;

export class WorkerPool {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly workers: Worker[] = [];
  private readonly index = new Map<string, number>();

  private constructor(readonly threads: number, private readonly names: readonly string[], ctrl: SharedArrayBuffer) {
    this.i32 = new Int32Array(ctrl);
    this.f64 = new Float64Array(ctrl);
    names.forEach((n, i) => this.index.set(n, i));
  }

  /** Starts `threads - 1` workers (the main thread is thread 0). */
  static async start(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[]): Promise<WorkerPool> {
    const ctrl = new SharedArrayBuffer((ARGS_AT + threads * MAX_ARGS) * 8);
    const pool = new WorkerPool(threads, names, ctrl);
    const ready: Promise<void>[] = [];
    for (let tid = 1; tid < threads; tid++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, ctrl, tid, names } });
      w.unref(); // an idle pool must not keep the process alive
      pool.workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
      );
    }
    await Promise.all(ready);
    return pool;
  }

  /**
   * Runs export `name` on thread t with args[t] (args.length ≤ threads), thread 0 on the calling thread via
   * `local`, and returns when all are done.
   */
  run(name: string, args: readonly (readonly number[])[], local: (...a: number[]) => void): void {
    const n = args.length;
    if (n === 1 || this.threads === 1) {
      for (const a of args) local(...a);
      return;
    }
    const fn = this.index.get(name);
    if (fn === undefined) throw new Error(`wasm pool: unknown kernel ${name}`);
    for (let t = 1; t < n; t++) {
      const at = ARGS_AT + t * MAX_ARGS;
      args[t].forEach((v, i) => (this.f64[at + i] = v));
    }
    this.i32[FN] = fn;
    this.i32[ACTIVE] = n;
    Atomics.store(this.i32, PENDING, n - 1);
    Atomics.add(this.i32, GEN, 1);
    Atomics.notify(this.i32, GEN);
    local(...args[0]);
    let p = Atomics.load(this.i32, PENDING);
    for (let s = 0; p !== 0 && s < SPIN; s++) p = Atomics.load(this.i32, PENDING);
    for (; p !== 0; p = Atomics.load(this.i32, PENDING)) Atomics.wait(this.i32, PENDING, p);
    if (Atomics.exchange(this.i32, ERROR, 0) !== 0) throw new Error(`wasm pool: kernel ${name} trapped in a worker`);
  }

  destroy(): void {
    Atomics.store(this.i32, QUIT, 1);
    Atomics.add(this.i32, GEN, 1);
    Atomics.notify(this.i32, GEN);
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
