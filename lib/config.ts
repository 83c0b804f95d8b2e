// The one interface every stage shares (issue 2, item 6): each option comes
// from a flag, else from the environment variable the Makefile passes through.
import type { Argv } from 'yargs';
import { UserError } from './errors.ts';
import { openStorage, type Storage } from './storage.ts';

export interface CommonOptions {
  store: string;
  run: string;
  table?: string[];
  concurrency: number;
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
      describe: 'Only this table (repeatable); the rest of the run is left as it is',
    })
    .option('concurrency', {
      type: 'number',
      default: Number(process.env.CONCURRENCY || 4),
      defaultDescription: '$CONCURRENCY or 4',
      describe: 'Parallel workers',
    });
}

/**
 * The end of every CLI's argument chain: unknown flags are errors, and a
 * parse failure is one line that points at `--help`.
 */
export function parseCli<T>(argv: Argv<T>, stage: string) {
  return argv
    .strict()
    .fail((message, err) => {
      throw err ?? new UserError(`${message} (see ${stage} --help)`);
    })
    .help()
    // Usage texts are laid out by hand: wrap only what exceeds a wide terminal.
    .wrap(Math.max(process.stdout.columns || 0, 120))
    .version(false)
    .parse();
}

export function checkGzipLevel(level: number): number {
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new UserError(`invalid --gzip-level ${level}: use 0 to 9`);
  return level;
}

export function checkRunId(run: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(run) || run.includes('..')) {
    throw new UserError(`invalid run id ${JSON.stringify(run)}: use letters, digits, '.', '_' and '-' (no '/', no '..')`);
  }
  return run;
}

export function checkConcurrency(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UserError(`invalid concurrency ${n}: use a whole number from 1 to 64`);
  return n;
}

/** The storage rooted at `<store>/<run>/`. */
export function runStorage(store: string, run: string): Storage {
  return openStorage(store).sub(checkRunId(run));
}
