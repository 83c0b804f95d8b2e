// The one interface every stage shares (issue 2, item 6): each option comes
// from a flag, else from the environment variable the Makefile passes through.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from './errors.ts';
import { setVerbose } from './log.ts';
import { PACKAGE_ROOT } from './runtime.ts';
import { openStorage, type Storage } from './storage.ts';

/**
 * `--version` of every CLI: the package's own. Read when a CLI parses its
 * arguments, never at import, and from the package root: bundled (dist/, the
 * transform's worker bundle), this module sits in another directory.
 */
function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export function commonOptions<T>(argv: Argv<T>) {
  return argv
    .option('store', {
      type: 'string',
      default: process.env.STORE || './out',
      defaultDescription: '$STORE or ./out',
      describe: 'Storage root: s3://bucket/prefix, file:///dir or a directory. The run lives at <store>/<run>/',
    })
    .option('run', {
      type: 'string',
      default: process.env.RUN || 'dev',
      defaultDescription: '$RUN or dev',
      describe: 'Run id: letters, digits, . _ - (no slashes)',
    })
    .option('table', {
      type: 'string',
      array: true,
      // yargs turns an `undefined` array default into [undefined]: give it a real list.
      default: process.env.TABLE ? process.env.TABLE.split(',') : [],
      defaultDescription: '$TABLE (comma-separated) or every table',
      describe: 'Only this table (repeatable, or comma-separated as TABLE=a,b); the rest of the run is left as it is',
      // `--table a,b` means what `TABLE=a,b` means.
      coerce: (names: string[]) => names.flatMap((n) => String(n).split(',')).map((n) => n.trim()).filter((n) => n !== ''),
    })
    .option('concurrency', {
      // Read as text so a malformed value is quoted as typed, not as NaN.
      type: 'string',
      default: process.env.CONCURRENCY || '4',
      defaultDescription: '$CONCURRENCY or 4',
      describe: 'Parallel workers',
      coerce: (text: string) => checkConcurrency(wholeNumber('concurrency', text)),
    });
}

/**
 * The `coerce` of a number option read as text (type 'string'): a value that
 * is not a number is a usage error quoting what was typed, never NaN or a
 * silent default. Each option's range is checked where it is used.
 */
export function numberText(flag: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (String(text).trim() === '' || !Number.isFinite(n)) throw new UserError(`invalid --${flag} ${JSON.stringify(String(text))}: not a number`, 2);
    return n;
  };
}

/** A whole number as typed on the command line or in the environment, or a usage error quoting it. */
export function wholeNumber(what: string, text: string): number {
  if (!/^\s*\d+\s*$/.test(String(text))) throw new UserError(`invalid ${what} ${JSON.stringify(String(text))}: use a whole number`, 2);
  return Number(text);
}

/**
 * The end of every CLI's argument chain: unknown flags are errors, and a
 * parse failure is one line that points at `--help`.
 */
export function parseCli<T>(argv: Argv<T>, stage: string) {
  return argv
    .strict()
    // A usage error exits 2, a failure 1 (the convention of POSIX utilities).
    // Whatever fails here (a flag, a value's check) is a usage error.
    .fail((message, err) => {
      throw new UserError(err ? err.message : `${message} (see ${stage} --help)`, 2);
    })
    .option('verbose', {
      type: 'boolean',
      default: process.env.VERBOSE === '1' || process.env.VERBOSE === 'true',
      defaultDescription: 'VERBOSE=1',
      describe: 'Also print detail on stderr: each object written, each retry and poll (names and counts, never values)',
    })
    .middleware((args) => setVerbose(Boolean(args.verbose), stage))
    .help()
    // Usage texts are laid out by hand: wrap only what exceeds a wide terminal.
    .wrap(Math.max(process.stdout.columns || 0, 120))
    .version(packageVersion())
    .parse();
}

export function checkGzipLevel(level: number): number {
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new UserError(`invalid --gzip-level ${level}: use 0 to 9`, 2);
  return level;
}

export function checkRunId(run: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(run) || run.includes('..')) {
    throw new UserError(`invalid run id ${JSON.stringify(run)}: use letters, digits, '.', '_' and '-' (no '/', no '..')`);
  }
  return run;
}

export function checkConcurrency(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UserError(`invalid concurrency ${n}: use a whole number from 1 to 64`, 2);
  return n;
}

/** The storage rooted at `<store>/<run>/`. */
export function runStorage(store: string, run: string): Storage {
  return openStorage(store).sub(checkRunId(run));
}
