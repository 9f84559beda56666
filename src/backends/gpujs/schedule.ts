// When the gpu.js adapter's operations run. On the synchronous modes (cpu, webasm on the calling thread, GL) at
// once. On the asynchronous ones (threaded webasm, webgpu: gpu.js answers with Promises) the deferred-execution
// rule: an op hands out its output storage at once and its kernels run later, in call order; `read` waits for
// every op queued before it; `release` is ordered after the pending ops that may still use the storage; a failed
// op's error lands on its outputs and is thrown by whoever uses them next.
import { fail } from '../../errors.js';

/**
 * One backend operation written once for both kinds of gpu.js mode: it yields whatever a kernel call returned
 * (a value, or on the asynchronous modes a Promise of one) and is resumed with the value. Synchronous modes
 * drive it to the end at once (`finish`); asynchronous ones queue it behind earlier operations (`finishAsync`).
 */
export type Step<T> = Generator<unknown, T, unknown>;

/** Waits for a kernel's answer inside a step. */
export function* settle<T>(v: T | Promise<T>): Step<T> {
  return (yield v) as T;
}

function finish<T>(g: Step<T>): T {
  let r = g.next();
  while (!r.done) {
    if (r.value instanceof Promise) fail('gpujs', 'internal: a kernel answered asynchronously on a synchronous mode');
    r = g.next(r.value);
  }
  return r.value;
}

async function finishAsync<T>(g: Step<T>): Promise<T> {
  let r = g.next();
  while (!r.done) {
    let v: unknown;
    try {
      v = await r.value;
    } catch (e) {
      r = g.throw(e);
      continue;
    }
    r = g.next(v);
  }
  return r.value;
}

/** A storage that can carry the error of the queued operation that should have filled it. */
export interface Fallible {
  error: unknown;
}

/** Runs a backend's operations now or, when `deferred`, in call order behind each other. */
export class Scheduler {
  /** Settled when every operation queued so far has run; never rejects (failures land on their outputs). */
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly deferred: boolean) {}

  /**
   * An operation with one output: run now, or queued with `pending` (an empty storage) handed out at once and
   * given the result by `fill` when the operation has run.
   */
  one<S extends Fallible>(step: () => Step<S>, pending: () => S, fill: (out: S, result: S) => void): S {
    if (!this.deferred) return finish(step());
    const out = pending();
    this.queue([out], async () => fill(out, await finishAsync(step())));
    return out;
  }

  /** An operation that updates storages in place (the optimizer steps, copyInto). */
  inPlace(touched: readonly (Fallible | null)[], step: () => Step<void>): void {
    if (!this.deferred) return finish(step());
    this.queue(touched.filter((t): t is Fallible => t !== null), () => finishAsync(step()));
  }

  /** Resolves when every operation queued so far has run. */
  settled(): Promise<void> {
    return this.tail;
  }

  /** Runs `fn` after every operation queued so far (now on the synchronous modes): releases wait for earlier users. */
  after(fn: () => void): void {
    if (this.deferred) this.tail = this.tail.then(fn);
    else fn();
  }

  /** Runs a job after every earlier one; if it fails, `outs` carry the error to whoever uses them next. */
  private queue(outs: readonly Fallible[], job: () => Promise<void>): void {
    this.tail = this.tail.then(job).catch((e: unknown) => {
      for (const o of outs) o.error = e;
    });
  }
}
