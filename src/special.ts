// Special functions JavaScript's Math lacks, in float64: erf (the exact GELU and the erf primitive's host kernels).

/**
 * The error function to ~1e-15: its Maclaurin series below |x| = 3 (terms stay below e^9, so about 12 digits
 * survive cancellation even at the edge), erfc's continued fraction above, ±1 beyond |x| = 6.
 */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  if (a < 3) {
    // erf(x) = 2/√π · Σ (−1)ⁿ x^(2n+1) / (n!(2n+1))
    let term = x;
    let s = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      s += add;
      if (Math.abs(add) < 1e-17 * Math.abs(s)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * s;
  }
  // erfc(a) = e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …)))), evaluated from the tail.
  let f = a;
  for (let k = 80; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/**
 * erf to float32 resolution (relative error below 1.2e-7) in one exp: erfc(|x|) ≈ t·e^(−x² + P(t)), t = 1/(1 + |x|/2),
 * a Chebyshev fit (Numerical Recipes' erfcc). For float32 kernels, where erf64's series would be ~10× slower.
 */
export function erf32(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.5 * a);
  const p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = 1 - t * Math.exp(-a * a + p);
  return x < 0 ? -r : r;
}
