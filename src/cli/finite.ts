// Weight files that hold NaN or Infinity (a diverged run, a corrupt download) are refused by name before a
// model is built from them: a NaN weight gives meaningless predictions, never an error, further on.
import { fail, fmt } from '../errors.js';
import type { Tensor } from '../tensor.js';

/** Throws a GpugradError naming the first tensor of `state` with a non-finite value, and how many it holds. */
export async function refuseNonFinite(op: string, path: string, state: ReadonlyMap<string, Tensor>): Promise<void> {
  for (const [key, t] of state) {
    const d = await t.data();
    let first = -1;
    let count = 0;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) {
        if (first < 0) first = i;
        count++;
      }
    }
    if (first >= 0) {
      fail(op, `${path}: '${key}' ${fmt(t.shape)} holds ${d[first]} at flat index ${first} (${count} of ${d.length} values are not finite); the weights are corrupt or come from a run that diverged`);
    }
  }
}

/** The first tensor holding NaN or ±Infinity, with the offending value; null when all are finite. */
export async function firstNonFinite(named: Iterable<[string, Tensor]>): Promise<{ name: string; value: number } | null> {
  for (const [name, t] of named) {
    const bad = (await t.data()).find((v) => !Number.isFinite(v));
    if (bad !== undefined) return { name, value: bad };
  }
  return null;
}
