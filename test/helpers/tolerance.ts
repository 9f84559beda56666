// The float32 backends' tolerance, shared by the Node test backends (backends.ts) and the browser ones
// (browser/backends.ts), so a browser run is held to the same bounds.

/** Allowed error for a result summing `k` float32 products: grows with √k (rounding errors accumulate as a random walk). */
export const f32 = (k: number): { atol: number; rtol: number } => ({ atol: 2e-6 * Math.sqrt(k + 1), rtol: 2e-5 * Math.sqrt(k + 1) });
