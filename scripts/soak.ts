// `npm run soak`: the long soak (1,000 steps by default) on every available backend, printing the slopes; then
// the long variant of the checkpoint kill test (GPUGRAD_SOAK_KILLS SIGKILLs of `gpugrad train`, default 300).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killChain } from '../test/helpers/killchain.js';
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
const kills = Number(process.env.GPUGRAD_SOAK_KILLS ?? 300);
if (kills > 0) {
  const dir = mkdtempSync(join(tmpdir(), 'gpugrad-kill-soak-'));
  const r = await killChain({ dir, kills, seed: Date.now() % 100000, log: (l) => console.log(`kill test: ${l}`) });
  console.log(`kill test: ${r.kills} kills (${r.killsInSave} inside a save), ${r.resumes} resumes, refused ${r.refused.length}, stray files ${r.stray.length}, losses ${r.lossesMatch ? 'match' : 'DIFFER from'} an uninterrupted ${r.epochs}-epoch run, ${r.seconds.toFixed(0)} s`);
  for (const line of [...r.refused, ...r.stray]) console.log(`  ${line}`);
  if (r.refused.length || r.stray.length || !r.lossesMatch) process.exit(1);
}
process.exit(0);
