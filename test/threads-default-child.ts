// Child process for wasm.test.ts: a script that never calls setBackend() or readyBackend() gets the default
// wasm backend with its worker pool, which comes up while ops run synchronously; prints what it saw as JSON.
import { getBackend, matmul, randn, readyBackend, manualSeed, tidy } from '../src/index.js';
import { currentBackend } from '../src/backend.js';

manualSeed(3);
const a = randn([300, 200]);
const b = randn([200, 260]);
const first = matmul(a, b); // the first op: on the calling thread while the workers boot
const backend = currentBackend() as unknown as { pool: { isReady(): boolean } | null };
const readyAtFirstOp = backend.pool?.isReady() ?? null;
// Keep the main thread busy without yielding to the event loop: the pool must still come up.
const t0 = Date.now();
let spins = 0;
while (backend.pool && !backend.pool.isReady() && Date.now() - t0 < 20_000) {
  tidy(() => void matmul(a, b));
  spins++;
}
const readySync = backend.pool?.isReady() ?? null;
const later = matmul(a, b); // split across the pool now, same instance and heap as `first`
const diff = first.sub(later).abs().max().itemSync();
const mixed = first.add(later).sum().itemSync();
const same = (await readyBackend()) === (currentBackend() as unknown);
console.log(JSON.stringify({ backend: getBackend(), readyAtFirstOp, readySync, spins, diff, mixedFinite: Number.isFinite(mixed), same }));
