// Test helper: the GpugradError a call throws (the test fails if it throws anything else or nothing).
import { expect } from 'vitest';
import { GpugradError } from '../../src/index.js';

export function errorOf(fn: () => unknown): GpugradError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GpugradError);
    return e as GpugradError;
  }
  throw new Error('expected a GpugradError');
}
