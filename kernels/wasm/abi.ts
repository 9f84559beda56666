// The wasm kernels' calling convention, written once per kernel: a signature (its parameter names in call
// order, and their types) sits next to the kernel's emitter, which takes its parameter indices from it, and
// callers pass an object with those names that the same signature turns into the positional call. Neither
// side repeats the order, so a parameter added, removed or swapped is a compile error at every call site.
import { F32, Func, I32, type ValType } from './emit.js';

/**
 * Float64 argument slots per piece in the worker pool's control block: no kernel may take more, and a paired
 * piece (WorkerPool.run's `then`: packImB's 18 and a GEMM's 10) must fit both kernels' arguments.
 */
export const MAX_ARGS = 32;

export interface Signature<P extends string = string> {
  /** Parameter names in call order. */
  readonly params: readonly P[];
  /** Their wasm types, in the same order. */
  readonly types: readonly ValType[];
  readonly results: readonly ValType[];
}

/** A kernel call's arguments by name: byte addresses, element counts and scalars, all as JS numbers. */
export type ArgsOf<S> = S extends Signature<infer P> ? { readonly [K in P]: number } : never;

/** A compiled kernel export (returns a value only for kernels declared with one, e.g. sumrun). */
export type KernelFn = (...args: number[]) => unknown;

/** A signature whose parameters are i32 unless named in `f32`. */
export function signature<const P extends string>(params: readonly P[], opt: { f32?: readonly P[]; result?: ValType } = {}): Signature<P> {
  if (params.length > MAX_ARGS) throw new Error(`wasm kernel signature: ${params.length} parameters, at most ${MAX_ARGS}`);
  if (new Set(params).size !== params.length) throw new Error(`wasm kernel signature: repeated parameter in ${params.join(', ')}`);
  const f32 = new Set<string>(opt.f32 ?? []);
  return { params, types: params.map((p) => (f32.has(p) ? F32 : I32)), results: opt.result === undefined ? [] : [opt.result] };
}

/** An empty function body of signature `sig`, and each parameter's local index by name. */
export function funcOf<P extends string>(sig: Signature<P>): { f: Func; p: Record<P, number> } {
  const p = {} as Record<P, number>;
  sig.params.forEach((name, i) => (p[name] = i));
  return { f: new Func([...sig.types], [...sig.results]), p };
}

/** The positional argument list of a call with signature `sig`. */
export function argList<S extends Signature>(sig: S, args: ArgsOf<S>): number[] {
  const named = args as Readonly<Record<string, number>>;
  const out = new Array<number>(sig.params.length);
  for (let i = 0; i < out.length; i++) out[i] = named[sig.params[i]];
  return out;
}

/** One signature shared by a family of kernels (e.g. every bin_<op>_<mode>), as a table entry per name. */
export function family<N extends string, S extends Signature>(names: readonly N[], sig: S): Record<N, S> {
  const out = {} as Record<N, S>;
  for (const n of names) out[n] = sig;
  return out;
}

/** The `default:` of an exhaustive switch: a compile error when a case is missing, a throw if one slips through at run time. */
export function unreachable(x: never, what: string): never {
  throw new Error(`${what}: unhandled ${String(x)}`);
}
