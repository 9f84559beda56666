// Stands in for 'vitest' when the op property suites are bundled for a browser page (test/browser/build.ts
// aliases the import): the describe/it/beforeEach/expect subset those files use, collected here and run in
// order by runRegistered(), which returns one result per test for the Node side to assert on.

type Fn = () => unknown;
interface Registered {
  name: string;
  fn: Fn | null; // null: skipped
  before: Fn[];
}
const registered: Registered[] = [];
let prefix: string[] = [];
let hooks: Fn[][] = [[]];

export function describe(name: string, body: Fn): void {
  prefix.push(name);
  hooks.push([]);
  try {
    body();
  } finally {
    hooks.pop();
    prefix.pop();
  }
}
describe.each =
  <T extends object>(rows: readonly T[]) =>
  (name: string, body: (row: T) => void): void => {
    for (const row of rows) describe(name.replace(/\$(\w+)/g, (_, k: string) => String((row as Record<string, unknown>)[k])), () => body(row));
  };

export function it(name: string, fn: Fn, _timeout?: number): void {
  registered.push({ name: [...prefix, name].join(' > '), fn, before: hooks.flat() });
}
it.skip = (name: string, _fn?: Fn): void => {
  registered.push({ name: [...prefix, name].join(' > '), fn: null, before: [] });
};
it.skipIf =
  (cond: unknown) =>
  (name: string, fn: Fn, timeout?: number): void =>
    cond ? it.skip(name, fn) : it(name, fn, timeout);
export const test = it;

export function beforeEach(fn: Fn): void {
  hooks[hooks.length - 1].push(fn);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  return false;
}

export function expect(got: unknown, label = '') {
  const say = (what: string): never => {
    throw new Error(`${label ? `${label}: ` : ''}expected ${JSON.stringify(got)} ${what}`);
  };
  return {
    toEqual: (want: unknown) => void (deepEqual(got, want) || say(`to equal ${JSON.stringify(want)}`)),
    toBe: (want: unknown) => void (Object.is(got, want) || say(`to be ${JSON.stringify(want)}`)),
    toBeLessThanOrEqual: (want: number) => void ((got as number) <= want || say(`to be ≤ ${want}`)),
  };
}

export interface TestResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  ms: number;
  error?: string;
}

/** Runs every registered test whose name matches `filter`, one after another. */
export async function runRegistered(filter: (name: string) => boolean = () => true): Promise<TestResult[]> {
  const out: TestResult[] = [];
  for (const t of registered) {
    if (!filter(t.name)) continue;
    if (!t.fn) {
      out.push({ name: t.name, status: 'skipped', ms: 0 });
      continue;
    }
    const t0 = performance.now();
    try {
      for (const b of t.before) await b();
      await t.fn();
      out.push({ name: t.name, status: 'passed', ms: performance.now() - t0 });
    } catch (e) {
      // fast-check puts the property's own error in `cause`.
      const cause = (e as { cause?: { stack?: string } })?.cause;
      const text = `${String((e as Error)?.stack ?? e)}${cause ? `\ncaused by: ${cause.stack ?? String(cause)}` : ''}`;
      out.push({ name: t.name, status: 'failed', ms: performance.now() - t0, error: text.slice(0, 4000) });
    }
  }
  return out;
}

// Reset between bundles is not needed: each page loads one bundle once.
void prefix;
void hooks;
