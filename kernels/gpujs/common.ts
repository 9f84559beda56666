// Shared helpers for the gpu.js kernel sources: the kernel description the adapter compiles, and code
// generators for index arithmetic. Sizes are baked into the source as literals (gpu.js then sees constants,
// which is faster than arguments and keeps every loop bound fixed), so one source = one layer shape.

/**
 * What the adapter needs to compile and run one kernel. `Out` is the output's form: a number for the 1-D kernels
 * of every op (the adapter checks it against the flat-index limit), gpu.js output dims (x first) for the GEMM
 * pipeline's 2-D kernels, which would otherwise put that limit and GL's 16384 texture side on C itself.
 */
export interface KernelSpec<Out extends number | number[] = number> {
  /** Op name, for logs and cache statistics. */
  op: string;
  /** A gpu.js kernel function as source text (`function(a, b) { ... }`). */
  source: string;
  /** The kernel's output: its size (1-D), or gpu.js output dims. */
  output: Out;
  /** The largest loop bound in the source; the adapter raises `loopMaxIterations` above it. */
  maxLoop: number;
  /** Each thread returns 4 values (gpu.js output type Array(4)). */
  vec4?: boolean;
  /**
   * Kernel-map outputs (GL only: extra render targets; webasm would fall back to cpu): name → source of a
   * function that returns its argument. The kernel calls it with each extra output's value.
   */
  subKernels?: Record<string, string>;
  /** gpu.js constants (webasm types integer constants i32, so index maths on them stays integer). */
  constants?: Record<string, number>;
}

/** An integer literal; guards against NaN/fractions sneaking into generated index code. */
export function int(v: number): string {
  if (!Number.isInteger(v)) throw new Error(`gpujs kernel generator: ${v} is not an integer`);
  return String(v);
}

/** A float literal gpu.js types as Float (always with a decimal point or exponent). */
export function flt(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`gpujs kernel generator: ${v} is not finite`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * NaN computed at run time from a variable: WGSL refuses the constant 0.0 / 0.0 ("cannot be represented"),
 * while (v − v)/(v − v) is 0/0 for finite v and NaN/NaN otherwise on every mode.
 */
export function nanFrom(v: string): string {
  return `((${v} - ${v}) / (${v} - ${v}))`;
}

/**
 * Code that splits the flat index in variable `src` over `dims` (row-major) and accumulates, for every
 * stride list in `strides`, the offset `names[i] += coord * strides[i][axis]`. Uses floor and subtraction
 * rather than `%`, which gpu.js translates differently per mode. Exact while the index is below 2^24.
 */
export function decode(src: string, dims: readonly number[], names: readonly string[], strides: readonly (readonly number[])[], tag = 'd'): string {
  const lines: string[] = [];
  for (const nm of names) lines.push(`let ${nm} = 0.0;`);
  lines.push(`let ${tag}q = ${src};`);
  for (let k = dims.length - 1; k >= 0; k--) {
    const d = dims[k];
    const used = strides.some((s) => s[k] !== 0);
    if (d === 1) continue;
    if (!used) {
      lines.push(`${tag}q = Math.floor(${tag}q / ${flt(d)});`);
      continue;
    }
    lines.push(`let ${tag}n${k} = Math.floor(${tag}q / ${flt(d)});`);
    lines.push(`let ${tag}c${k} = ${tag}q - ${tag}n${k} * ${flt(d)};`);
    lines.push(`${tag}q = ${tag}n${k};`);
    strides.forEach((s, i) => {
      if (s[k] !== 0) lines.push(`${names[i]} += ${tag}c${k} * ${flt(s[k])};`);
    });
  }
  return lines.join('\n');
}

/**
 * ReLU that keeps NaN, as torch.relu: the explicit v != v test because GLSL leaves comparisons with NaN (and
 * max) undefined, so `v < 0.0 ? 0.0 : v` alone could still be folded into max(v, 0.0) and lose it.
 */
export const reluExpr = (v: string): string => `(${v} != ${v} ? ${v} : (${v} < 0.0 ? 0.0 : ${v}))`;
