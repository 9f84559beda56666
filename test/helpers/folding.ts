// What the batch-norm folding suites (fusion, deferred) share: a counter of the backend's fused GEMM calls,
// batch-norm state moved away from the identity, and the relative error between two results.
import { currentBackend, nn, noGrad, randn, type Tensor } from '../../src/index.js';

/**
 * Counts fused calls on the current backend: matmulEpilogue (1×1 convs) and convEpilogue (any other), its own or
 * the ones withDefaults() composed; a matmulEpilogue made inside a convEpilogue is part of that one call.
 */
export function spyFused(): { count: () => number; restore: () => void } {
  const be = currentBackend();
  const [mm, conv] = [be.matmulEpilogue, be.convEpilogue];
  let n = 0;
  let inConv = false;
  be.matmulEpilogue = (...a) => (inConv || n++, mm.apply(be, a));
  be.convEpilogue = (...a) => {
    n++;
    inConv = true;
    try {
      return conv.apply(be, a);
    } finally {
      inConv = false;
    }
  };
  return { count: () => n, restore: () => void ((be.matmulEpilogue = mm), (be.convEpilogue = conv)) };
}

/** Running statistics and affine parameters away from the identity, so a lost scale, shift or residual shows. */
export function perturbBatchNorm(m: nn.Module): void {
  noGrad(() => {
    for (const [k, b] of m.namedBuffers()) {
      if (k.endsWith('running_mean')) b.assign(randn(b.shape).mul(0.2));
      if (k.endsWith('running_var')) b.assign(randn(b.shape).abs().add(0.5));
    }
    for (const [k, p] of m.namedParameters()) if (/bn\d?\.(weight|bias)$|downsample\.1\.(weight|bias)$/.test(k)) p.assign(randn(p.shape).mul(0.3).add(k.endsWith('weight') ? 1 : 0));
  });
}

/** max |a − b| / max |b|. */
export async function maxRelErr(a: Tensor, b: Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  let e = 0;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    e = Math.max(e, Math.abs(x[i] - y[i]));
    m = Math.max(m, Math.abs(y[i]));
  }
  return e / m;
}
