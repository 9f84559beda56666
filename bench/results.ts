// Writes bench/RESULTS.md from a run. The suite owns only the text between its markers; sections other
// benchmarks append (GEMM micro-benchmarks) and anything else outside the markers are kept as they are.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { AGREE, fmtMs, gflops, type Row } from './common.js';

export const BEGIN = '<!-- bench/run.ts: begin (generated; edits between these markers are overwritten) -->';
export const END = '<!-- bench/run.ts: end -->';

export interface Report {
  command: string;
  date: string;
  machine: { cpu: string; cores: number; memGiB: number; node: string; os: string };
  quick: boolean;
  /** What the person running it says about the conditions (e.g. a busy machine), or null. */
  conditions?: string | null;
  backends: string[];
  rows: Row[];
  notes: string[];
  /** Verbatim output of other benchmark files (the GEMM ones), each under its title. */
  sections?: { title: string; body: string }[];
}

const isGpugrad = (r: Row): boolean => r.system.startsWith('gpugrad ');

function e2eTable(rows: Row[]): string[] {
  const e2e = rows.filter((r) => r.part === 'e2e' || r.part === 'peers');
  const works = [...new Set(e2e.map((r) => r.work))];
  const out: string[] = [];
  out.push('| work | system | cold | median | GFLOP/s | error vs reference | gpugrad best ÷ this |');
  out.push('|---|---|---:|---:|---:|---:|---:|');
  for (const w of works) {
    const ws = e2e.filter((r) => r.work === w);
    const best = ws.filter((r) => isGpugrad(r) && r.timing && !r.note).sort((a, b) => (a.timing as { medianMs: number }).medianMs - (b.timing as { medianMs: number }).medianMs)[0];
    for (const r of ws) {
      const t = r.timing;
      const err = r.relErr === undefined ? '–' : `${r.relErr.toExponential(1)}${r.relErr <= AGREE ? '' : ' ✗'}`;
      const ratio = t && best?.timing && !r.note ? `${(best.timing.medianMs / t.medianMs).toFixed(2)}×` : '–';
      const name = r === best ? `**${r.system}** (best gpugrad)` : r.system;
      if (!t || r.note) out.push(`| ${w} | ${name} | – | – | – | ${err} | ${r.note ?? 'no time'} |`);
      else out.push(`| ${w} | ${name} | ${fmtMs(t.coldMs)} | ${t.samples === 0 ? `${fmtMs(t.medianMs)} (cold only)` : fmtMs(t.medianMs)} | ${r.flop ? gflops(r.flop, t.medianMs).toFixed(2) : '–'} | ${err} | ${ratio} |`);
    }
  }
  return out;
}

function kernelTable(rows: Row[]): string[] {
  const k = rows.filter((r) => r.part === 'kernels');
  if (!k.length) return [];
  const systems = [...new Set(k.map((r) => r.system))];
  const works = [...new Set(k.map((r) => r.work))];
  const out = [`| kernel | ${systems.map((s) => `${s} cold / median (GFLOP/s)`).join(' | ')} |`, `|---|${systems.map(() => '---:').join('|')}|`];
  for (const w of works) {
    const cells = systems.map((s) => {
      const r = k.find((x) => x.work === w && x.system === s);
      if (!r) return '–';
      if (!r.timing) return r.note ?? '–';
      const g = r.flop ? ` (${gflops(r.flop, r.timing.medianMs).toFixed(2)})` : '';
      return `${fmtMs(r.timing.coldMs)} / ${fmtMs(r.timing.medianMs)}${g}`;
    });
    out.push(`| ${w} | ${cells.join(' | ')} |`);
  }
  return out;
}

export function renderReport(r: Report): string {
  const m = r.machine;
  const lines = [
    BEGIN,
    '## gpugrad benchmark suite',
    '',
    r.quick
      ? '**`--quick` run: tiny sizes and few iterations to check the plumbing and the agreement checks. These are not measurements.**'
      : 'Medians of warm calls (tinybench) after one cold call (compilation and start-up included). Differences under ~20% between runs are noise on a 2-core machine.',
    '',
    ...(r.conditions ? [`- **Conditions: ${r.conditions}**`] : []),
    `- Command: \`${r.command}\``,
    `- Date: ${r.date}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, ${m.os}; Node ${m.node}`,
    `- gpugrad backends: ${r.backends.length ? r.backends.join(', ') : '(none)'}`,
    `- Agreement: a peer's time is reported only if its logits agree with gpugrad's on the same weights and input (max abs error ≤ ${AGREE} × max |reference|); ✗ marks a disagreement.`,
    '- "error vs reference": for eval, max abs logits error / max |reference logits| (gpugrad against PyTorch, peers against gpugrad); for training, the relative difference of the first-step loss from PyTorch\'s.',
    '- "cold only": the first call was the only one (too slow for warm calls within the budget).',
    '- "gpugrad best ÷ this": how many times faster this system is than gpugrad\'s fastest backend on the same work (above 1: faster than gpugrad).',
    '',
  ];
  const e2e = e2eTable(r.rows);
  if (e2e.length > 2) lines.push('### End to end (ResNet-50)', '', ...e2e, '');
  const kt = kernelTable(r.rows);
  if (kt.length) lines.push('### Kernels (batch 1, ResNet-50 shapes)', '', ...kt, '');
  for (const sec of r.sections ?? []) lines.push(`### ${sec.title}`, '', sec.body, '');
  if (r.notes.length) lines.push('### Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  lines.push(END);
  return lines.join('\n');
}

/** Replaces the suite's section of `path` (or appends it), keeping everything outside the markers. */
export function writeResults(path: string, r: Report): void {
  const section = renderReport(r);
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '# gpugrad benchmark results\n\nGenerated by `npm run bench`; see bench/run.ts.\n';
  const b = old.indexOf(BEGIN);
  const e = old.indexOf(END);
  let text: string;
  if (b >= 0 && e > b) text = old.slice(0, b) + section + old.slice(e + END.length);
  else text = `${old.replace(/\n*$/, '\n\n')}${section}\n`;
  writeFileSync(path, text);
}
