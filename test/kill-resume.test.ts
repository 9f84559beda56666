// Crash consistency of `gpugrad train`'s checkpoints: ≥ 50 SIGKILLs at random moments (start-up, training,
// evaluation, and inside the save sequence, slowed down by the GPUGRAD_TEST_SAVE_DELAY_MS hook), each followed by
// a `--resume` that must continue from the last committed epoch with no leftovers of the killed save, and a final
// run that reproduces an uninterrupted run's losses exactly. Three chains run side by side to cut the wall time;
// `npm run soak` runs a longer chain (scripts/soak.ts).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { killChain } from './helpers/killchain.js';

describe('killing gpugrad train at random moments', () => {
  it('≥ 50 kills: every --resume continues from the last commit, no leftovers survive a start, losses match an uninterrupted run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gpugrad-kill-'));
    const runs = await Promise.all([1, 2, 3].map((seed) => killChain({ dir: join(root, `chain${seed}`), kills: 17, seed })));
    const kills = runs.reduce((n, r) => n + r.kills, 0);
    console.log(`kill test: ${kills} kills (${runs.reduce((n, r) => n + r.killsInSave, 0)} inside a save), ${runs.reduce((n, r) => n + r.resumes, 0)} resumes, chains of ${runs.map((r) => r.seconds.toFixed(0)).join(', ')} s`);
    for (const r of runs) {
      expect(r.refused).toEqual([]);
      expect(r.stray).toEqual([]);
      expect(r.lossesMatch).toBe(true);
      expect(r.killsInSave).toBeGreaterThan(0);
    }
    expect(kills).toBeGreaterThanOrEqual(50);
  }, 300_000);
});
