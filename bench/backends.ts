// Which gpugrad backends the benchmark runs: those the test suites run on (test/helpers/backends.ts) that are
// registered and available here, or an explicit list like 'reference,gpujs:webasm,wasm'.
import { registeredBackends, setBackend, type BackendOptions } from '../src/index.js';
import { testBackends } from '../test/helpers/backends.js';

function parse(spec: string): { name: string; options: BackendOptions } {
  const known = testBackends.find((t) => t.label === spec);
  if (known) return { name: known.name, options: known.options ?? {} };
  const [name, mode] = spec.split(':');
  return { name, options: mode ? { mode } : {} };
}

/** Selects a backend by benchmark label, awaiting asynchronous starts. */
export async function useBenchBackend(spec: string): Promise<void> {
  const { name, options } = parse(spec);
  await setBackend(name, options);
}

/** The default list: every available test backend whose backend is registered. */
export async function defaultBackends(): Promise<string[]> {
  const reg = new Set(registeredBackends());
  const out: string[] = [];
  for (const tb of testBackends) {
    if (!reg.has(tb.name)) continue;
    try {
      if (await tb.available()) out.push(tb.label);
    } catch {
      /* unavailable */
    }
  }
  return out;
}

/** Checks an explicit list: names must be registered. Returns the unknown ones. */
export function unknownBackends(specs: string[]): string[] {
  const reg = new Set(registeredBackends());
  return specs.filter((s) => !reg.has(parse(s).name));
}
