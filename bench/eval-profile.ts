// Where a ResNet-50 eval forward (224², batch 1) spends its time on the wasm backend in Node, per backend
// method and in the worker pool (bench/backend-profile.ts); bench/browser/page.ts ?profile=1 prints the same
// rows from Chromium. Compare 1 and 2 threads to see what does not scale.
//   node --import tsx bench/eval-profile.ts [threads] [rounds]
import { currentBackend, enableRelaxedSimd, manualSeed, noGrad, randn, resnet50, setBackend, tidy } from '../src/index.js';
import { profileBackend, profileLines } from './backend-profile.js';

const threads = Number(process.argv[2] ?? '2');
const R = Number(process.argv[3] ?? '10');
enableRelaxedSimd();
await setBackend('wasm', { threads });
const prof = profileBackend(currentBackend());
manualSeed(0);
const model = resnet50().eval();
const x = randn([1, 3, 224, 224]);
const run = (): void => void noGrad(() => tidy(() => model.forward(x).dataSync()));
for (let i = 0; i < 3; i++) run();
prof.reset();
const t0 = performance.now();
for (let i = 0; i < R; i++) run();
const total = (performance.now() - t0) / R;
console.log(`threads ${threads}, ${R} forwards`);
for (const l of profileLines(total, prof.report(R))) console.log(l);
process.exit(0);
