// Same-run step-time comparison of two checkouts (e.g. before and after a change): run it alternately with each
// checkout's root as the argument: node --import tsx bench/step-compare.ts /path/to/checkout
const root = process.argv[2];
const g = await import(`${root}/src/index.js`);
const { buildNet, digitNetConfig } = await import(`${root}/src/cli/model.js`);
await g.setBackend('wasm', { threads: 1 });
g.manualSeed(0);
const model = buildNet(digitNetConfig(8, [1, 1, 1, 1], 2));
const opt = new g.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
const x = g.randn([32, 1, 28, 28]);
const labels = Array.from({ length: 32 }, (_, i) => i % 10);
const step = () => g.tidy(() => { opt.zeroGrad(); const l = g.F.crossEntropy(model.forward(x), labels); l.backward(); opt.step(); return l; });
for (let i = 0; i < 5; i++) (step()).dispose();
const t0 = performance.now();
for (let i = 0; i < 40; i++) (step()).dispose();
const train = (performance.now() - t0) / 40;
const r50 = g.resnet50(); r50.eval();
const xi = g.randn([1, 3, 224, 224]);
const fwd = () => g.tidy(() => g.noGrad(() => r50.forward(xi)));
for (let i = 0; i < 2; i++) fwd().dispose();
const t1 = performance.now();
for (let i = 0; i < 5; i++) fwd().dispose();
const ev = (performance.now() - t1) / 5;
console.log(JSON.stringify({ root, trainStepMs: +train.toFixed(2), r50EvalMs: +ev.toFixed(1) }));
process.exit(0);
