// `make report`: the whole run as the stages recorded it in <run>/report.json
// (extract → transform → load → verify), rendered like the plan: a terminal
// table and a self-contained report.html with a chart of time per stage.
import { formatBytes } from '../../lib/log.ts';
import type { RunReport, StageName, StageRecord } from '../../lib/run-report.ts';
import { PAGE_STYLE, barChart, escapeHtml } from './render-html.ts';

const STAGES: StageName[] = ['extract', 'transform', 'load', 'verify'];
const STAGE_COLOUR = '#2b6cb0';

export interface RunSummary {
  run_id: string;
  /** The latest record of each stage that ran, and how many earlier records it has. */
  stages: { record: StageRecord; earlier: number }[];
  /** Per table, the latest counts each stage recorded (a `TABLE=` rerun overrides only its tables). */
  tables: { name: string; counts: Record<string, number> }[];
}

/** The columns of the per-table view: which stage's count, under which heading. */
const TABLE_COLUMNS: [StageName, string, string][] = [
  ['extract', 'rows', 'rows'], ['extract', 'csv_bytes', 'CSV'], ['transform', 'items_out', 'items'],
  ['transform', 'rejected', 'rejected'], ['transform', 'dropped', 'dropped'], ['transform', 'ddb_bytes', 'DDB bytes'],
  ['load', 'written', 'loaded'],
];

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
    tables: [...tables].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, counts]) => ({ name, counts })),
  };
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
  for (const { record, earlier } of summary.stages) {
    lines.push(`${record.stage.padEnd(10)} ${record.ok ? 'ok  ' : 'FAIL'} ${`${record.seconds.toFixed(1)} s`.padStart(9)}  ${record.finished_at}  ${totalsText(record)}${earlier ? ` (+${earlier} earlier)` : ''}`);
  }
  if (summary.tables.length) {
    const header = ['table', ...TABLE_COLUMNS.map(([, , h]) => h)];
    const rows = summary.tables.map((t) => [t.name, ...TABLE_COLUMNS.map(([stage, key]) => cell(stage, key, t.counts))]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const format = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
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
    `<tr><td>${record.stage}</td><td class="${record.ok ? '' : 'warn'}">${record.ok ? 'ok' : 'FAILED'}</td><td>${record.seconds.toFixed(1)} s</td><td>${escapeHtml(record.finished_at)}</td><td>${escapeHtml(totalsText(record))}${earlier ? ` (+${earlier} earlier)` : ''}</td></tr>`).join('\n');
  const tableRows = summary.tables.map((t) =>
    `<tr><td>${escapeHtml(t.name)}</td>${TABLE_COLUMNS.map(([stage, key]) => `<td>${escapeHtml(cell(stage, key, t.counts))}</td>`).join('')}</tr>`).join('\n');
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
${chart}
<h2>Stages</h2>
<table><thead><tr><th>stage</th><th>result</th><th>time</th><th>finished</th><th>totals</th></tr></thead><tbody>
${stageRows}
</tbody></table>
<h2>Tables</h2>
<table><thead><tr><th>table</th>${TABLE_COLUMNS.map(([, , h]) => `<th>${h}</th>`).join('')}</tr></thead><tbody>
${tableRows}
</tbody></table>
${notes ? `<h2>Notes</h2><ul>${notes}</ul>` : ''}
</body>
</html>
`;
}
