// Winograd F(2×2,3×3) against the GEMM path (implicit im2col) on the wasm backend's eval conv (convEpilogue with scale, shift
// and ReLU), at ResNet-50's stride-1 3×3 shapes (224² batch 1, and 32² batch 8), on 1 and 2 threads, with
// relaxed SIMD (fused multiply-add) and without. Both paths run on the same backend and weights, alternating,
// with the best of `--rounds` tinybench medians each; GFLOP/s counts direct-conv FLOPs 2·oc·c·9·n·oh·ow.
// The 'auto' column says what winogradWins (src/backends/wasm-winograd.ts) picks for the shape.
// Run: node --experimental-wasm-relaxed-simd --import tsx bench/winograd.ts [--threads 1,2] [--rounds 3] [--time 300]
//   [--shapes n:c:hw,…] (instead of WINOGRAD_SHAPES)
import { WasmBackend } from '../src/backends/wasm.js';
import { winogradWins } from '../src/backends/wasm-winograd.js';
import type { WindowGeometry } from '../src/backend.js';
import { relaxedSimdAvailable } from '../kernels/wasm/module.js';
import { gflops, machine, measure } from './common.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const threadsList = arg('threads', '1,2').split(',').map(Number);
const rounds = Number(arg('rounds', '3'));
const timeMs = Number(arg('time', '300'));

/** [n, c = oc, h = w]: ResNet-50's stride-1 3×3 convs (padding 1) at 224² batch 1 and at 32² batch 8. */
export const WINOGRAD_SHAPES: [number, number, number][] = [
  [1, 64, 56], [1, 128, 28], [1, 256, 14], [1, 512, 7],
  [8, 64, 8], [8, 128, 4], [8, 256, 2], [8, 512, 1],
  // Fewer channels (not ResNet-50's): Winograd wins there too.
  [1, 16, 56], [1, 32, 56], [8, 32, 8],
];

const shapes = process.argv.includes('--shapes') ? arg('shapes', '').split(',').map((s) => s.split(':').map(Number) as [number, number, number]) : WINOGRAD_SHAPES;

function rnd(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

const m = machine();
console.log(`# ${m.cpu}, ${m.cores} cores, Node ${m.node}; rounds ${rounds}, ${timeMs} ms each`);
console.log('| shape | threads | SIMD | GEMM path ms | GFLOP/s | Winograd ms | GFLOP/s | GEMM/Winograd | auto |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const relaxed of relaxedSimdAvailable() ? [true, false] : [false]) {
  for (const threads of threadsList) {
    const be = await WasmBackend.create({ threads, relaxed, winograd: 'off' });
    for (const [n, c, hw] of shapes) {
      const oc = c;
      const g: WindowGeometry = { n, c, h: hw, w: hw, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: hw, ow: hw };
      const flop = 2 * oc * c * 9 * n * hw * hw;
      const [x, w, scale, shift] = [rnd(n * c * hw * hw, 1), rnd(oc * c * 9, 2), rnd(oc, 3), rnd(oc, 4)].map((a) => be.upload(a));
      const call = (): void => be.release(be.convEpilogue(x, w, g, oc, { scale, shift, residual: null, relu: true }));
      const best = { off: Infinity, on: Infinity };
      for (let r = 0; r < rounds; r++) {
        for (const mode of ['off', 'on'] as const) {
          be.winograd.mode = mode;
          best[mode] = Math.min(best[mode], (await measure(call, timeMs, 5)).medianMs);
        }
      }
      for (const s of [x, w, scale, shift]) be.release(s);
      console.log(`| ${oc}→${oc} 3×3 @${hw}² b${n} | ${threads} | ${relaxed ? 'relaxed' : 'simd128'} | ${best.off.toFixed(3)} | ${gflops(flop, best.off).toFixed(1)} | ${best.on.toFixed(3)} | ${gflops(flop, best.on).toFixed(1)} | ${(best.off / best.on).toFixed(2)} | ${winogradWins(g, oc) ? 'W' : 'G'} |`);
    }
    be.destroy();
  }
}
