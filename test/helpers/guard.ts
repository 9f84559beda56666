// The wall-time and memory guard of the hostile-input tests: runs one case and reports how long it took, how far
// it raised the process's peak resident memory (getrusage's maxRSS, which no transient spike escapes) and what it
// threw.
export interface Guarded<T> {
  value?: T;
  error?: unknown;
  ms: number;
  /** Growth of the peak RSS during the case, in MB (0 when the case stayed below an earlier peak). */
  peakMB: number;
}

export async function guarded<T>(fn: () => T | Promise<T>): Promise<Guarded<T>> {
  const peak0 = process.resourceUsage().maxRSS;
  const t0 = performance.now();
  const out: Guarded<T> = { ms: 0, peakMB: 0 };
  try {
    out.value = await fn();
  } catch (e) {
    out.error = e;
  }
  out.ms = performance.now() - t0;
  out.peakMB = (process.resourceUsage().maxRSS - peak0) / 1024;
  return out;
}

/** The limits every crafted file must be refused within. */
export const REFUSE_MS = 1000;
export const REFUSE_MB = 100;
