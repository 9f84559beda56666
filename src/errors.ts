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

/**
 * Names a value for a refusal, the way a JavaScript caller would recognise it: 'the string "3"', 'null',
 * 'an array of length 2', 'a Tensor [2,3]', 'a Map'.
 */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)}`;
  if (typeof v === 'bigint') return `the BigInt ${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean') return `the ${typeof v} ${v}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  const name = (v as object).constructor?.name;
  // Tensor is named by shape without importing it (tensor.ts imports this file).
  const shape = (v as { shape?: unknown }).shape;
  if (name === 'Tensor' && Array.isArray(shape)) return `a Tensor ${fmt(shape as number[])}`;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}
