// `make report`: the whole run as the stages recorded it in <run>/report.json
// (extract → transform → load → verify), rendered like the plan: a terminal
// table and a self-contained report.html with a chart of time per stage.
import { formatBytes } from '../lib/log.ts';
import type { RunReport, StageName, StageRecord } from '../lib/run-report.ts';
import { PAGE_STYLE, barChart, escapeHtml } from './render-html.ts';

const STAGES: StageName[] = ['extract', 'transform', 'load', 'verify'];
const STAGE_COLOUR = '#2b6cb0';

export interface RunSummary {
  run_id: string;
  /** The latest record of each stage that ran, and how many earlier records it has. */
  stages: { record: StageRecord; earlier: number }[];
  /** The latest verify's checks, each PASS (ok) or FAIL. */
  checks: { name: string; ok: boolean }[];
  /** Per table, the latest counts each stage recorded (a `TABLE=` rerun overrides only its tables), and where it stands. */
  tables: { name: string; counts: Record<string, number>; state: TableState }[];
}

/** Where a table stands: PASS (verified since its last load), FAIL (a check or a count disagrees), or the step it waits for. */
export interface TableState { verdict: 'PASS' | 'FAIL' | 'pending'; text: string }

/** The columns of the per-table view: which stage's count, under which heading. */
const TABLE_COLUMNS: [StageName, string, string][] = [
  ['extract', 'rows', 'rows'], ['extract', 'csv_bytes', 'CSV'], ['transform', 'items_out', 'items'],
  ['transform', 'rejected', 'rejected'], ['transform', 'dropped', 'dropped'], ['transform', 'ddb_bytes', 'DDB bytes'],
  ['load', 'written', 'loaded'],
];

/** A record speaks for a table when it counted it, or (verify) when it checked the whole run or named the table. */
function covers(record: StageRecord, table: string): boolean {
  if (record.tables[table]) return true;
  return record.stage === 'verify' && (!record.tables_selected || record.tables_selected.includes(table));
}

// Array.prototype.findLastIndex is ES2023; the project targets ES2022.
function lastIndex<T>(xs: T[], f: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i]!)) return i;
  return -1;
}

function tableState(report: RunReport, table: string, counts: Record<string, number>): TableState {
  const last = (stage: StageName) => lastIndex(report.stages, (r) => r.stage === stage && covers(r, table));
  const [transformed, loaded, verified] = [last('transform'), last('load'), last('verify')];
  const items = counts['transform.items_out'];
  const written = counts['load.written'];
  if (loaded > transformed && written !== undefined && items !== undefined && written !== items) return { verdict: 'FAIL', text: `loaded ${written} of ${items} items` };
  if (verified >= 0 && verified > loaded && verified > transformed) {
    const record = report.stages[verified]!;
    if (record.tables[table]?.count_ok === 0) return { verdict: 'FAIL', text: 'item count differs from the run (verify)' };
    return record.ok ? { verdict: 'PASS', text: 'verified' } : { verdict: 'FAIL', text: 'verify failed (see the checks)' };
  }
  if (loaded >= 0 && loaded > transformed) return { verdict: 'pending', text: verified >= 0 ? 'reloaded since verify: verify again' : 'loaded, not verified' };
  if (transformed >= 0) return { verdict: 'pending', text: loaded >= 0 ? 'transformed again since load: load again' : 'transformed, not loaded' };
  return { verdict: 'pending', text: 'extracted, not transformed' };
}

export function summarise(report: RunReport): RunSummary {
  const stages = STAGES.flatMap((stage) => {
    const records = report.stages.filter((r) => r.stage === stage);
    return records.length ? [{ record: records.at(-1)!, earlier: records.length - 1 }] : [];
  });
  const tables = new Map<string, Record<string, number>>();
  for (const record of report.stages) {
    for (const [name, counts] of Object.entries(record.tables)) {
      const row = tables.get(name) ?? {};
      for (const [key, value] of Object.entries(counts)) row[`${record.stage}.${key}`] = value;
      tables.set(name, row);
    }
  }
  return {
    run_id: report.run_id,
    stages,
    checks: report.stages[lastIndex(report.stages, (r) => r.stage === 'verify')]?.checks ?? [],
    tables: [...tables].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, counts]) => ({ name, counts, state: tableState(report, name, counts) })),
  };
}

/** A `TABLE=` rerun's scope, so a partial record is not read as the whole run's. */
function scopeText(record: StageRecord): string {
  return record.tables_selected ? `TABLE=${record.tables_selected.join(',')} only` : 'all tables';
}

function cell(stage: StageName, key: string, counts: Record<string, number>): string {
  const value = counts[`${stage}.${key}`];
  if (value === undefined) return '-';
  return key.endsWith('bytes') ? formatBytes(value) : String(value);
}

function totalsText(record: StageRecord): string {
  return Object.entries(record.totals).map(([k, v]) => `${k} ${k.endsWith('bytes') ? formatBytes(v) : v}`).join(', ');
}

export function renderRunTerminal(summary: RunSummary): string {
  const lines = [`run ${summary.run_id}: ${summary.stages.map((s) => s.record.stage).join(' → ') || 'no stage has run'}`, ''];
  if (summary.checks.length) {
    lines.push('checks (latest verify):', ...summary.checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}`), '');
  }
  for (const { record, earlier } of summary.stages) {
    lines.push(`${record.stage.padEnd(10)} ${record.ok ? 'ok  ' : 'FAIL'} ${`${record.seconds.toFixed(1)} s`.padStart(9)}  ${record.finished_at}  ${scopeText(record)}: ${totalsText(record)}${earlier ? ` (+${earlier} earlier)` : ''}`);
  }
  if (summary.tables.length) {
    const header = ['table', 'state', ...TABLE_COLUMNS.map(([, , h]) => h)];
    const rows = summary.tables.map((t) => [t.name, `${t.state.verdict === 'pending' ? '' : `${t.state.verdict} `}${t.state.text}`, ...TABLE_COLUMNS.map(([stage, key]) => cell(stage, key, t.counts))]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const format = (r: string[]) => r.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    lines.push('', format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(format));
  }
  const warnings = summary.stages.flatMap(({ record }) => record.warnings.map((w) => `${record.stage}: ${w}`));
  if (warnings.length) lines.push('', 'notes:', ...warnings.map((w) => `  ${w}`));
  return `${lines.join('\n')}\n`;
}

export function renderRunHtml(summary: RunSummary): string {
  const chart = barChart('stage-seconds', 'Time per stage (seconds)', summary.stages.map(({ record }) => ({
    label: record.stage, value: record.seconds, text: `${record.seconds.toFixed(1)} s${record.ok ? '' : ' (failed)'}`, colour: STAGE_COLOUR,
  })));
  const stageRows = summary.stages.map(({ record, earlier }) =>
    `<tr><td>${record.stage}</td><td class="${record.ok ? '' : 'warn'}">${record.ok ? 'ok' : 'FAILED'}</td><td class="scope">${escapeHtml(scopeText(record))}</td><td>${record.seconds.toFixed(1)} s</td><td>${escapeHtml(record.finished_at)}</td><td>${escapeHtml(totalsText(record))}${earlier ? ` (+${earlier} earlier)` : ''}</td></tr>`).join('\n');
  const checkRows = summary.checks.map((c) =>
    `<tr><td class="${c.ok ? 'pass' : 'warn'}">${c.ok ? 'PASS' : 'FAIL'}</td><td>${escapeHtml(c.name)}</td></tr>`).join('\n');
  const verdict = (s: TableState) => `<td class="${s.verdict === 'PASS' ? 'pass' : s.verdict === 'FAIL' ? 'warn' : ''}">${s.verdict === 'pending' ? '' : `${s.verdict} `}${escapeHtml(s.text)}</td>`;
  const tableRows = summary.tables.map((t) =>
    `<tr><td>${escapeHtml(t.name)}</td>${verdict(t.state)}${TABLE_COLUMNS.map(([stage, key]) => `<td>${escapeHtml(cell(stage, key, t.counts))}</td>`).join('')}</tr>`).join('\n');
  const notes = summary.stages.flatMap(({ record }) => record.warnings.map((w) => `<li>${record.stage}: ${escapeHtml(w)}</li>`)).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Run ${escapeHtml(summary.run_id)}</title>
${PAGE_STYLE}
</head>
<body>
<h1>Run ${escapeHtml(summary.run_id)}</h1>
<h2 id="checks">Checks</h2>
${checkRows ? `<table><thead><tr><th>result</th><th>check (latest verify)</th></tr></thead><tbody>
${checkRows}
</tbody></table>` : '<p>No verify has run: make verify.</p>'}
<h2 id="tables">Tables</h2>
<table><thead><tr><th>table</th><th>state</th>${TABLE_COLUMNS.map(([, , h]) => `<th>${h}</th>`).join('')}</tr></thead><tbody>
${tableRows}
</tbody></table>
<h2>Stages</h2>
<table><thead><tr><th>stage</th><th>result</th><th>scope</th><th>time</th><th>finished</th><th>totals</th></tr></thead><tbody>
${stageRows}
</tbody></table>
${chart}
${notes ? `<h2>Notes</h2><ul>${notes}</ul>` : ''}
</body>
</html>
`;
}
