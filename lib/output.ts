// What a stage prints when it ends, for people and for scripts. stdout holds
// exactly one JSON document when --json is given or stdout is not a terminal
// (a pipe, a file, a test): scripts never parse prose. People read stderr:
// a dry run's plan always, and on a terminal a one-line summary with the next
// command. --json leaves stderr to progress, warnings and errors.
import type { Argv } from 'yargs';

export function jsonOption<T>(argv: Argv<T>) {
  return argv.option('json', {
    type: 'boolean',
    default: false,
    describe: 'Print only the result as one JSON document on stdout (also the default when stdout is not a terminal)',
  });
}

export interface Output { json: boolean }

/** The stage's result: the JSON document on stdout (scripts), and its summary lines on stderr (people, on a terminal). */
export function emitResult(stage: string, output: Output, doc: unknown, summary: string[] = []): void {
  if (output.json || !process.stdout.isTTY) process.stdout.write(`${JSON.stringify(doc)}\n`);
  emitSummary(stage, output, summary);
}

/** Lines for people: on stderr when it is a terminal and --json was not given. */
export function emitSummary(stage: string, output: Output, summary: string[]): void {
  if (output.json || !process.stderr.isTTY) return;
  for (const line of summary) process.stderr.write(`${stage}: ${line}\n`);
}

/** A dry run's plan: on stderr whether or not it is a terminal (it is what the dry run is for), then the JSON. */
export function emitDryRun(stage: string, output: Output, plan: unknown, lines: string[]): void {
  if (!output.json) for (const line of lines) process.stderr.write(`${stage}: ${line}\n`);
  if (output.json || !process.stdout.isTTY) process.stdout.write(`${JSON.stringify(plan)}\n`);
}

/**
 * `TABLE=a,b` as a shell word: a PostgreSQL table name may hold a space or a
 * quote, and the printed command must work when pasted.
 */
export function tableWord(names: string[]): string {
  const value = names.join(',');
  return /^[A-Za-z0-9_.,-]+$/.test(value) ? `TABLE=${value}` : `TABLE='${value.replace(/'/g, `'\\''`)}'`;
}

/** The make command that continues this run: its RUN, and STORE / TABLE when they are not what the environment already says. */
export function makeCommand(target: string, args: { store: string; run: string; table?: string[] }, extra: string[] = []): string {
  const words = [`make ${target}`, `RUN=${args.run}`];
  if (args.store !== (process.env.STORE || './out')) words.push(`STORE=${args.store}`);
  const tables = (args.table ?? []).filter((t) => t !== '');
  if (tables.length > 0 && tables.join(',') !== process.env.TABLE) words.push(tableWord(tables));
  return [...words, ...extra].join(' ');
}

export const seconds = (s: number) => `${s.toFixed(1)} s`;

/**
 * Where to open a page the stage wrote to the store: a file:// address for a
 * local store, else the `aws s3 cp` line that fetches it.
 */
export function whereToOpen(runUri: string, key: string): string {
  const uri = `${runUri}/${key}`;
  if (uri.startsWith('file://')) return `open ${uri}`;
  return `fetch it to open it: aws s3 cp ${uri} ./${key.slice(key.lastIndexOf('/') + 1)}`;
}
