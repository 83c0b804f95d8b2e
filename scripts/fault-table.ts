// `make test-faults`: runs every fault, bad-input and secrets case of issue 5
// (the ava files below, on the stack the caller started) and prints one row
// per case: fault, stage, outcome, rows in / items out / rejected, identical
// to a clean run, and whether the test's assertions held. Exits with ava's
// status. Each case writes its row itself (test/fault-table.ts).
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

/** Runs ava with the TAP reporter, passing its output through; resolves with its exit status and output. */
function runAva(files: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; tap: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['ava', '--tap', ...files], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let tap = '';
    child.stdout.on('data', (chunk: Buffer) => { tap += chunk; process.stdout.write(chunk); });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), tap }));
  });
}

/**
 * A test whose assertion failed stops there (ava throws on a failed
 * assertion), before it records its case: it gets a row from ava's report.
 */
function failedWithoutRow(tap: string, lines: FaultLine[]): FaultLine[] {
  const failed = [...tap.matchAll(/^not ok \d+ - (?:.+? › )?(.+?)(?: # .*)?$/gm)].map((m) => m[1]!);
  return failed.filter((title) => !lines.some((l) => l.test === title)).map((title) => ({
    fault: title, stage: '?', outcome: 'the test failed before recording its case: see the report above', test: title, passed: false,
  }));
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

const dir = await mkdtemp(path.join(os.tmpdir(), 'pg2ddb-fault-table-'));
const file = path.join(dir, 'faults.jsonl');
let code: number;
try {
  const ava = await runAva(FAULT_TEST_FILES, { ...process.env, FAULT_TABLE_FILE: file });
  code = ava.code;
  const text = await readFile(file, 'utf8').catch(() => '');
  // Files run in parallel: rows in pipeline order of their first stage, then as recorded.
  const order = ['extract', 'transform', 'load', 'verify'];
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FaultLine)
    .sort((a, b) => order.indexOf(a.stage.split(/[ ,]/)[0]!) - order.indexOf(b.stage.split(/[ ,]/)[0]!));
  lines.push(...failedWithoutRow(ava.tap, lines));
  process.stdout.write(`\n${faultTable(lines)}\n\n`);
  const failed = lines.filter((l) => !l.passed).length;
  process.stdout.write(`${lines.length} case(s), ${failed} failed; ava exited ${code}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
process.exitCode = code;
