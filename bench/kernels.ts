// Per-kernel micro-benchmarks on each gpugrad backend: GEMM at ResNet-50's im2col shapes, every distinct
// ResNet-50 convolution forward and forward+backward (and eval with the fused epilogue for 3×3 stride 1), batch
// norm, pooling and elementwise ops.
// Cold = first call (kernel compilation included), warm = tinybench median; each call awaits its result.
import { performance } from 'node:perf_hooks';
import { F, getBackend, manualSeed, matmul, noGrad, randn, tidy, type Tensor } from '../src/index.js';
import { cold, fmtMs, gflops, warm, type Row } from './common.js';
import { useBenchBackend } from './backends.js';
import { convKey, convMacs, distinctConvs } from './shapes.js';

export interface KernelConfig {
  /** Input size the conv shapes are derived at (224 for ResNet-50's real shapes). */
  size: number;
  /** Keep only the first `maxConvs` distinct conv shapes (the smoke test); all by default. */
  maxConvs?: number;
  /** GEMM [M, K, N] shapes; default: gpujs.md's four ResNet-50 im2col shapes. */
  gemms?: [number, number, number][];
  timeMs: number;
  minIter: number;
  /** Wall-time budget per backend (ms): once spent, the remaining kernels are skipped. */
  budgetMs?: number;
  log: (s: string) => void;
}

/** A call slower than this is timed once warm, not `minIter` times: the budget goes further. */
export const SLOW_MS = 2000;

/** C[M,N] = W[M,K]·col[K,N] at conv1, a layer1 3×3, a layer3 1×1 and a layer4 3×3. */
export const RESNET_GEMMS: [number, number, number][] = [
  [64, 147, 12544],
  [64, 576, 3136],
  [256, 1024, 196],
  [512, 4608, 49],
];

interface Item {
  work: string;
  flop: number;
  /** Builds inputs (outside the timing) and returns the call to time plus a cleanup. */
  setup: () => { run: () => Promise<unknown>; done: () => void };
}

/** Forces completion of the work: data leave the backend only through `await data()`. */
async function settle(...ts: (Tensor | null)[]): Promise<void> {
  for (const t of ts) if (t) await t.data();
}

function items(cfg: KernelConfig): Item[] {
  // Cheap kernels first, so that a slow backend that runs out of its time budget still reports them.
  const list: Item[] = smallItems(cfg);
  for (const [m, k, n] of cfg.gemms ?? RESNET_GEMMS) {
    list.push({
      work: `gemm ${m}×${k}×${n}`,
      flop: 2 * m * k * n,
      setup: () => {
        const a = randn([m, k]);
        const b = randn([k, n]);
        return {
          run: async () => {
            const c = matmul(a, b);
            await settle(c);
            c.dispose();
          },
          done: () => [a, b].forEach((t) => t.dispose()),
        };
      },
    });
  }
  const convs = distinctConvs(cfg.size).slice(0, cfg.maxConvs ?? Infinity);
  for (const { shape: c, count } of convs) {
    const macs = convMacs(c);
    const tag = `conv ${convKey(c)}${count > 1 ? ` (×${count})` : ''}`;
    const mk = (): { x: Tensor; w: Tensor } => ({ x: randn([1, c.cin, c.h, c.h]), w: randn([c.cout, c.cin, c.k, c.k]).mul(0.05) });
    list.push({
      work: `${tag} fwd`,
      flop: 2 * macs,
      setup: () => {
        const { x, w } = mk();
        return {
          run: async () => {
            // In tidy, like the fwd+bwd row: F.conv2d's intermediates (the im2col buffer, the GEMM's output
            // before its reshape) are tensors too. Disposing only `y` left ~10 MB per call to the garbage
            // collector, so every warm call carved fresh wasm pages (page faults, memory growth) and warm
            // medians ran 2–3× the cold call (issue #19). conv2d now frees them itself; tidy keeps the row honest
            // for any op that does not.
            const y = tidy(() => F.conv2d(x, w, null, { stride: c.stride, padding: c.pad }));
            await settle(y);
            y.dispose();
          },
          done: () => [x, w].forEach((t) => t.dispose()),
        };
      },
    });
    if (c.k === 3 && c.stride === 1) {
      // The eval conv with its fused epilogue (a folded batch norm and ReLU): the wasm backend runs these as
      // Winograd F(2×2,3×3) where its rule picks it (bench/winograd.ts compares it with im2col + GEMM).
      list.push({
        work: `${tag} eval (conv2dAffine)`,
        flop: 2 * macs,
        setup: () => {
          const { x, w } = mk();
          const [scale, shift] = [randn([c.cout]), randn([c.cout])];
          return {
            run: async () => {
              const y = noGrad(() => tidy(() => F.conv2dAffine(x, w, { scale, shift, relu: true }, { padding: c.pad })));
              await settle(y);
              y.dispose();
            },
            done: () => [x, w, scale, shift].forEach((t) => t.dispose()),
          };
        },
      });
    }
    list.push({
      work: `${tag} fwd+bwd`,
      flop: 6 * macs, // forward, input gradient, weight gradient
      setup: () => {
        const { x, w } = mk();
        x.requiresGrad = true;
        w.requiresGrad = true;
        const gy = randn([1, c.cout, c.oh, c.oh]);
        return {
          run: async () => {
            tidy(() => F.conv2d(x, w, null, { stride: c.stride, padding: c.pad }).backward(gy));
            await settle(x.grad, w.grad);
            x.zeroGrad();
            w.zeroGrad();
          },
          done: () => [x, w, gy].forEach((t) => t.dispose()),
        };
      },
    });
  }
  return list;
}

function smallItems(cfg: KernelConfig): Item[] {
  const list: Item[] = [];
  // Batch norm, pools and elementwise at the sizes they meet in ResNet-50 (scaled with `size`).
  const s1 = Math.max(2, Math.round((cfg.size * 56) / 224));
  const s0 = Math.max(2, Math.round((cfg.size * 112) / 224));
  const s4 = Math.max(1, Math.round((cfg.size * 7) / 224));
  const unaryish = (work: string, shape: number[], flopPerElem: number, fn: (x: Tensor, p: Tensor[]) => Tensor, params: (c: number) => Tensor[] = () => [], grad = false): Item => ({
    work,
    flop: flopPerElem * shape.reduce((a, b) => a * b, 1),
    setup: () => {
      const x = randn(shape);
      if (grad) x.requiresGrad = true;
      const p = params(shape[1]);
      let gy: Tensor | null = null;
      if (grad) {
        const probe = tidy(() => fn(x, p));
        gy = randn(probe.shape);
        probe.dispose();
      }
      return {
        run: async () => {
          if (grad) {
            tidy(() => fn(x, p).backward(gy as Tensor));
            await settle(x.grad);
            x.zeroGrad();
          } else {
            const y = tidy(() => fn(x, p));
            await settle(y);
            y.dispose();
          }
        },
        done: () => [x, ...p, ...(gy ? [gy] : [])].forEach((t) => t.dispose()),
      };
    },
  });
  const bnParams = (c: number): Tensor[] => [randn([c]).mul(0.1), randn([c]).abs().add(0.5), randn([c]).abs().add(0.5), randn([c]).mul(0.1)];
  const bnShape = [1, 256, s1, s1];
  list.push(unaryish(`batchNorm2d eval ${bnShape.join('×')}`, bnShape, 2, (x, [m, v, w, b]) => F.batchNorm2d(x, m, v, w, b, { training: false }), bnParams));
  list.push(unaryish(`batchNorm2d train ${bnShape.join('×')}`, bnShape, 8, (x, [, , w, b]) => F.batchNorm2d(x, null, null, w, b, { training: true }), bnParams));
  list.push(unaryish(`batchNorm2d train fwd+bwd ${bnShape.join('×')}`, bnShape, 16, (x, [, , w, b]) => F.batchNorm2d(x, null, null, w, b, { training: true }), bnParams, true));
  const mpShape = [1, 64, s0, s0];
  list.push(unaryish(`maxPool2d 3×3/2 ${mpShape.join('×')}`, mpShape, 0, (x) => F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 })));
  list.push(unaryish(`maxPool2d 3×3/2 fwd+bwd ${mpShape.join('×')}`, mpShape, 0, (x) => F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), undefined, true));
  const apShape = [1, 2048, s4, s4];
  list.push(unaryish(`adaptiveAvgPool2d →1 ${apShape.join('×')}`, apShape, 1, (x) => F.adaptiveAvgPool2d(x, 1)));
  const ewShape = [1, 256, s1, s1];
  list.push(unaryish(`relu ${ewShape.join('×')}`, ewShape, 1, (x) => F.relu(x)));
  list.push(unaryish(`add+relu (residual) ${ewShape.join('×')}`, ewShape, 2, (x, [y]) => F.relu(x.add(y)), () => [randn(ewShape)]));
  return list;
}

export async function runKernels(backends: string[], cfg: KernelConfig): Promise<Row[]> {
  const rows: Row[] = [];
  for (const b of backends) {
    let system = `gpugrad ${b}`;
    try {
      await useBenchBackend(b);
      system = `gpugrad ${getBackend()}`;
    } catch (e) {
      rows.push({ part: 'kernels', work: '(all)', system, flop: 0, note: `backend failed to start: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    manualSeed(1);
    const start = performance.now();
    for (const it of items(cfg)) {
      if (performance.now() - start > (cfg.budgetMs ?? Infinity)) {
        rows.push({ part: 'kernels', work: it.work, system, flop: it.flop, note: 'skipped: time budget spent' });
        cfg.log(`  ${system} ${it.work}: skipped (time budget spent)`);
        continue;
      }
      let handle: { run: () => Promise<unknown>; done: () => void } | null = null;
      try {
        handle = it.setup();
        const h = handle;
        const first = await cold(() => h.run());
        const slow = first.ms > SLOW_MS;
        const timing = await warm(() => h.run(), first.ms, slow ? 0 : cfg.timeMs, slow ? 1 : cfg.minIter);
        rows.push({ part: 'kernels', work: it.work, system, timing, flop: it.flop });
        cfg.log(`  ${system} ${it.work}: cold ${fmtMs(timing.coldMs)}, median ${fmtMs(timing.medianMs)}${it.flop ? `, ${gflops(it.flop, timing.medianMs).toFixed(2)} GFLOP/s` : ''}`);
      } catch (e) {
        rows.push({ part: 'kernels', work: it.work, system, flop: it.flop, note: `failed: ${(e as Error).message.split('\n')[0]}` });
        cfg.log(`  ${system} ${it.work}: failed: ${(e as Error).message.split('\n')[0]}`);
      } finally {
        handle?.done();
      }
    }
  }
  return rows;
}
