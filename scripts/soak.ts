// `npm run soak`: the long soak (1,000 steps by default) on every available backend, printing the slopes.
import { formatSoak, soak, soakPlain, testBackends } from '../test/helpers/soak.js';

const steps = Number(process.argv[2] ?? 1000);
const only = process.argv[3]?.split(',');
for (const tb of testBackends) {
  if (only && !only.includes(tb.label)) continue;
  if (!(await tb.available())) {
    console.log(`${tb.label}: skipped (not available here)`);
    continue;
  }
  console.log(formatSoak(await soak(tb, steps, 50, 100)));
  // The PyTorch-style loop (no tidy, no dispose) on the npm start network; its bound is 64 MB over the run.
  if (tb.label === 'reference' || tb.label === 'wasm') console.log(formatSoak(await soakPlain(tb, steps, 50, 100)));
}
process.exit(0);
