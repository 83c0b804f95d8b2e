// What each fault case ended in, for the fault table (scripts/fault-table.ts:
// `make test-faults`, and .ci/run from its first `make test`): one JSON line per
// case appended to $FAULT_TABLE_FILE when the test ends, with whether its
// assertions passed. Without FAULT_TABLE_FILE (a plain `npx ava`) it does nothing.
import { appendFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';

export interface FaultRecord {
  fault: string;
  stage: string;
  /** `completed`, or how it stopped: `exit 1: <the one-line error>`; `; rerun completed` when a rerun finished the job. */
  outcome: string;
  rows_in?: number;
  items_out?: number;
  rejected?: number;
  /** The end state equals a clean run's (absent: nothing to compare, e.g. a refusal). */
  identical?: boolean;
}

export interface FaultLine extends FaultRecord { test: string; passed: boolean }

/** Titles of this file's tests that recorded their case. */
const recorded = new Set<string>();

export function recordFault(t: ExecutionContext, record: FaultRecord): void {
  const file = process.env.FAULT_TABLE_FILE;
  if (!file) return;
  recorded.add(t.title);
  // In teardown, t.passed says whether every assertion of the test held.
  t.teardown(() => {
    const line: FaultLine = { ...record, test: t.title, passed: t.passed };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  });
}

/**
 * A test whose assertion failed stops there (ava throws on a failed
 * assertion), before it records its case: it gets a row of its own here, in
 * every file that imports this one (the fault test files), so the table shows
 * it whatever reporter the run used. ava names the hook `afterEach.always hook
 * for <the test's title>`; it runs after the test's teardowns.
 */
const HOOK_TITLE = /^afterEach\.always hook for /;
test.afterEach.always((t) => {
  const file = process.env.FAULT_TABLE_FILE;
  const title = t.title.replace(HOOK_TITLE, '');
  if (!file || t.passed || recorded.has(title)) return;
  const line: FaultLine = { fault: title, stage: '?', outcome: 'the test failed before recording its case: see the report above', test: title, passed: false };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
});

/**
 * A CLI's end as a table cell: `completed`, or the exit status and its
 * one-line error without the `<stage>: error: ` prefix, with the test's temp
 * paths (`replace`) shortened to names such as `<store>`.
 */
export function exitOutcome(result: { code: number | null; stderr: string }, replace: Record<string, string> = {}): string {
  if (result.code === 0) return 'completed';
  // The error line (load says its mode first), else the first line.
  const lines = result.stderr.trim().split('\n');
  let line = lines.find((l) => /^\S+: error: /.test(l)) ?? lines[0] ?? '';
  line = line.replace(/^\S+: error: /, '');
  for (const [from, to] of Object.entries(replace)) line = line.split(from).join(to);
  return `exit ${result.code}: ${line}`;
}

/** rows in / items out / rejected from a transform CLI's JSON summary (stdout), when it printed one. */
export function transformCounts(stdout: string): Pick<FaultRecord, 'rows_in' | 'items_out' | 'rejected'> {
  try {
    const { totals } = JSON.parse(stdout) as { totals: { rows_in: number; items_out: number; rejected: number } };
    return { rows_in: totals.rows_in, items_out: totals.items_out, rejected: totals.rejected };
  } catch {
    return {};
  }
}
