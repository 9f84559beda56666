// The worker pool: each worker instantiates the same kernel module over the same shared memory and waits on
// a control block; the main thread posts one call (an export and its pieces of work), claims pieces like the
// workers until none are left, then waits for pieces still running, so ops stay synchronous at the API.
// Workers are node:worker_threads in Node and Web Workers (from a Blob) in browsers. A browser page's main thread
// may not block (Atomics.wait throws there), so it spins until the workers' pieces are done: it claims pieces
// itself first, so it only spins for the last pieces still running, which is no longer than a futex wake-up.
import { canBlock, nodeBuiltin } from '../../src/platform.js';
import { argList, MAX_ARGS, type KernelFn, type Signature } from './abi.js';
import { KERNELS, type KernelArgs, type KernelName } from './module.js';

// Control block layout (Int32 slots), then Float64 argument slots per piece.
const GEN = 0; // bumped per call; idle workers wait on it
const READY = 1; // workers that are up and waiting for calls (read without the event loop: see isReady)
const QUIT = 2;
const FN = 3;
const DONE = 4; // pieces finished in the current call
const ERROR = 5;
const CLAIM = 6; // (call tag << 20) | (pieces << 10) | next unclaimed piece
const SLEEPS = 7; // times a worker went to sleep in Atomics.wait (read by poolProfile)
const FN2 = 8; // the export each piece runs after FN's (its arguments follow FN's in the piece's slots), or -1
const ARGS_AT = 8; // in float64 slots (64 bytes); then MAX_ARGS slots per piece
/**
 * Where a pool's calls spend the calling thread's time (bench/eval-profile.ts, bench/browser/page.ts ?profile=1):
 * counted while profiling is on (poolProfile), all pools together. Off, a call pays one null check.
 */
export interface PoolStats {
  /** Calls split over threads, and their pieces. */
  calls: number;
  pieces: number;
  /** Pieces the calling thread ran itself. */
  mainPieces: number;
  /** Calls in which no worker had claimed a piece by the time the caller finished its first one (workers late: asleep or descheduled). */
  lateCalls: number;
  /** Milliseconds in run(): all of it, running pieces on the caller, and waiting for workers' pieces after that. */
  runMs: number;
  localMs: number;
  waitMs: number;
  /** Times a worker went to sleep (Atomics.wait) for want of calls. */
  workerSleeps: number;
}
let profile: PoolStats | null = null;
/** Turns profiling on with zeroed counters (true) or off (false), or reads the counters (no argument); null when off. */
export function poolProfile(on?: boolean): PoolStats | null {
  if (on === true) profile = { calls: 0, pieces: 0, mainPieces: 0, lateCalls: 0, runMs: 0, localMs: 0, waitMs: 0, workerSleeps: 0 };
  else if (on === false) profile = null;
  return profile;
}

/** Pieces per call (10 bits in CLAIM). */
export const MAX_PIECES = 64;
/**
 * Pieces per thread when work is split: threads claim pieces as they free up, so a thread that the OS
 * deschedules (another process on the core) delays one piece instead of half the call.
 */
const PIECES_PER_THREAD = 4;
/** Polls before a thread sleeps (~50–200 µs): long enough to bridge the gap between consecutive ops. */
const SPIN = 1 << 16;

// Worker source, evaluated as a script so it runs the same from dist (plain node) and under vitest/tsx,
// where a .ts worker file would not load, and as a classic Web Worker from a Blob in browsers, where bundlers
// need no worker-URL support. It only needs the module, the memory and the control block.
// A piece is claimed by a compare-and-swap on CLAIM, whose value names the call and its piece count, so a
// successful claim is always a valid piece of the current call; its arguments are read after the claim.
const WORKER_SOURCE = `
const boot = ({ module, memory, ctrl, names }, post) => {
const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
const fns = names.map((n) => inst.exports[n]);
const i32 = new Int32Array(ctrl);
const f64 = new Float64Array(ctrl);
let seen = Atomics.load(i32, ${GEN});
Atomics.add(i32, ${READY}, 1);
post('ready');
for (;;) {
  // Spin briefly before sleeping: a forward pass posts calls back to back, and waking a sleeping thread
  // (futex) costs tens to hundreds of microseconds, more than many of the calls themselves.
  let g = Atomics.load(i32, ${GEN});
  for (let s = 0; g === seen && s < ${SPIN}; s++) g = Atomics.load(i32, ${GEN});
  if (g === seen) {
    Atomics.add(i32, ${SLEEPS}, 1);
    Atomics.wait(i32, ${GEN}, seen);
    continue;
  }
  seen = g;
  if (Atomics.load(i32, ${QUIT})) break;
  for (;;) {
    const v = Atomics.load(i32, ${CLAIM});
    const pieces = (v >>> 10) & 1023;
    const next = v & 1023;
    if (next >= pieces) break;
    if (Atomics.compareExchange(i32, ${CLAIM}, v, v + 1) !== v) continue;
    try {
      const at = ${ARGS_AT} + next * ${MAX_ARGS};
      const fn = fns[Atomics.load(i32, ${FN})];
      const args = [];
      for (let i = 0; i < fn.length; i++) args.push(f64[at + i]);
      fn(...args);
      const f2 = Atomics.load(i32, ${FN2});
      if (f2 >= 0) {
        const fn2 = fns[f2];
        const args2 = [];
        for (let i = 0; i < fn2.length; i++) args2.push(f64[at + fn.length + i]);
        fn2(...args2);
      }
    } catch (e) {
      Atomics.store(i32, ${ERROR}, 1);
    }
    if (Atomics.add(i32, ${DONE}, 1) + 1 === pieces) Atomics.notify(i32, ${DONE});
  }
}
};
const wt = typeof process === 'object' && process.getBuiltinModule ? process.getBuiltinModule('node:worker_threads') : null;
if (wt) {
  boot(wt.workerData, (m) => wt.parentPort.postMessage(m));
} else {
  self.onmessage = (e) => boot(e.data, (m) => self.postMessage(m));
}
`;

/**
 * [start, end) ranges covering 0..total, the pieces of a call: one for one thread, PIECES_PER_THREAD per thread
 * otherwise, but never more than a call can carry (MAX_PIECES: a pool of more than 16 threads gets fewer per thread).
 */
export function splitRange(total: number, threads: number): [number, number][] {
  const parts = threads > 1 ? Math.min(MAX_PIECES, threads * PIECES_PER_THREAD) : 1;
  const out: [number, number][] = [];
  for (let t = 0; t < parts; t++) out.push([Math.floor((total * t) / parts), Math.floor((total * (t + 1)) / parts)]);
  return out.filter(([a, b]) => b > a);
}

/**
 * A second kernel run on the same thread right after each piece of a call (WorkerPool.run's `then`): for work
 * whose pieces pair up independently, such as packing a GEMM's column panels and multiplying them, so the packed
 * panels stay in the core's cache and the pair costs one dispatch instead of two.
 */
export interface PairedCall<K extends KernelName> {
  name: K;
  args: readonly KernelArgs<K>[];
  local: KernelFn;
}

/** What the pool needs of a worker on either host. */
interface PoolWorker {
  terminate(): void;
}
interface NodeWorkerThreads {
  Worker: new (src: string, o: { eval: true; workerData: unknown }) => PoolWorker & { unref(): void; once(ev: string, f: (x: unknown) => void): void };
}

/** Starts one worker running WORKER_SOURCE on `data`; resolves once it has instantiated the module. */
function spawn(data: { module: WebAssembly.Module; memory: WebAssembly.Memory; ctrl: SharedArrayBuffer; names: readonly KernelName[] }): { worker: PoolWorker; ready: Promise<void> } {
  const wt = nodeBuiltin<NodeWorkerThreads>('node:worker_threads');
  if (wt) {
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: data });
    w.unref(); // an idle pool must not keep the process alive
    return { worker: w, ready: new Promise((resolve, reject) => (w.once('message', () => resolve()), w.once('error', reject))) };
  }
  if (typeof Worker !== 'function') throw new Error('wasm pool: this runtime has neither node:worker_threads nor Web Workers');
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url, { name: 'gpugrad-wasm' });
  const ready = new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e) => reject(new Error(`wasm pool: a Web Worker failed to start (${e.message || 'blocked, e.g. by a Content-Security-Policy without worker-src blob:'})`));
  }).finally(() => URL.revokeObjectURL(url));
  w.postMessage(data);
  return { worker: w, ready };
}

export class WorkerPool {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly workers: PoolWorker[] = [];
  /** Whether this thread may sleep in Atomics.wait (not on a page's main thread: it spins instead). */
  private readonly block = canBlock();
  private readonly index = new Map<KernelName, number>();
  private tag = 0;
  private allReady = false;
  /** Worker sleeps already counted, and the profile they were counted in (poolProfile). */
  private sleepMark = 0;
  private sleepProfile: PoolStats | null = null;
  /** Resolves once every worker is up (rejects if one fails to start). */
  started: Promise<void> = Promise.resolve();

  private constructor(readonly threads: number, private readonly names: readonly KernelName[], ctrl: SharedArrayBuffer) {
    this.i32 = new Int32Array(ctrl);
    this.f64 = new Float64Array(ctrl);
    names.forEach((n, i) => this.index.set(n, i));
  }

  /**
   * Starts `threads - 1` workers (the main thread is thread 0) without waiting for them: the pool is usable
   * at once (isReady() says when calls are worth splitting), so a synchronous caller can keep running ops
   * while the workers boot; `started` resolves once all are up.
   */
  static launch(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly KernelName[]): WorkerPool {
    const ctrl = new SharedArrayBuffer((ARGS_AT + MAX_PIECES * MAX_ARGS) * 8);
    const pool = new WorkerPool(threads, names, ctrl);
    const ready: Promise<void>[] = [];
    try {
      for (let tid = 1; tid < threads; tid++) {
        const { worker, ready: up } = spawn({ module, memory, ctrl, names });
        pool.workers.push(worker);
        ready.push(up);
      }
    } catch (e) {
      pool.destroy();
      throw e;
    }
    pool.started = Promise.all(ready).then(() => undefined);
    pool.started.catch(() => undefined); // a failed start leaves the pool never ready; callers that await see the error
    return pool;
  }

  /**
   * Whether every worker is up. Read from the shared control block, not from 'ready' messages: a synchronous
   * forward pass never yields to the event loop, yet should switch to all threads as soon as they can take work.
   */
  isReady(): boolean {
    if (!this.allReady) this.allReady = Atomics.load(this.i32, READY) >= this.threads - 1;
    return this.allReady;
  }

  /**
   * Runs export `name` once per argument set (a piece of the work, ≤ MAX_PIECES) and returns when all are
   * done. The calling thread claims pieces like the workers (through `local`, the same export on this
   * thread), so if no worker is scheduled it does the whole call itself and waits for nothing but pieces
   * already started. Arguments go into the control block in the order of the kernel's signature.
   */
  run<K extends KernelName, K2 extends KernelName = K>(name: K, args: readonly KernelArgs<K>[], local: KernelFn, then?: PairedCall<K2>): void {
    const sig: Signature = KERNELS[name];
    const sig2: Signature | null = then ? KERNELS[then.name] : null;
    const n = args.length;
    if (then && then.args.length !== n) throw new Error(`wasm pool: ${n} pieces of ${name} but ${then.args.length} of ${then.name}`);
    // Piece i of a paired call: name's part i, then then.name's part i, on the same thread.
    const piece = (i: number): void => {
      local(...argList(sig, args[i]));
      if (then && sig2) then.local(...argList(sig2, then.args[i]));
    };
    if (n === 1 || this.threads === 1 || !this.isReady()) {
      for (let i = 0; i < n; i++) piece(i);
      return;
    }
    if (n > MAX_PIECES) throw new Error(`wasm pool: ${n} pieces, at most ${MAX_PIECES}`);
    const fn = this.index.get(name);
    const fn2 = then ? this.index.get(then.name) : -1;
    if (fn === undefined || fn2 === undefined) throw new Error(`wasm pool: unknown kernel ${fn === undefined ? name : then?.name}`);
    if (sig2 && sig.params.length + sig2.params.length > MAX_ARGS) throw new Error(`wasm pool: ${name} and ${then?.name} take more than ${MAX_ARGS} arguments together`);
    for (let t = 0; t < n; t++) {
      this.f64.set(argList(sig, args[t]), ARGS_AT + t * MAX_ARGS);
      if (then && sig2) this.f64.set(argList(sig2, then.args[t]), ARGS_AT + t * MAX_ARGS + sig.params.length);
    }
    const i32 = this.i32;
    Atomics.store(i32, FN, fn);
    Atomics.store(i32, FN2, fn2);
    Atomics.store(i32, DONE, 0);
    this.tag = (this.tag + 1) & 0xfff;
    Atomics.store(i32, CLAIM, (this.tag << 20) | (n << 10));
    Atomics.add(i32, GEN, 1);
    Atomics.notify(i32, GEN);
    let err: unknown = null;
    const prof = profile;
    const t0 = prof ? performance.now() : 0;
    let mine = 0;
    for (;;) {
      const v = Atomics.load(i32, CLAIM);
      const next = v & 1023;
      if (next >= n) break;
      if (Atomics.compareExchange(i32, CLAIM, v, v + 1) !== v) continue;
      try {
        piece(next);
      } catch (e) {
        err ??= e;
      }
      Atomics.add(i32, DONE, 1);
      if (prof && mine++ === 0 && (Atomics.load(i32, CLAIM) & 1023) === 1) prof.lateCalls++;
    }
    const t1 = prof ? performance.now() : 0;
    let d = Atomics.load(i32, DONE);
    for (let s = 0; d !== n && s < SPIN; s++) d = Atomics.load(i32, DONE);
    if (this.block) for (; d !== n; d = Atomics.load(i32, DONE)) Atomics.wait(i32, DONE, d);
    else while (d !== n) d = Atomics.load(i32, DONE);
    if (prof) {
      // Sleeps since this pool's last call in the same profile (its first call in a profile only sets the mark).
      const sleeps = Atomics.load(i32, SLEEPS);
      if (this.sleepProfile === prof) prof.workerSleeps += sleeps - this.sleepMark;
      this.sleepMark = sleeps;
      this.sleepProfile = prof;
      const t2 = performance.now();
      prof.calls++;
      prof.pieces += n;
      prof.mainPieces += mine;
      prof.runMs += t2 - t0;
      prof.localMs += t1 - t0;
      prof.waitMs += t2 - t1;
    }
    if (err) throw err;
    if (Atomics.exchange(i32, ERROR, 0) !== 0) throw new Error(`wasm pool: kernel ${name} trapped in a worker`);
  }

  destroy(): void {
    Atomics.store(this.i32, QUIT, 1);
    Atomics.add(this.i32, GEN, 1);
    Atomics.notify(this.i32, GEN);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
