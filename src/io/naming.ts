// Error context for file readers: a reader's refusal rethrown under the caller's op with the file's path in front.
// No file system, so browser-safe modules (src/models/netconfig.ts) use it as well as the Node helpers.
import { fail, GpugradError } from '../errors.js';

/** Runs a reader on a file's bytes; its refusals are rethrown under `op` with the file's path in front. */
export function namingFile<T>(op: string, path: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof GpugradError)) throw e;
    return fail(op, `${path}: ${e.message}`);
  }
}
