// gpu.js kernel sources for sliding windows: im2col/col2im (convolution as GEMM) and max/avg pooling with
// their gradients. Backward kernels gather (each input pixel loops over the windows that cover it) instead
// of scattering, because gpu.js kernels cannot accumulate into shared outputs.
import type { AvgPoolGeometry, WindowGeometry } from '../../src/backend.js';
import { decode, flt, int, type KernelSpec } from './common.js';

/**
 * Rows r0..r0+rows of im2col's [c·kh·kw, n·oh·ow] output (the adapter bands the rows so no flat index
 * reaches 2^24). Row r = (c·kh + ky)·kw + kx, column j = (b·oh + oy)·ow + ox.
 */
export function im2colSource(g: WindowGeometry, r0: number, rows: number): KernelSpec {
  const cols = g.n * g.oh * g.ow;
  const lines = [
    `const r = Math.floor(this.thread.x / ${flt(cols)});`,
    `const j = this.thread.x - r * ${flt(cols)};`,
    decode(`r + ${flt(r0)}`, [g.c, g.kh, g.kw], ['cc', 'ky', 'kx'], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], 'r'),
    decode('j', [g.n, g.oh, g.ow], ['b', 'oy', 'ox'], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], 'j'),
    `const iy = oy * ${flt(g.sh)} - ${flt(g.ph)} + ky * ${flt(g.dh)};`,
    `const ix = ox * ${flt(g.sw)} - ${flt(g.pw)} + kx * ${flt(g.dw)};`,
    `if (iy < 0.0 || iy >= ${flt(g.h)} || ix < 0.0 || ix >= ${flt(g.w)}) { return 0.0; }`,
    `return x[((b * ${flt(g.c)} + cc) * ${flt(g.h)} + iy) * ${flt(g.w)} + ix];`,
  ];
  return { op: 'im2col', source: `function(x) {\n${lines.join('\n')}\n}`, output: rows * cols, maxLoop: 0 };
}

/**
 * col2im for channels c0..c0+cb: output [n, cb, h, w] from the rows of those channels ([cb·kh·kw, n·oh·ow]).
 * Loops over the window offsets; an offset contributes when it lands on a strided output position.
 */
export function col2imSource(g: WindowGeometry, cb: number): KernelSpec {
  const L = g.oh * g.ow;
  const cols = g.n * L;
  const lines = [
    decode('this.thread.x', [g.n, cb, g.h, g.w], ['b', 'cc', 'iy', 'ix'], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
    'let acc = 0.0;',
    `for (let ky = 0; ky < ${int(g.kh)}; ky++) {`,
    `  const ty = iy + ${flt(g.ph)} - ky * ${flt(g.dh)};`,
    `  const oy = Math.floor(ty / ${flt(g.sh)});`,
    `  if (ty >= 0.0 && oy * ${flt(g.sh)} == ty && oy < ${flt(g.oh)}) {`,
    `    for (let kx = 0; kx < ${int(g.kw)}; kx++) {`,
    `      const tx = ix + ${flt(g.pw)} - kx * ${flt(g.dw)};`,
    `      const ox = Math.floor(tx / ${flt(g.sw)});`,
    `      if (tx >= 0.0 && ox * ${flt(g.sw)} == tx && ox < ${flt(g.ow)}) {`,
    `        const r = (cc * ${flt(g.kh)} + ky) * ${flt(g.kw)} + kx;`,
    `        acc += cols[r * ${flt(cols)} + b * ${flt(L)} + oy * ${flt(g.ow)} + ox];`,
    '      }',
    '    }',
    '  }',
    '}',
    'return acc;',
  ];
  return { op: 'col2im', source: `function(cols) {\n${lines.join('\n')}\n}`, output: g.n * cb * g.h * g.w, maxLoop: Math.max(g.kh, g.kw) };
}

/** Max pool; `wantIndex` selects the output: the max, or its flat index y·w + x within the plane. */
export function maxPoolSource(g: WindowGeometry, wantIndex: boolean): KernelSpec {
  const lines = [
    decode('this.thread.x', [g.n * g.c, g.oh, g.ow], ['p', 'oy', 'ox'], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    'let best = 0.0; let at = -1.0; let nan = 0.0;',
    `for (let ky = 0; ky < ${int(g.kh)}; ky++) {`,
    `  const iy = oy * ${flt(g.sh)} - ${flt(g.ph)} + ky * ${flt(g.dh)};`,
    `  for (let kx = 0; kx < ${int(g.kw)}; kx++) {`,
    `    const ix = ox * ${flt(g.sw)} - ${flt(g.pw)} + kx * ${flt(g.dw)};`,
    `    if (iy >= 0.0 && iy < ${flt(g.h)} && ix >= 0.0 && ix < ${flt(g.w)}) {`,
    `      const v = x[(p * ${flt(g.h)} + iy) * ${flt(g.w)} + ix];`,
    // PyTorch's rule: the first maximum wins, and every NaN takes over (the last NaN is the index).
    `      if (v != v) { nan = 1.0; best = v; at = iy * ${flt(g.w)} + ix; }`,
    `      else if (nan == 0.0 && (at < 0.0 || v > best)) { best = v; at = iy * ${flt(g.w)} + ix; }`,
    '    }',
    '  }',
    '}',
    wantIndex ? 'return at;' : 'return best;',
  ];
  return { op: wantIndex ? 'maxPool2d.indices' : 'maxPool2d', source: `function(x) {\n${lines.join('\n')}\n}`, output: g.n * g.c * g.oh * g.ow, maxLoop: Math.max(g.kh, g.kw) };
}

/** Gradient of max pool: each input pixel sums the output gradients whose recorded argmax is itself. */
export function maxPoolBackwardSource(g: WindowGeometry): KernelSpec {
  const plane = g.oh * g.ow;
  const lines = [
    decode('this.thread.x', [g.n * g.c, g.h, g.w], ['p', 'iy', 'ix'], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    `const me = iy * ${flt(g.w)} + ix;`,
    'let acc = 0.0;',
    `for (let ky = 0; ky < ${int(g.kh)}; ky++) {`,
    `  const ty = iy + ${flt(g.ph)} - ky * ${flt(g.dh)};`,
    `  const oy = Math.floor(ty / ${flt(g.sh)});`,
    `  if (ty >= 0.0 && oy * ${flt(g.sh)} == ty && oy < ${flt(g.oh)}) {`,
    `    for (let kx = 0; kx < ${int(g.kw)}; kx++) {`,
    `      const tx = ix + ${flt(g.pw)} - kx * ${flt(g.dw)};`,
    `      const ox = Math.floor(tx / ${flt(g.sw)});`,
    `      if (tx >= 0.0 && ox * ${flt(g.sw)} == tx && ox < ${flt(g.ow)}) {`,
    `        const o = p * ${flt(plane)} + oy * ${flt(g.ow)} + ox;`,
    '        if (idx[o] == me) { acc += gy[o]; }',
    '      }',
    '    }',
    '  }',
    '}',
    'return acc;',
  ];
  return { op: 'maxPool2dBackward', source: `function(gy, idx) {\n${lines.join('\n')}\n}`, output: g.n * g.c * g.h * g.w, maxLoop: Math.max(g.kh, g.kw) };
}

/** Lines that set y0/y1/x0/x1 (clipped window) and div (PyTorch's divisor) for output (oy, ox). */
function avgWindow(g: AvgPoolGeometry): string[] {
  return [
    `let y0 = oy * ${flt(g.sh)} - ${flt(g.ph)};`,
    `let x0 = ox * ${flt(g.sw)} - ${flt(g.pw)};`,
    `let y1 = Math.min(y0 + ${flt(g.kh)}, ${flt(g.h + g.ph)});`,
    `let x1 = Math.min(x0 + ${flt(g.kw)}, ${flt(g.w + g.pw)});`,
    'const padArea = (y1 - y0) * (x1 - x0);',
    'y0 = Math.max(y0, 0.0); x0 = Math.max(x0, 0.0);',
    `y1 = Math.min(y1, ${flt(g.h)}); x1 = Math.min(x1, ${flt(g.w)});`,
    g.countIncludePad ? 'const div = padArea;' : 'const div = (y1 - y0) * (x1 - x0);',
  ];
}

export function avgPoolSource(g: AvgPoolGeometry): KernelSpec {
  const lines = [
    decode('this.thread.x', [g.n * g.c, g.oh, g.ow], ['p', 'oy', 'ox'], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    ...avgWindow(g),
    'let acc = 0.0;',
    `for (let ky = 0; ky < ${int(g.kh)}; ky++) {`,
    `  for (let kx = 0; kx < ${int(g.kw)}; kx++) {`,
    '    const iy = y0 + ky; const ix = x0 + kx;',
    `    if (iy < y1 && ix < x1) { acc += x[(p * ${flt(g.h)} + iy) * ${flt(g.w)} + ix]; }`,
    '  }',
    '}',
    'return acc / div;',
  ];
  return { op: 'avgPool2d', source: `function(x) {\n${lines.join('\n')}\n}`, output: g.n * g.c * g.oh * g.ow, maxLoop: Math.max(g.kh, g.kw) };
}

export function avgPoolBackwardSource(g: AvgPoolGeometry): KernelSpec {
  const lines = [
    decode('this.thread.x', [g.n * g.c, g.h, g.w], ['p', 'iy', 'ix'], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], 'i'),
    'let acc = 0.0;',
    `for (let ky = 0; ky < ${int(g.kh)}; ky++) {`,
    `  const ty = iy + ${flt(g.ph)} - ky;`,
    `  const oy = Math.floor(ty / ${flt(g.sh)});`,
    `  if (ty >= 0.0 && oy * ${flt(g.sh)} == ty && oy < ${flt(g.oh)}) {`,
    `    for (let kx = 0; kx < ${int(g.kw)}; kx++) {`,
    `      const tx = ix + ${flt(g.pw)} - kx;`,
    `      const ox = Math.floor(tx / ${flt(g.sw)});`,
    `      if (tx >= 0.0 && ox * ${flt(g.sw)} == tx && ox < ${flt(g.ow)}) {`,
    ...avgWindow(g).map((l) => `        ${l}`),
    // The clipped window must contain the pixel (it can lie in the padding-only part of the window).
    `        if (iy >= y0 && iy < y1 && ix >= x0 && ix < x1) { acc += gy[(p * ${flt(g.oh)} + oy) * ${flt(g.ow)} + ox] / div; }`,
    '      }',
    '    }',
    '  }',
    '}',
    'return acc;',
  ];
  return { op: 'avgPool2dBackward', source: `function(gy) {\n${lines.join('\n')}\n}`, output: g.n * g.c * g.h * g.w, maxLoop: Math.max(g.kh, g.kw) };
}
