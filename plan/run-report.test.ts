import test from 'ava';
import type { RunReport } from '../lib/run-report.ts';
import { renderRunHtml, renderRunTerminal, summarise } from './run-report.ts';

const report: RunReport = {
  format: 'pg2ddb.report/1',
  run_id: 'r1',
  stages: [
    { stage: 'extract', finished_at: '2026-01-01T00:00:01Z', seconds: 2, ok: true, totals: { rows: 30 }, tables: { users: { rows: 10 }, jobs: { rows: 20 } }, warnings: [] },
    { stage: 'transform', finished_at: '2026-01-01T00:00:05Z', seconds: 4, ok: true, totals: { items_out: 29 }, tables: { users: { items_out: 10, rejected: 0 }, jobs: { items_out: 19, rejected: 1 } }, warnings: ['jobs.meta: 1 value(s) kept as S'] },
    // A TABLE=users rerun: only users changes.
    { stage: 'extract', finished_at: '2026-01-01T00:01:00Z', seconds: 1, ok: true, tables_selected: ['users'], totals: { rows: 11 }, tables: { users: { rows: 11 } }, warnings: [] },
    { stage: 'verify', finished_at: '2026-01-01T00:02:00Z', seconds: 3, ok: false, totals: { checks: 3, failed: 1 }, tables: {}, warnings: ['FAILED: counts per entity_type'] },
  ],
};

test('the summary keeps the latest record per stage, in pipeline order, counting earlier ones', (t) => {
  const summary = summarise(report);
  t.deepEqual(summary.stages.map((s) => [s.record.stage, s.record.seconds, s.earlier]), [['extract', 1, 1], ['transform', 4, 0], ['verify', 3, 0]]);
});

test('a TABLE= rerun overrides only its tables', (t) => {
  const tables = summarise(report).tables;
  t.deepEqual(tables.find((x) => x.name === 'users')!.counts, { 'extract.rows': 11, 'transform.items_out': 10, 'transform.rejected': 0 });
  t.deepEqual(tables.find((x) => x.name === 'jobs')!.counts, { 'extract.rows': 20, 'transform.items_out': 19, 'transform.rejected': 1 });
});

test('the terminal table and the HTML show stages, tables, failures and notes', (t) => {
  const summary = summarise(report);
  const text = renderRunTerminal(summary);
  t.regex(text, /^run r1: extract → transform → verify$/m);
  t.regex(text, /^verify +FAIL +3\.0 s/m);
  t.regex(text, /^jobs +FAIL verify failed \(see the checks\) +20 +- +19 +1 /m);
  t.regex(text, /verify: FAILED: counts per entity_type/);
  const html = renderRunHtml(summary);
  t.regex(html, /<svg id="stage-seconds"/);
  t.is((html.match(/<rect /g) ?? []).length, 3);
  t.regex(html, /default-src 'none'/);
  t.regex(html, /jobs\.meta: 1 value\(s\) kept as S/);
});

test('report.html leads with each check PASS/FAIL and each table\'s state, and labels a TABLE= rerun\'s scope', (t) => {
  const run: RunReport = {
    format: 'pg2ddb.report/1',
    run_id: 'r2',
    stages: [
      { stage: 'transform', finished_at: '2026-01-01T00:00:05Z', seconds: 4, ok: true, totals: {}, tables: { users: { items_out: 10 }, jobs: { items_out: 19 }, notes: { items_out: 5 } }, warnings: [] },
      { stage: 'load', finished_at: '2026-01-01T00:00:09Z', seconds: 4, ok: true, totals: {}, tables: { users: { written: 10 }, jobs: { written: 19 }, notes: { written: 4 } }, warnings: [] },
      {
        stage: 'verify', finished_at: '2026-01-01T00:01:00Z', seconds: 3, ok: false, totals: {},
        checks: [{ name: 'counts per entity_type', ok: false }, { name: 'no item the run did not write', ok: true }],
        tables: { users: { count_ok: 1 }, jobs: { count_ok: 0 } }, warnings: [],
      },
      // TABLE=users reloaded after verify: users waits for verify again; the others keep their verdicts.
      { stage: 'load', finished_at: '2026-01-01T00:02:00Z', seconds: 1, ok: true, tables_selected: ['users'], totals: {}, tables: { users: { written: 10 } }, warnings: [] },
    ],
  };
  const summary = summarise(run);
  t.deepEqual(summary.checks, [{ name: 'counts per entity_type', ok: false }, { name: 'no item the run did not write', ok: true }]);
  t.deepEqual(Object.fromEntries(summary.tables.map((x) => [x.name, `${x.state.verdict}: ${x.state.text}`])), {
    jobs: 'FAIL: item count differs from the run (verify)',
    notes: 'FAIL: loaded 4 of 5 items',
    users: 'pending: reloaded since verify: verify again',
  });
  const html = renderRunHtml(summary);
  const at = (needle: string) => html.indexOf(needle);
  t.true(at('<td class="warn">FAIL</td><td>counts per entity_type</td>') > 0);
  t.true(at('<td class="pass">PASS</td><td>no item the run did not write</td>') > 0);
  t.true(at('id="checks"') < at('id="tables"') && at('id="tables"') < at('<h2>Stages</h2>') && at('<h2>Stages</h2>') < at('<svg'), 'checks, then tables, then stages and the chart');
  t.regex(html, /<td>load<\/td><td class="">ok<\/td><td class="scope">TABLE=users only<\/td>/);
  t.regex(renderRunTerminal(summary), /^ {2}FAIL {2}counts per entity_type$/m);
  t.regex(renderRunTerminal(summary), /^load +ok +1\.0 s +\S+ +TABLE=users only: /m);
});
