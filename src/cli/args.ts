// Command-line option parsing for the gpugrad CLI: declared options only, typed values, and a usage
// error (not a stack trace) for anything unknown or malformed.

/** A mistake in how the CLI was called; main prints it with the usage line and exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionKind = 'int' | 'number' | 'string' | 'flag' | 'ints';
export interface OptionSpec {
  kind: OptionKind;
  help: string;
  /** Allowed values for a string option. */
  choices?: readonly string[];
  /** Inclusive lower bound for numbers. */
  min?: number;
}
export type OptionValue = number | string | boolean | number[];

export interface Parsed {
  options: Map<string, OptionValue>;
  positionals: string[];
}

/** Parses `--name value`, `--name=value` and `--flag` / `--no-flag`, checking each against `specs`. */
export function parseArgs(argv: readonly string[], specs: Record<string, OptionSpec>, command: string): Parsed {
  const options = new Map<string, OptionValue>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') {
      if (a !== '--') positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    let name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    let negated = false;
    if (!specs[name] && name.startsWith('no-') && specs[name.slice(3)]?.kind === 'flag') {
      name = name.slice(3);
      negated = true;
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option --${name} for '${command}' (options: ${Object.keys(specs).map((k) => `--${k}`).join(', ')})`);
    if (spec.kind === 'flag') {
      if (eq >= 0) throw new UsageError(`--${name} is a flag and takes no value`);
      options.set(name, !negated);
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value (${spec.help})`);
      raw = argv[++i];
    }
    options.set(name, convert(name, raw, spec));
  }
  return { options, positionals };
}

function convert(name: string, raw: string, spec: OptionSpec): OptionValue {
  const num = (s: string): number => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${name} must be a number, got '${raw}'`);
    if (spec.kind !== 'number' && !Number.isInteger(v)) throw new UsageError(`--${name} must be an integer, got '${raw}'`);
    if (spec.min !== undefined && v < spec.min) throw new UsageError(`--${name} must be at least ${spec.min}, got ${v}`);
    return v;
  };
  switch (spec.kind) {
    case 'int':
    case 'number':
      return num(raw);
    case 'ints':
      return raw.split(',').map(num);
    default:
      if (spec.choices && !spec.choices.includes(raw)) throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}, got '${raw}'`);
      return raw;
  }
}

/** Help text listing the options of a command. */
export function describeOptions(specs: Record<string, OptionSpec & { default?: OptionValue }>): string {
  return Object.entries(specs)
    .map(([k, s]) => `  --${k}${s.kind === 'flag' ? '' : ` <${s.choices ? s.choices.join('|') : s.kind}>`}`.padEnd(34) + s.help + (s.default !== undefined ? ` (default ${String(s.default)})` : ''))
    .join('\n');
}
