// The plan as a terminal report: one table of sizes per source table with a
// total, then collections, GSI keys, the cost comparison, prices and warnings.
// Keys appear only as entity prefix + hash (collections.ts).
import { formatBytes } from '../lib/log.ts';
import type { KeySpaceSummary } from './collections.ts';
import { PRICE_KEYS } from '../lib/cost-model.ts';
import type { Plan, TablePlan } from './plan.ts';

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Dollars: cents for ordinary sums, significant digits for the tiny costs of small runs. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0.00';
  const sign = usd < 0 ? '-' : '';
  const abs = Math.abs(usd);
  if (abs >= 0.01) return `${sign}$${abs.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  if (abs < 0.000001) return `${sign}<$0.000001`;
  return `${sign}$${abs.toFixed(6).replace(/0+$/, '')}`;
}

function table(header: string[], rows: string[][], rightAligned: (i: number) => boolean): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAligned(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.slice(0, -1).map(line), rule, line(rows[rows.length - 1]!)].join('\n');
}

function sizeRow(name: string, t: Omit<TablePlan, 'name'>): string[] {
  const mark = t.figures === 'exact' ? '' : t.figures === 'sampled' ? ' ~' : ' *';
  return [
    name, formatCount(t.rows_in), formatCount(t.items), formatBytes(t.avg_item_bytes),
    t.p99_item_bytes === null ? '-' : formatBytes(t.p99_item_bytes), formatBytes(t.max_item_bytes),
    formatBytes(t.raw_bytes), formatBytes(t.gzip_bytes), formatBytes(t.ddb_bytes),
    `${formatCount(t.write_units)}${mark}`,
    ...Object.values(t.index_items).map((n) => formatCount(n)),
  ];
}

function keySpaceLines(space: KeySpaceSummary, title: string): string[] {
  const approx = space.exact ? '' : ' (approximate)';
  const lines = [`${title}: ${formatCount(space.distinct)} distinct ${space.attribute} values over ${formatCount(space.items)} items${approx}`];
  if (space.largest) {
    const l = space.largest;
    lines.push(`  largest: ${l.label}  ${formatCount(l.items)} items, ${formatBytes(l.bytes)} (${(space.largest_share * 100).toFixed(1)}% of items)${l.exact ? '' : `, ± ${formatCount(l.error)}`}`);
  }
  for (const p of space.patterns.slice(0, 8)) {
    lines.push(`  ${p.pattern.padEnd(24)} ${formatCount(p.distinct).padStart(10)} values  ${formatCount(p.items).padStart(10)} items  largest ${formatCount(p.largest?.items ?? 0)} items / ${formatBytes(p.largest?.bytes ?? 0)}`);
  }
  if (space.patterns.length > 8) lines.push(`  … ${space.patterns.length - 8} more key patterns (plan.json lists them)`);
  return lines;
}

export function renderTerminal(plan: Plan): string {
  const indexNames = Object.keys(plan.totals.index_items);
  const header = ['table', 'rows', 'items', 'avg', 'p99', 'max', 'raw JSON', 'gzip', 'DDB bytes', 'WRU', ...indexNames.map((n) => `in ${n}`)];
  const rows = [...plan.tables.map((t) => sizeRow(t.name, t)), sizeRow('TOTAL', plan.totals)];
  const out: string[] = [];
  out.push(`plan for run ${plan.run_id} (snapshot ${plan.as_of})${plan.ready_for_load ? '' : ' — NOT READY FOR LOAD'}`);
  out.push(`items read: ${plan.scan.mode === 'manifest' ? 'none (manifest only)' : `${formatCount(plan.scan.items_analysed)} of ${formatCount(plan.scan.items_read)}${plan.scan.mode === 'sample' ? ` (sample ${plan.scan.fraction})` : ''}`}`);
  out.push('');
  out.push(table(header, rows, (i) => i > 0));
  out.push('sizes by DynamoDB\'s rules; WRU = Σ ceil(item KB), one write of every item to the base table (~ sampled, * estimated)');
  out.push('');
  if (plan.collections) {
    out.push(...keySpaceLines(plan.collections, 'Item collections (PK)'));
    out.push('  limit: 10 GB per collection applies only with an LSI (this design has none); a large collection is still one partition key\'s throughput');
    out.push('');
  }
  for (const index of plan.indexes) {
    out.push(...keySpaceLines(index, `GSI key ${index.attribute}`));
    out.push('');
  }

  const c = plan.cost;
  out.push(`Cost (${c.region}, USD)`);
  out.push(`  one-time load of ${formatCount(plan.totals.items)} items:`);
  const best = (k: typeof c.one_time.cheapest) => (c.one_time.cheapest === k ? '  <- cheapest' : '');
  out.push(`    ImportTable      ${formatUsd(c.one_time.import_table_usd).padStart(14)}  ${formatBytes(plan.totals.raw_bytes)} uncompressed at ${formatUsd(c.prices.import_per_gb.usd)}/GB${best('import_table')}`);
  out.push(`    BatchWriteItem   ${formatUsd(c.one_time.batch_write_usd).padStart(14)}  ${formatCount(c.one_time.batch_write_units)} WRU incl. GSI writes${best('batch_write')}`);
  out.push(`    AWS DMS          ${formatUsd(c.one_time.dms_usd).padStart(14)}  ${c.workload.dms_hours} instance-hours (${formatUsd(c.one_time.dms_instance_usd)}, assumed) + the same WRUs${best('dms')}`);
  out.push('  monthly, on-demand:');
  out.push(`    table storage    ${formatUsd(c.monthly.storage_usd).padStart(14)}`);
  out.push(`    GSI storage      ${formatUsd(c.monthly.gsi_storage_usd).padStart(14)}`);
  if (c.workload.pitr) out.push(`    PITR backups     ${formatUsd(c.monthly.pitr_usd).padStart(14)}`);
  out.push(`    reads            ${formatUsd(c.monthly.reads_usd).padStart(14)}  ${c.monthly.read_units_per_read.toFixed(2)} RRU each`);
  out.push(`    writes           ${formatUsd(c.monthly.writes_usd).padStart(14)}  ${c.monthly.write_units_per_write.toFixed(2)} WRU each (with GSI entries)`);
  out.push(`    DynamoDB total   ${formatUsd(c.monthly.total_usd).padStart(14)}  at ${formatCount(c.workload.requests_per_day)} requests/day`);
  out.push(`    current          ${formatUsd(c.monthly.current_usd).padStart(14)}`);
  out.push(`    savings          ${formatUsd(c.monthly.savings_usd).padStart(14)} per month${c.payback_months !== undefined ? `; the import pays for itself in ${c.payback_months < 0.01 ? 'under a day' : `${c.payback_months.toFixed(2)} months`}` : ''}`);
  out.push('  prices:');
  for (const key of PRICE_KEYS) {
    const p = c.prices[key];
    out.push(`    ${key.padEnd(30)} ${String(p.usd).padStart(8)}  ${p.assumption ? 'ASSUMPTION' : `as of ${p.as_of}`}`);
  }
  out.push('  assumptions:');
  for (const a of c.assumptions) out.push(`    - ${a}`);
  out.push('');
  out.push(plan.warnings.length === 0 ? 'warnings: none' : `warnings (${plan.warnings.length}):`);
  for (const w of plan.warnings) out.push(`  ! ${w}`);
  return `${out.join('\n')}\n`;
}
