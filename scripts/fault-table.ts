// The fault table of issue 5: one row per fault, bad-input and secrets case
// (the ava files below): fault, stage, outcome, rows in / items out /
// rejected, identical to a clean run, and whether the test's assertions held.
// Each case writes its row itself (test/fault-table.ts) to $FAULT_TABLE_FILE.
//
//   `make test-faults`: runs those files on the stack the caller started, then
//   prints the table; exits with ava's status.
//   `fault-table.ts --rows <file>`: prints the table of the rows a run already
//   recorded (.ci/run's first `make test`, run with FAULT_TABLE_FILE=<file>),
//   so CI shows the table without running the cases a third time; exits 1 when
//   a case failed or none was recorded.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultLine } from '../test/fault-table.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export const FAULT_TEST_FILES = [
  'test/faults-extract.test.ts',
  'test/faults-ddl.test.ts',
  'test/extract-sources.test.ts',
  'test/faults-load.test.ts',
  'test/transform.test.ts',
  'test/faults-s3.test.ts',
  'test/faults-dynamodb.test.ts',
  'test/faults-tamper.test.ts',
  'test/faults-disk.test.ts',
  'test/faults-leftovers.test.ts',
  'test/hostile-input.test.ts',
  'test/write-rules.test.ts',
  'test/secrets.test.ts',
];

/** Runs ava, its report passed through; resolves with its exit status. */
function runAva(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['ava', ...files], { cwd: REPO, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const cell = (value: number | boolean | undefined): string =>
  value === undefined ? '-' : typeof value === 'boolean' ? (value ? 'yes' : 'NO') : String(value);

/** A long error (a table list, a path) is cut for the table; the test's own report has it whole. */
const OUTCOME_MAX = 140;
const cut = (text: string) => (text.length > OUTCOME_MAX ? `${text.slice(0, OUTCOME_MAX - 1)}…` : text);

/** Aligned columns; the last one, the outcome, is not padded. */
export function faultTable(lines: FaultLine[]): string {
  const header = ['fault', 'stage', 'rows in', 'items out', 'rejected', 'identical', 'test', 'outcome'];
  const rows = lines.map((l) => [
    l.fault, l.stage, cell(l.rows_in), cell(l.items_out), cell(l.rejected), cell(l.identical), l.passed ? 'pass' : 'FAIL', cut(l.outcome),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = new Set([2, 3, 4]);
  const format = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [format(header), widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? header[i]!.length : w)).join('  '), ...rows.map(format)].join('\n');
}

/** The recorded rows (a test that failed before recording its case has a row too), in pipeline order of their first stage. */
async function recordedLines(file: string): Promise<FaultLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  // Files run in parallel: rows in pipeline order of their first stage, then as recorded.
  const order = ['extract', 'transform', 'load', 'verify'];
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FaultLine)
    .sort((a, b) => order.indexOf(a.stage.split(/[ ,]/)[0]!) - order.indexOf(b.stage.split(/[ ,]/)[0]!));
}

/** Prints the table and its count line; returns how many cases failed. */
function printTable(lines: FaultLine[], ending: string): number {
  process.stdout.write(`\n${faultTable(lines)}\n\n`);
  const failed = lines.filter((l) => !l.passed).length;
  process.stdout.write(`${lines.length} case(s), ${failed} failed${ending}\n`);
  return failed;
}

const args = process.argv.slice(2);
if (args[0] === '--rows') {
  if (!args[1]) throw new Error('usage: fault-table.ts [--rows <file FAULT_TABLE_FILE named>]');
  const lines = await recordedLines(args[1]);
  const failed = printTable(lines, '');
  process.exitCode = lines.length === 0 || failed > 0 ? 1 : 0;
} else {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-fault-table-'));
  const file = path.join(dir, 'faults.jsonl');
  try {
    const code = await runAva(FAULT_TEST_FILES, { ...process.env, FAULT_TABLE_FILE: file });
    printTable(await recordedLines(file), `; ava exited ${code}`);
    process.exitCode = code;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
