// The suites themselves: a test that cannot run here must be reported as skipped, not pass by returning early
// (an `if (!(await tb.available())) return;` inside a test counts as a pass that checked nothing).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('.', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts') && f !== 'hygiene.test.ts');

describe('test hygiene', () => {
  it('no test returns early when its backend is unavailable (use it.skipIf over readyBackends())', () => {
    const offenders = files.filter((f) => /available\(\)\)*\s*\)\s*return\b/.test(readFileSync(join(dir, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
