// Per-method wall time of a backend, for finding what does not scale with threads: wraps every method of a
// backend instance so that outermost calls are timed (nested calls count in their caller), plus the worker
// pool's own statistics (kernels/wasm/pool.ts poolProfile). Used by bench/eval-profile.ts (Node) and by
// bench/browser/page.ts with ?profile=1 (Chromium), so both report the same rows.
import { poolProfile, type PoolStats } from '../kernels/wasm/pool.js';
import type { WindowGeometry } from '../src/backend.js';

export interface ProfileRow {
  method: string;
  ms: number;
  calls: number;
}

export interface BackendProfiler {
  /** Zeroes the counters (call after warm-up). */
  reset(): void;
  /** Rows per method (per forward: totals ÷ `per`), slowest first, and the pool's statistics. */
  report(per: number): { rows: ProfileRow[]; inside: number; pool: PoolStats | null };
}

/** Instruments `backend` in place (its own methods shadow the prototype's); convEpilogue is keyed by kernel shape. */
export function profileBackend(backend: object): BackendProfiler {
  const be = backend as Record<string, unknown>;
  const times = new Map<string, [number, number]>();
  const kernels = new Map<string, [number, number]>();
  let depth = 0;
  const names = new Set([...Object.getOwnPropertyNames(Object.getPrototypeOf(be)), ...Object.keys(be)]);
  for (const k of names) {
    const f = be[k];
    if (typeof f !== 'function' || k === 'constructor') continue;
    be[k] = function (this: unknown, ...a: unknown[]) {
      if (k === 'par' || k === 'parThen') {
        // The backend's kernel dispatch (split over threads or not), timed per kernel even inside other methods.
        const t0 = performance.now();
        try {
          return (f as (...x: unknown[]) => unknown).apply(be, a);
        } finally {
          const key = `  kernel ${String(a[0])}${k === 'parThen' ? `+${String(a[2])}` : ''}`;
          const e = kernels.get(key) ?? [0, 0];
          e[0] += performance.now() - t0;
          e[1]++;
          kernels.set(key, e);
        }
      }
      if (depth++ > 0) {
        try {
          return (f as (...x: unknown[]) => unknown).apply(be, a);
        } finally {
          depth--;
        }
      }
      const t0 = performance.now();
      try {
        return (f as (...x: unknown[]) => unknown).apply(be, a);
      } finally {
        depth--;
        const g = a[2] as WindowGeometry;
        const key = k === 'convEpilogue' ? `convEpilogue ${g.kh}x${g.kw}s${g.sh}` : k;
        const e = times.get(key) ?? [0, 0];
        e[0] += performance.now() - t0;
        e[1]++;
        times.set(key, e);
      }
    };
  }
  poolProfile(true);
  return {
    reset() {
      times.clear();
      kernels.clear();
      poolProfile(true);
    },
    report(per) {
      const rows = [...times.entries()].map(([method, [ms, n]]) => ({ method, ms: ms / per, calls: n / per })).sort((a, b) => b.ms - a.ms);
      const inside = rows.reduce((s, r) => s + r.ms, 0);
      // Kernel dispatches (inside the methods above), after them.
      rows.push(...[...kernels.entries()].map(([method, [ms, n]]) => ({ method, ms: ms / per, calls: n / per })).sort((a, b) => b.ms - a.ms));
      const p = poolProfile();
      const pool = p && { ...p, calls: p.calls / per, pieces: p.pieces / per, mainPieces: p.mainPieces / per, lateCalls: p.lateCalls / per, runMs: p.runMs / per, localMs: p.localMs / per, waitMs: p.waitMs / per, workerSleeps: p.workerSleeps / per };
      return { rows, inside, pool };
    },
  };
}

/** Nanoseconds per Atomics.load poll of a shared Int32Array on this thread (what the pool's spin loops cost per turn). */
export function pollNs(): number {
  const i32 = new Int32Array(new SharedArrayBuffer(64));
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    let g = 0;
    for (let s = 0; g === 0 && s < 1 << 20; s++) g = Atomics.load(i32, 0);
    best = Math.min(best, ((performance.now() - t0) * 1e6) / (1 << 20));
  }
  return best;
}

/** The report as text lines. */
export function profileLines(total: number, r: ReturnType<BackendProfiler['report']>): string[] {
  const out = r.rows.filter((x) => x.ms >= 0.05).map((x) => `${x.method.padEnd(24)} ${x.ms.toFixed(2).padStart(8)} ms ${x.calls.toFixed(0).padStart(5)} calls`);
  out.push(`total ${total.toFixed(1)} ms per forward, in backend ${r.inside.toFixed(1)}, outside ${(total - r.inside).toFixed(1)}`);
  const p = r.pool;
  if (p)
    out.push(
      `pool: ${p.calls.toFixed(0)} calls, ${p.pieces.toFixed(0)} pieces (caller ran ${p.mainPieces.toFixed(0)}), late workers in ${p.lateCalls.toFixed(0)} calls, ` +
        `${p.workerSleeps.toFixed(0)} worker sleeps; caller in run() ${p.runMs.toFixed(1)} ms = pieces ${p.localMs.toFixed(1)} + waiting ${p.waitMs.toFixed(1)}`,
    );
  out.push(`Atomics.load poll: ${pollNs().toFixed(2)} ns on this thread`);
  return out;
}
