// The plan as one self-contained HTML page: inline CSS and inline SVG charts,
// no script, and a Content-Security-Policy that forbids loading anything, so
// it opens the same from a laptop, an S3 download or a CI artifact, offline.
// Charts: DynamoDB item bytes per table, and the cost comparison (one-time
// load three ways; monthly current vs DynamoDB). Keys appear only as entity
// prefix + hash.
import { formatBytes } from '../lib/log.ts';
import type { KeySpaceSummary } from './collections.ts';
import { PRICE_KEYS } from '../lib/cost-model.ts';
import type { Plan } from './plan.ts';
import { formatCount, formatUsd } from './render-terminal.ts';

/** Bar colours: distinct, so a screenshot test can find each chart's bars. */
export const CHART_COLOURS = {
  itemBytes: '#2b6cb0',
  importTable: '#2f855a',
  batchWrite: '#c05621',
  dms: '#6b46c1',
  current: '#718096',
  dynamodb: '#d69e2e',
} as const;

const WIDTH = 1040;
const LABEL_WIDTH = 230;
const VALUE_WIDTH = 190;
const BAR_HEIGHT = 18;
const ROW_HEIGHT = 24;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Bar { label: string; value: number; text: string; colour: string }

/** Horizontal bars on one linear scale; a non-zero value is at least 2 px wide so it stays visible. */
export function barChart(id: string, title: string, bars: Bar[]): string {
  const plotWidth = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const max = Math.max(...bars.map((b) => b.value), 0);
  const top = 30;
  const height = top + bars.length * ROW_HEIGHT + 10;
  const rows = bars.map((b, i) => {
    const y = top + i * ROW_HEIGHT;
    const width = max > 0 && b.value > 0 ? Math.max(2, Math.round((b.value / max) * plotWidth)) : 0;
    return `<text x="${LABEL_WIDTH - 8}" y="${y + 14}" text-anchor="end">${escapeHtml(b.label)}</text>`
      + `<rect x="${LABEL_WIDTH}" y="${y}" width="${width}" height="${BAR_HEIGHT}" fill="${b.colour}" shape-rendering="crispEdges"><title>${escapeHtml(`${b.label}: ${b.text}`)}</title></rect>`
      + `<text x="${LABEL_WIDTH + width + 6}" y="${y + 14}">${escapeHtml(b.text)}</text>`;
  }).join('\n');
  return `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(title)}">
<text x="0" y="18" class="chart-title">${escapeHtml(title)}</text>
<line x1="${LABEL_WIDTH}" y1="${top - 4}" x2="${LABEL_WIDTH}" y2="${height - 6}" stroke="#a0aec0"/>
${rows}
</svg>`;
}

function keySpaceTable(space: KeySpaceSummary, title: string): string {
  const rows = space.patterns.map((p) => `<tr><td><code>${escapeHtml(p.pattern)}</code></td><td>${formatCount(p.distinct)}</td><td>${formatCount(p.items)}</td><td>${formatBytes(p.bytes)}</td><td>${p.largest ? `<code>${escapeHtml(p.largest.label)}</code>` : ''}</td><td>${formatCount(p.largest?.items ?? 0)}</td><td>${formatBytes(p.largest?.bytes ?? 0)}</td></tr>`).join('\n');
  const largest = space.largest
    ? `largest: <code>${escapeHtml(space.largest.label)}</code>, ${formatCount(space.largest.items)} items, ${formatBytes(space.largest.bytes)} (${(space.largest_share * 100).toFixed(1)}% of items)`
    : 'no keys';
  return `<h3>${escapeHtml(title)}</h3>
<p>${formatCount(space.distinct)} distinct values over ${formatCount(space.items)} items${space.exact ? '' : ' (approximate)'}; ${largest}</p>
<table><thead><tr><th>key pattern</th><th>distinct</th><th>items</th><th>bytes</th><th>largest key</th><th>its items</th><th>its bytes</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

/** The page style plan.html and report.html share. */
export const PAGE_STYLE = `<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 20px 30px; color: #1a202c; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 22px 0 6px; } h3 { font-size: 15px; margin: 14px 0 4px; }
.chart text { font: 12px system-ui, sans-serif; fill: #1a202c; } .chart .chart-title { font-weight: 600; font-size: 14px; }
table { border-collapse: collapse; margin: 6px 0; } th, td { padding: 2px 8px; border-bottom: 1px solid #e2e8f0; text-align: right; }
th:first-child, td:first-child { text-align: left; } tr.total td { font-weight: 600; border-top: 2px solid #4a5568; }
tr.assumption td { background: #fffaf0; } table.notes td:last-child { text-align: left; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 6px 0; }
.warn { color: #9b2c2c; } .pass { color: #276749; } .muted { color: #4a5568; }
</style>`;

export function renderHtml(plan: Plan): string {
  const c = plan.cost;
  const bytesChart = barChart('chart-item-bytes', 'DynamoDB item bytes per table', [...plan.tables]
    .sort((a, b) => b.ddb_bytes - a.ddb_bytes || (a.name < b.name ? -1 : 1))
    .map((t) => ({ label: t.name, value: t.ddb_bytes, text: `${formatBytes(t.ddb_bytes)}, ${formatCount(t.items)} items`, colour: CHART_COLOURS.itemBytes })));
  const oneTimeChart = barChart('chart-one-time', `One-time load of ${formatCount(plan.totals.items)} items (USD)`, [
    { label: 'ImportTable', value: c.one_time.import_table_usd, text: formatUsd(c.one_time.import_table_usd), colour: CHART_COLOURS.importTable },
    { label: 'BatchWriteItem', value: c.one_time.batch_write_usd, text: `${formatUsd(c.one_time.batch_write_usd)} (${formatCount(c.one_time.batch_write_units)} WRU)`, colour: CHART_COLOURS.batchWrite },
    { label: 'AWS DMS (assumed rate)', value: c.one_time.dms_usd, text: formatUsd(c.one_time.dms_usd), colour: CHART_COLOURS.dms },
  ]);
  const monthlyChart = barChart('chart-monthly', 'Monthly cost (USD)', [
    { label: 'current database', value: c.monthly.current_usd, text: formatUsd(c.monthly.current_usd), colour: CHART_COLOURS.current },
    { label: 'DynamoDB on-demand', value: c.monthly.total_usd, text: formatUsd(c.monthly.total_usd), colour: CHART_COLOURS.dynamodb },
  ]);

  const indexNames = Object.keys(plan.totals.index_items);
  const sizeRow = (name: string, t: Omit<Plan['tables'][number], 'name'>, cls = '') => `<tr${cls}><td>${escapeHtml(name)}</td><td>${formatCount(t.rows_in)}</td><td>${formatCount(t.items)}</td><td>${formatBytes(t.avg_item_bytes)}</td><td>${t.p99_item_bytes === null ? '–' : formatBytes(t.p99_item_bytes)}</td><td>${formatBytes(t.max_item_bytes)}</td><td>${formatBytes(t.raw_bytes)}</td><td>${formatBytes(t.gzip_bytes)}</td><td>${formatBytes(t.ddb_bytes)}</td><td>${formatCount(t.write_units)}${t.figures === 'exact' ? '' : t.figures === 'sampled' ? ' ~' : ' *'}</td>${indexNames.map((n) => `<td>${formatCount(t.index_items[n] ?? 0)}</td>`).join('')}</tr>`;
  const sizes = `<table><thead><tr><th>table</th><th>rows</th><th>items</th><th>avg</th><th>p99</th><th>max</th><th>raw JSON</th><th>gzip</th><th>DDB bytes</th><th>WRU</th>${indexNames.map((n) => `<th>in ${escapeHtml(n)}</th>`).join('')}</tr></thead>
<tbody>${plan.tables.map((t) => sizeRow(t.name, t)).join('\n')}
${sizeRow('TOTAL', plan.totals, ' class="total"')}</tbody></table>`;

  const money = (label: string, usd: number, note = '') => `<tr><td>${escapeHtml(label)}</td><td>${formatUsd(usd)}</td><td>${escapeHtml(note)}</td></tr>`;
  const costTable = `<table class="notes"><tbody>
${money('ImportTable', c.one_time.import_table_usd, `${formatBytes(plan.totals.raw_bytes)} uncompressed at ${formatUsd(c.prices.import_per_gb.usd)}/GB`)}
${money('BatchWriteItem', c.one_time.batch_write_usd, `${formatCount(c.one_time.batch_write_units)} WRU including GSI writes`)}
${money('AWS DMS', c.one_time.dms_usd, `${c.workload.dms_hours} instance-hours (assumed) + the same WRUs`)}
${money('table storage / month', c.monthly.storage_usd)}
${money('GSI storage / month', c.monthly.gsi_storage_usd)}
${c.workload.pitr ? money('PITR / month', c.monthly.pitr_usd) : ''}
${money('reads / month', c.monthly.reads_usd, `${c.monthly.read_units_per_read.toFixed(2)} RRU per read`)}
${money('writes / month', c.monthly.writes_usd, `${c.monthly.write_units_per_write.toFixed(2)} WRU per write`)}
${money('DynamoDB total / month', c.monthly.total_usd, `${formatCount(c.workload.requests_per_day)} requests/day`)}
${money('current / month', c.monthly.current_usd)}
${money('savings / month', c.monthly.savings_usd)}
</tbody></table>`;
  const prices = `<table class="notes"><thead><tr><th>price</th><th>USD</th><th>unit</th><th>as of</th><th>source</th></tr></thead><tbody>
${PRICE_KEYS.map((k) => { const p = c.prices[k]; return `<tr${p.assumption ? ' class="assumption"' : ''}><td>${k}</td><td>${p.usd}</td><td>${escapeHtml(p.unit)}</td><td>${escapeHtml(p.as_of)}</td><td>${p.assumption ? '<strong>assumption</strong>: ' : ''}${escapeHtml(p.source)}</td></tr>`; }).join('\n')}
</tbody></table>`;

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>pg2ddb plan: ${escapeHtml(plan.run_id)}</title>
${PAGE_STYLE}
</head>
<body>
<h1>Migration plan for run ${escapeHtml(plan.run_id)}</h1>
<p class="muted">snapshot ${escapeHtml(plan.as_of)} · ${formatCount(plan.totals.items)} items in ${plan.tables.length} tables · ${formatBytes(plan.totals.ddb_bytes)} by DynamoDB's rules · region ${escapeHtml(c.region)}${plan.ready_for_load ? '' : ' · <strong class="warn">not ready for load</strong>'}</p>
${bytesChart}
${oneTimeChart}
${monthlyChart}
<h2>Sizes per table</h2>
${sizes}
<p class="muted">WRU: Σ ceil(item KB), one write of every item to the base table (~ sampled, * estimated).</p>
<h2>Item collections and GSI keys</h2>
${plan.collections ? keySpaceTable(plan.collections, 'Item collections (PK)') : '<p>No item was read (--sample 0).</p>'}
${plan.indexes.map((ix) => keySpaceTable(ix, `GSI key ${ix.attribute}`)).join('\n')}
<h2>Cost</h2>
${costTable}
<h3>Prices (${escapeHtml(c.region)})</h3>
${prices}
<h3>Assumptions</h3>
<ul>${c.assumptions.map((a) => `<li>${escapeHtml(a)}</li>`).join('\n')}</ul>
<h2>Warnings</h2>
${plan.warnings.length === 0 ? '<p>None.</p>' : `<ul class="warn">${plan.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('\n')}</ul>`}
</body>
</html>
`;
}
