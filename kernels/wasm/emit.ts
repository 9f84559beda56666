// A tiny WebAssembly binary emitter: just enough of the module format and instruction set (incl. the 0xFD
// SIMD prefix) for gpugrad's own CPU kernels, so no C/C++/Rust toolchain or prebuilt binary is needed.

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number): number[] {
  n |= 0;
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** One function body under construction; each method appends an instruction and returns `this`. */
export class Func {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];
  readonly params: ValType[];
  readonly results: ValType[];
  constructor(params: ValType[], results: ValType[] = []) {
    this.params = params;
    this.results = results;
  }
  /** Declares a local and returns its index (parameters come first). */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  private simd(sub: number, ...rest: number[]): this {
    return this.op(0xfd, ...uleb(sub), ...rest);
  }
  // control
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if_(): this { return this.op(0x04, 0x40); }
  else_(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  brIf(depth: number): this { return this.op(0x0d, ...uleb(depth)); }
  /** Calls function `index` of the module (ModuleBuilder.indexOf): its arguments are on the stack. */
  call(index: number): this { return this.op(0x10, ...uleb(index)); }
  select(): this { return this.op(0x1b); }
  // locals
  get(i: number): this { return this.op(0x20, ...uleb(i)); }
  set(i: number): this { return this.op(0x21, ...uleb(i)); }
  tee(i: number): this { return this.op(0x22, ...uleb(i)); }
  // memory (offset in bytes, align as log2)
  f32Load(offset = 0): this { return this.op(0x2a, 2, ...uleb(offset)); }
  f32Store(offset = 0): this { return this.op(0x38, 2, ...uleb(offset)); }
  // constants
  i32(v: number): this { return this.op(0x41, ...sleb(v)); }
  f32(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  // i32 arithmetic and comparisons
  i32Eqz(): this { return this.op(0x45); }
  i32Eq(): this { return this.op(0x46); }
  i32LtS(): this { return this.op(0x48); }
  i32LtU(): this { return this.op(0x49); }
  i32GtS(): this { return this.op(0x4a); }
  i32LeS(): this { return this.op(0x4c); }
  i32GeS(): this { return this.op(0x4e); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32DivS(): this { return this.op(0x6d); }
  i32RemS(): this { return this.op(0x6f); }
  i32And(): this { return this.op(0x71); }
  i32Or(): this { return this.op(0x72); }
  // f32
  f32Eq(): this { return this.op(0x5b); }
  f32Ne(): this { return this.op(0x5c); }
  f32Lt(): this { return this.op(0x5d); }
  f32Gt(): this { return this.op(0x5e); }
  f32Abs(): this { return this.op(0x8b); }
  f32Neg(): this { return this.op(0x8c); }
  f32Sqrt(): this { return this.op(0x91); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f32Mul(): this { return this.op(0x94); }
  f32Div(): this { return this.op(0x95); }
  /** f32.convert_i32_s: e.g. a comparison's 0/1 or an index as a float. */
  f32ConvertI32S(): this { return this.op(0xb2); }
  /** i32.trunc_f32_s: traps on NaN and out of range, so only for floats known to hold small integers. */
  i32TruncF32S(): this { return this.op(0xa8); }
  // SIMD (0xFD prefix)
  v128Load(offset = 0): this { return this.simd(0x00, 4, ...uleb(offset)); }
  v128Load32Splat(offset = 0): this { return this.simd(0x09, 2, ...uleb(offset)); }
  v128Store(offset = 0): this { return this.simd(0x0b, 4, ...uleb(offset)); }
  v128Zero(): this { return this.simd(0x0c, ...new Array<number>(16).fill(0)); }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4ExtractLane(lane: number): this { return this.simd(0x1f, lane); }
  /** i8x16.shuffle given as four f32 lanes picked from the two operands (0-3 first, 4-7 second). */
  f32x4Shuffle(l0: number, l1: number, l2: number, l3: number): this {
    return this.simd(0x0d, ...[l0, l1, l2, l3].flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  v128And(): this { return this.simd(0x4e); }
  v128Or(): this { return this.simd(0x50); }
  /** v128.bitselect from the stack [a, b, mask]: a's bits where mask is 1, b's elsewhere. */
  v128Bitselect(): this { return this.simd(0x52); }
  /** v128.any_true: i32 1 when any bit is set. */
  v128AnyTrue(): this { return this.simd(0x53); }
  i32x4Splat(): this { return this.simd(0x11); }
  i32x4Add(): this { return this.simd(0xae); }
  i32x4Mul(): this { return this.simd(0xb5); }
  i32x4Eq(): this { return this.simd(0x37); }
  /** v128.const of four i32 lanes. */
  i32x4Const(a: number, b: number, c: number, d: number): this {
    return this.simd(0x0c, ...new Uint8Array(new Int32Array([a, b, c, d]).buffer));
  }
  f32x4ConvertI32x4S(): this { return this.simd(0xfa); }
  f32x4Eq(): this { return this.simd(0x41); }
  f32x4Ne(): this { return this.simd(0x42); }
  f32x4Gt(): this { return this.simd(0x44); }
  f32x4Abs(): this { return this.simd(0xe0); }
  f32x4Neg(): this { return this.simd(0xe1); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Pmax(): this { return this.simd(0xeb); }
  /** Relaxed SIMD: a·b + c from the stack [a, b, c], fused (one rounding) where the CPU has FMA. */
  f32x4RelaxedMadd(): this { return this.simd(0x105); }

  /** `for (i = from; i < to; i += step) body()` with i, to as locals; `from`/`step` pushed by callers' closures. */
  forLoop(i: number, from: () => void, to: () => void, step: number, body: () => void): this {
    from();
    this.set(i);
    this.block();
    this.get(i);
    to();
    this.i32GeS().brIf(0);
    this.loop();
    body();
    this.get(i).i32(step).i32Add().tee(i);
    to();
    this.i32LtS().brIf(0);
    this.end().end();
    return this;
  }

  /** The encoded body: local declarations, code and the final `end`. */
  encode(): number[] {
    const groups: number[][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...vec(groups.map(([n, t]) => [...uleb(n), t])), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

export interface MemoryImport {
  module: string;
  name: string;
  initialPages: number;
  maximumPages: number;
  shared: boolean;
}

/** Assembles functions that all import one linear memory into a module binary. */
export class ModuleBuilder {
  private readonly funcs: { name: string; f: Func }[] = [];
  constructor(private readonly memory: MemoryImport) {}

  add(name: string, f: Func): void {
    this.funcs.push({ name, f });
  }

  /** The function index of an export added earlier, for `call` (the module imports no functions, so it is its position). */
  indexOf(name: string): number {
    const i = this.funcs.findIndex((e) => e.name === name);
    if (i < 0) throw new Error(`wasm module: no function ${name} to call (add it first)`);
    return i;
  }

  encode(): Uint8Array<ArrayBuffer> {
    const types: number[][] = [];
    const typeKeys: string[] = [];
    const typeIndex = this.funcs.map(({ f }) => {
      const t = [0x60, ...vec(f.params.map((p) => [p])), ...vec(f.results.map((r) => [r]))];
      const key = t.join(',');
      let i = typeKeys.indexOf(key);
      if (i < 0) {
        i = typeKeys.length;
        typeKeys.push(key);
        types.push(t);
      }
      return i;
    });
    const m = this.memory;
    const limits = m.shared ? [0x03, ...uleb(m.initialPages), ...uleb(m.maximumPages)] : [0x01, ...uleb(m.initialPages), ...uleb(m.maximumPages)];
    const imports = vec([[...str(m.module), ...str(m.name), 0x02, ...limits]]);
    const bytes = [
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      ...section(1, vec(types)),
      ...section(2, imports),
      ...section(3, vec(typeIndex.map((i) => uleb(i)))),
      ...section(7, vec(this.funcs.map(({ name }, i) => [...str(name), 0x00, ...uleb(i)]))),
      ...section(10, vec(this.funcs.map(({ f }) => f.encode()))),
    ];
    return new Uint8Array(bytes) as Uint8Array<ArrayBuffer>;
  }
}
