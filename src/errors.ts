// Errors that gpugrad throws: every one names the op, the argument and the rule that was broken.

/** Thrown for any invalid call into gpugrad. `op` is the public op or function that refused the call. */
export class GpugradError extends Error {
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'GpugradError';
    this.op = op;
  }
}

/** Formats a shape the way error messages print it: [2,3,4]. */
export function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function fail(op: string, message: string): never {
  throw new GpugradError(op, message);
}
